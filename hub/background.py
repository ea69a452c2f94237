"""Periodic work an API host runs beside the server: publishing signed tree heads.

A head is published every ``interval`` seconds when the log has grown, so a verifier always
finds a recent commitment even if nobody asked for one. Any number of hosts may run this;
a head for a given size is written once (see ``translog.publish_head``).
"""

from __future__ import annotations

import logging
import threading

from hub.errors import HubError
from hub.exchange import translog
from hub.services import Hub

log = logging.getLogger(__name__)


def publish_heads_forever(hub: Hub, stop: threading.Event, *, interval: float = 5.0) -> None:
    while not stop.wait(interval):
        try:
            with hub.transaction() as s:
                translog.publish_head(s, hub.signer, now=hub.now())
        except HubError:
            log.warning("tree head not published this round", exc_info=True)


def start_head_publisher(hub: Hub, *, interval: float = 5.0) -> threading.Event:
    """Start the publisher thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=publish_heads_forever,
        args=(hub, stop),
        kwargs={"interval": interval},
        name="tree-head-publisher",
        daemon=True,
    ).start()
    return stop
