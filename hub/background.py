"""Periodic work beside the server: signed tree heads and SLA breaches.

A head is published every few seconds when the log has grown, so a verifier always finds a
recent commitment even if nobody asked for one; breaches are checked every
``HUB_SLA_INTERVAL`` seconds. Any number of hosts may run this: a head for a given size is
written once, and breach checks lock the rows they act on.
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


def check_sla_forever(hub: Hub, stop: threading.Event, *, interval: float = 30.0) -> None:
    from hub import escalation

    while not stop.wait(interval):
        try:
            with hub.transaction() as s:
                acted = escalation.check(s, now=hub.now(), signer=hub.signer)
            if acted:
                log.info("SLA: acted on %d case(s)", len(acted))
        except HubError:
            log.warning("SLA check failed this round", exc_info=True)


def start_sla_checker(hub: Hub, *, interval: float = 30.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=check_sla_forever,
        args=(hub, stop),
        kwargs={"interval": interval},
        name="sla-checker",
        daemon=True,
    ).start()
    return stop


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
