"""Periodic work beside the server: signed tree heads, SLA breaches, the index's fold.

A head is published every few seconds when the log has grown, so a verifier always finds a
recent commitment even if nobody asked for one; breaches are checked every
``HUB_SLA_INTERVAL`` seconds. Any number of hosts may run this: a head for a given size is
written once, and breach checks lock the rows they act on.

The index's dirty queue is folded every few seconds too (``hub.index_facts``), in batches
of a few thousand cases per transaction: otherwise nothing folds it while nobody reads the
index, and after a big import the first reader would pay for the whole import. A round
skips when another process (or a reader) is folding; readers still fold whatever is left.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

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


FOLD_INTERVAL = 3.0
FOLD_BATCH = 1_000
"""Queued cases per fold transaction: at 1M cases one batch holds the fold's lock for a
fraction of a second (see bench/README.md), so a reader waits at most that long."""


def fold_index_forever(
    hub: Hub, stop: threading.Event, *, interval: float = FOLD_INTERVAL, batch: int = FOLD_BATCH
) -> None:
    from hub.index_facts import fold_in_batches

    while not stop.wait(interval):
        try:
            folded = fold_in_batches(hub.engine, batch=batch, stop=stop.is_set)
            if folded:
                log.debug("index: folded %d case(s)", folded)
        except (HubError, SQLAlchemyError):
            log.warning("index fold failed this round", exc_info=True)


def start_index_folder(
    hub: Hub, *, interval: float = FOLD_INTERVAL, batch: int = FOLD_BATCH
) -> threading.Event:
    """Start the fold thread (PostgreSQL only: SQLite keeps no queue); set the returned
    event to stop it."""
    stop = threading.Event()
    if hub.engine.dialect.name != "postgresql":
        return stop
    threading.Thread(
        target=fold_index_forever,
        args=(hub, stop),
        kwargs={"interval": interval, "batch": batch},
        name="index-folder",
        daemon=True,
    ).start()
    return stop
