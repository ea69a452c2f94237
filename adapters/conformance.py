"""The conformance kit: does an adapter keep the contract of :mod:`adapters.base`?

``hub adapters check NAME`` runs, and prints a pass/fail table:

a. ``fixtures``   every fixture maps to a complaint the shared schema accepts
b. ``tables``     every native state and category maps to a hub code; an unknown one raises
c. ``round-trip`` hub → native → hub keeps id, category, location, status and times
d. ``property``   generated native records (hypothesis, bounded, derandomised) map and validate
e. ``no-loop``    a message the adapter made itself is refused by ``from_hub``
f. ``end-to-end`` simulator → adapter → live hub (signed, receipt verified) → update pushed
                  back into the simulator; *skipped*, not passed, without a hub client

Why a kit and not only tests: a new system's adapter is written by whoever runs that system;
this is how they (and the hub operator) know it is right before it carries real complaints.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from adapters.base import Adapter, AdapterError, load
from hub.exchange.client import HubClient, HubClientError
from hub.schema import UnmappedValue, categories, statuses, validate

Outcome = Literal["pass", "fail", "skip"]
UNKNOWN = "ค่าที่ไม่มีในตาราง-conformance"
KEPT = ("id", "category", "location")
MAX_DETAILS = 5


@dataclass(frozen=True, slots=True)
class Result:
    check: str
    outcome: Outcome
    detail: str


@dataclass
class Report:
    adapter: str
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed (skipped checks are reported as skipped, not as passed)."""
        return all(r.outcome != "fail" for r in self.results)

    def table(self) -> str:
        width = max(len(r.check) for r in self.results)
        lines = [f"conformance of adapter {self.adapter!r}"]
        lines += [f"  {r.outcome.upper():4}  {r.check:<{width}}  {r.detail}" for r in self.results]
        lines.append("  => " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)

    __str__ = table


def _verdict(name: str, problems: Sequence[str], passed: str) -> Result:
    if not problems:
        return Result(name, "pass", passed)
    shown = "; ".join(problems[:MAX_DETAILS])
    more = f" (+{len(problems) - MAX_DETAILS} more)" if len(problems) > MAX_DETAILS else ""
    return Result(name, "fail", f"{len(problems)} problem(s): {shown}{more}")


def check_fixtures(adapter: Adapter) -> Result:
    problems, count = [], 0
    for name, native in adapter.fixtures():
        count += 1
        try:
            errors = validate("complaint", adapter.to_hub(native))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        problems += [f"{name}: {e.pointer} {e.message}" for e in errors[:2]]
    if count == 0:
        problems.append("the adapter has no fixtures")
    return _verdict("fixtures", problems, f"{count} fixtures map to valid complaints")


def check_tables(adapter: Adapter) -> Result:
    problems = []
    for kind, values, mapper, vocab in (
        ("state", adapter.native_states, adapter.map_state, statuses()),
        ("category", adapter.native_categories, adapter.map_category, categories()),
    ):
        for value in values:
            try:
                if (code := mapper(value)) not in vocab:
                    problems.append(f"{kind} {value!r} → {code!r}, not a hub {kind}")
            except UnmappedValue as exc:
                problems.append(f"{kind} {value!r} is listed but unmapped: {exc}")
        with contextlib.suppress(UnmappedValue):  # raising is the pass
            problems.append(f"unknown {kind} mapped to {mapper(UNKNOWN)!r} instead of raising")
    sizes = f"{len(adapter.native_states)} states, {len(adapter.native_categories)} categories"
    return _verdict("tables", problems, f"{sizes} map; unknown values raise UnmappedValue")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def round_trip_problems(adapter: Adapter, complaint: Mapping[str, Any], status: str) -> list[str]:
    """What hub → native → hub lost for one complaint in one status (empty: nothing)."""
    native = adapter.to_native(complaint, status)
    back = adapter.to_hub(native)
    lost = [
        f"{key} {complaint.get(key)!r} → {back.get(key)!r}"
        for key in KEPT
        if back.get(key) != complaint.get(key)
    ]
    if adapter.status_of(native) != status:
        lost.append(f"status {status!r} → {adapter.status_of(native)!r}")
    if _instant(back["reported_at"]) != _instant(complaint["reported_at"]):
        lost.append(f"reported_at {complaint['reported_at']} → {back['reported_at']}")
    return [f"{complaint['id']} ({status}): {item}" for item in lost]


def check_round_trip(adapter: Adapter) -> Result:
    complaints = [adapter.to_hub(n) for n in adapter.natives()]
    wanted = adapter.round_trip_statuses
    problems: list[str] = []
    pairs = [(complaints[0], s) for s in wanted] if complaints else []
    pairs += [(c, wanted[i % len(wanted)]) for i, c in enumerate(complaints)]
    for complaint, status in pairs:
        try:
            problems += round_trip_problems(adapter, complaint, status)
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{complaint['id']} ({status}): {type(exc).__name__}: {exc}")
    return _verdict("round-trip", problems, f"{len(pairs)} trips over {len(wanted)} statuses")


def check_property(adapter: Adapter, examples: int) -> Result:
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(adapter.generate_native())
    def maps_and_validates(native: dict[str, Any]) -> None:
        complaint = adapter.to_hub(native)
        errors = validate("complaint", complaint)
        assert not errors, [f"{e.pointer} {e.message}" for e in errors]
        assert adapter.status_of(native) in statuses()

    try:
        maps_and_validates()
    except Exception as exc:  # hypothesis re-raises the test's own failure, whatever it is
        notes = " ".join(getattr(exc, "__notes__", []))[:600]
        return Result("property", "fail", f"{type(exc).__name__}: {exc} {notes}".strip())
    return Result("property", "pass", f"{examples} generated records map and validate")


def check_no_loop(adapter: Adapter) -> Result:
    natives = adapter.natives()
    if not natives:
        return Result("no-loop", "fail", "no fixture to build a message from")
    native = natives[-1]
    own = {
        "type": "complaint.submit",
        "id": adapter.message_id(native),
        "body": adapter.to_hub(native),
    }
    try:
        adapter.from_hub(own, adapter.ref_of(native))
    except AdapterError as exc:
        return Result("no-loop", "pass", f"its own message is refused ({type(exc).__name__})")
    return Result("no-loop", "fail", f"message {own['id']!r} from this system would be sent back")


def check_end_to_end(
    adapter: Adapter, client: HubClient | None, hub_url: str | None = None
) -> Result:
    if client is None:  # a skip is reported as such, never as a pass
        why = f"{hub_url} given without a signing key (--key)" if hub_url else "no hub given"
        return Result("end-to-end", "skip", why)
    http = httpx.Client(
        transport=httpx.WSGITransport(app=adapter.simulator()), base_url="http://simulator"
    )
    native_client, run = adapter.client(http), uuid.uuid4().hex[:8]
    try:
        records = list(native_client.poll())
        receipts = [
            client.send("complaint.submit", adapter.to_hub(r), id=f"{adapter.message_id(r)}-{run}")
            for r in records
        ]
        if not records or receipts[0].case_id is None:
            return Result("end-to-end", "fail", "the simulator offered nothing, or no case opened")
        ref = adapter.ref_of(records[0])
        event = {
            "type": "case.status",
            "id": f"conformance-{run}",
            "issuer": "conformance",
            "body": {"case_id": receipts[0].case_id, "note": "conformance kit progress note"},
        }
        native_client.push(adapter.from_hub(event, ref))
        status = adapter.status_of(native_client.fetch(ref))
    except (AdapterError, HubClientError, ValueError) as exc:
        return Result("end-to-end", "fail", f"{type(exc).__name__}: {exc}")
    if status != "in_progress":
        return Result("end-to-end", "fail", f"after a case.status the native record is {status!r}")
    return Result(
        "end-to-end",
        "pass",
        f"{len(receipts)} complaints through the hub, receipts verified, update applied",
    )


def check(
    adapter: Adapter,
    *,
    hub_url: str | None = None,
    client: HubClient | None = None,
    examples: int = 100,
) -> Report:
    """Run every check; a check that crashes is a failure with the exception as its detail."""
    runs: list[tuple[str, Callable[[], Result]]] = [
        ("fixtures", lambda: check_fixtures(adapter)),
        ("tables", lambda: check_tables(adapter)),
        ("round-trip", lambda: check_round_trip(adapter)),
        ("property", lambda: check_property(adapter, examples)),
        ("no-loop", lambda: check_no_loop(adapter)),
        ("end-to-end", lambda: check_end_to_end(adapter, client, hub_url)),
    ]
    report = Report(adapter.name)
    for name, run in runs:
        try:
            report.results.append(run())
        except Exception as exc:  # the kit reports, it does not crash on a broken adapter
            report.results.append(Result(name, "fail", f"crashed: {type(exc).__name__}: {exc}"))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``hub adapters check NAME [--hub-url URL --key AGENCY.private.jwk] [--examples N]``."""
    parser = argparse.ArgumentParser(prog="hub adapters check", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="adapter package under adapters/, e.g. traffy_fondue")
    parser.add_argument("--hub-url", help="a running hub for the end-to-end check")
    parser.add_argument("--key", help="private JWK of an enrolled agency allowed to submit")
    parser.add_argument("--examples", type=int, default=100, help="generated records (default 100)")
    args = parser.parse_args(argv)
    try:
        adapter = load(args.name)
    except KeyError as exc:
        print(f"hub adapters check: {exc.args[0]}", file=sys.stderr)
        return 2
    client = None
    if args.hub_url and args.key:
        from pathlib import Path

        client = HubClient.from_jwk_file(args.hub_url, Path(args.key))
    report = check(adapter, hub_url=args.hub_url, client=client, examples=args.examples)
    print(report.table())
    return 0 if report.ok else 1
