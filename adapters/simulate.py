"""Serve an adapter's simulator on loopback, to try ``hub adapters run`` without the real
system: ``python -m adapters.simulate traffy_fondue --port 5001 [--webhook URL]``.

Credentials are the simulators' own: Traffy ``TRAFFY_USER=hub TRAFFY_PASS=hub-secret``,
1111 ``OPS1111_USER=hub OPS1111_PASS=hub-secret``, a Damrongdhama centre
``DAMRONGDHAMA_API_KEY=centre-secret``, a ministry ``MINISTRY_<CODE>_TOKEN=ministry-secret``.
Each starts with the adapter's fixture records.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from flask import Flask

from adapters.base import load


def app_for(name: str, webhook: str | None) -> Flask:
    if name == "traffy_fondue" and webhook:
        from adapters.traffy_fondue.adapter import SIMULATOR_USER, api_fixtures
        from adapters.traffy_fondue.simulator import create_simulator

        return create_simulator(api_fixtures(), users=SIMULATOR_USER, webhook_url=webhook)
    return load(name).simulator()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adapters.simulate", description=__doc__)
    p.add_argument("name", help="traffy_fondue, ops1111, damrongdhama or ministry:<code>")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001)
    p.add_argument("--webhook", help="Traffy only: where to post its webhook calls")
    args = p.parse_args(argv)
    app_for(args.name, args.webhook).run(host=args.host, port=args.port, threaded=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
