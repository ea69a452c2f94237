"""The loops of an adapter service: poll → queue → send, and hub forward → native update.

One :class:`Service` per adapter instance. The main thread runs cycles until SIGTERM:
webhook refreshes, a poll of the native system, sending the outbox, and (pull mode) the hub
inbox; between cycles it waits ``interval`` seconds, or less when a webhook arrives. Errors
that are the other side's (unreachable, 5xx, busy, session refused) end the cycle and the
next one waits longer (exponential backoff with jitter, up to ``backoff_cap``); an error in
one record is that record's (a bad record: counted, kept with its error, retried only when
the record changes) and never stops the loop. Push mode takes the hub's forwards in the web
server's threads (:mod:`.web`); both sides touch the native system under one lock, so a
record is never read half-way through an update the service itself is making.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

from adapters.base import AuthFailed, BadAnswer, LoopRefused, Native, Refused, Unavailable
from adapters.service.changes import Reading, detect
from adapters.service.source import Source
from adapters.service.state import FINAL_INBOUND, OutRow, Record, StateStore
from hub.errors import HubError
from hub.exchange.client import HubClient, HubClientError, Receipt
from hub.exchange.receiver import Forwarded, open_forward
from hub.schema import validate
from hub.vocab import UnmappedValue

log = logging.getLogger("adapters.service")
BAD_RECORD = (UnmappedValue, ValueError, KeyError, TypeError, BadAnswer, Refused)
MAX_STALE = 3


class Transient(Exception):
    """The hub or the native system cannot take this now; try again later."""


class Service:
    """One adapter instance: a source, the agency's hub client, its state file.

    ``batch`` messages go per request to the hub; the outbox is also sent every
    ``send_every`` records polled (default: a batch's worth), so a first poll of thousands
    of records shows in the hub as it goes instead of at the end.
    """

    def __init__(
        self,
        source: Source,
        hub: HubClient,
        store: StateStore,
        *,
        interval: float = 30.0,
        batch: int = 50,
        send_every: int | None = None,
        backoff_cap: float = 300.0,
    ) -> None:
        self.source, self.hub, self.store = source, hub, store
        self.interval, self.batch, self.send_every = interval, batch, send_every or batch
        self.backoff_cap = backoff_cap
        self.stop, self.wake = threading.Event(), threading.Event()
        self.native_lock = threading.RLock()
        self.counts: Counter[str] = Counter()
        self._refresh: deque[str] = deque()
        self._count_lock = threading.Lock()

    # -- the main loop -----------------------------------------------------------------------

    def run(self, *, once: bool = False, pull: bool = False) -> int:
        """Cycles until :attr:`stop` is set (``once``: one cycle). 0, or 1 if the last cycle
        could not reach the hub or the native system."""
        failures, reported = 0, Counter(self.counts)
        while not self.stop.is_set():
            try:
                self.cycle(pull=pull)
                failures, delay = 0, self.interval
                if self.counts != reported:
                    reported = Counter(self.counts)
                    log.info("%s", self.summary())
            except (Transient, Unavailable, AuthFailed) as exc:
                failures += 1
                delay = self._backoff(failures)
                self.count("cycle_errors")
                log.warning("cycle failed (%s)%s", exc, "" if once else f"; next in {delay:.1f} s")
            except Exception:  # a bug or a broken listing: logged in full, the loop goes on
                failures += 1
                delay = self._backoff(failures)
                self.count("cycle_errors")
                log.exception("cycle failed unexpectedly; next in %.1f s", delay)
            if once:
                return 1 if failures else 0
            self.wake.wait(delay)
            self.wake.clear()
        return 0

    def _backoff(self, failures: int) -> float:
        base = min(self.backoff_cap, max(self.interval, 1.0) * 2.0 ** (failures - 1))
        return float(base * random.uniform(0.5, 1.0))

    def cycle(self, *, pull: bool = False) -> None:
        while self._refresh and not self.stop.is_set():
            self.observe(self._refresh.popleft(), None)
        self.poll()
        self.send()
        if pull:
            self.pull_inbox()

    def count(self, what: str, n: int = 1) -> None:
        with self._count_lock:
            self.counts[what] += n

    def summary(self) -> str:
        c = self.counts
        return (
            f"{self.source.name} as {self.source.agency}: native → hub: {c['new']} new records, "
            f"{c['changed']} changed, {c['bad']} bad; sent {c['sent']} messages "
            f"({c['resent']} sent again after an interruption, {c['already']} already at the "
            f"hub under that id), {c['refused']} refused, {c['conflicts']} not applicable "
            "(409: another agency's turn, or the case has moved on); hub → native: "
            f"{c['pushed']} updates, {c['loops']} loops refused, {c['skipped']} skipped, "
            f"{c['bad_in']} bad; {c['cycle_errors']} failed cycles"
        )

    # -- native → hub ------------------------------------------------------------------------

    def poll(self) -> None:
        """One pass over what changed natively; the outbox is sent every ``send_every``
        records (one batch's worth, by default), so a long first poll shows progress."""
        self.source.cursor = self.store.cursor()
        since_send = 0
        for found in self.source.scan(self.store.digest):
            if self.stop.is_set():
                return  # the cursor is saved with each record, never ahead of them
            self.observe(found.ref, found.digest)
            since_send += 1
            if since_send >= self.send_every:
                self.send()
                since_send = 0
        self.store.set_cursor(self.source.cursor)

    def observe(self, ref: str, digest: str | None) -> None:
        """Read one record in full and queue what it means; the record, its messages and the
        cursor are written in one transaction."""
        with self.native_lock:
            try:
                native = self.source.fetch(ref)
            except (Refused, BadAnswer) as exc:
                self._bad(ref, digest, exc)
                return
            try:
                reading, born = self.source.reading(native), self.source.born_here(native)
                base = self.source.message_id(native)
                complaint = self._complaint(native) if born else None
            except BAD_RECORD as exc:
                self._bad(ref, digest, exc)
                return
            with self.store.tx():
                record = self.store.record(ref)
                if record is None or not record.snapshot:  # first sight (or bad until now)
                    case_id = record.case_id if record else None
                    record = Record(ref, "native" if born else "hub", case_id=case_id)
                    if complaint is not None:
                        self.store.enqueue(ref, base, "complaint.submit", complaint)
                        self.count("new")
                    # the hub opens (or made) the case as offered: how far the native record
                    # got is news, e.g. a ticket first seen finished is resolved in the hub
                    opened = {"status": "offered", "reopens": reading.reopens}
                    self._changes(record, opened, reading, base)
                else:
                    self._changes(record, record.snapshot, reading, base)
                record.digest, record.bad = digest or record.digest, None
                self.store.put(record)
                self.store.set_cursor(self.source.cursor)

    def _changes(
        self, record: Record, previous: Mapping[str, Any], reading: Reading, base: str
    ) -> None:
        intents, record.snapshot = detect(previous, reading)
        for intent in intents:
            self.store.enqueue(record.ref, f"{base}.{intent.suffix}", intent.type, intent.body)
        self.count("changed", bool(intents))

    def _complaint(self, native: Native) -> dict[str, Any]:
        body = self.source.complaint(native)
        errors = validate("complaint", body)
        if errors:
            shown = "; ".join(f"{e.pointer} {e.message}" for e in errors[:3])
            raise ValueError(f"the complaint does not match the schema: {shown}")
        return body

    def _bad(self, ref: str, digest: str | None, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("bad record %s: %s", ref, error)
        self.count("bad")
        with self.store.tx():
            record = self.store.record(ref) or Record(ref, "native")
            record.digest, record.bad = digest or record.digest, error
            self.store.put(record)
            self.store.problem("from-native", ref, error)
            self.store.set_cursor(self.source.cursor)

    def send(self) -> None:
        """Send the outbox in order until nothing is ready; the same bytes on every retry."""
        while not self.stop.is_set():
            ready = self._ready()
            if not ready:
                return
            self.store.attempted([row.seq for row, _ in ready])
            try:
                results = self.hub.send_batch([jws for _, jws in ready])
            except HubClientError as exc:
                raise Transient(f"the hub did not take the batch: {exc}") from exc
            transient = False
            for (row, _), result in zip(ready, results, strict=True):
                transient |= self._settle(row, result)
            if transient:
                raise Transient("the hub could not store some messages now")

    def _ready(self) -> list[tuple[OutRow, str]]:
        """Up to one batch of pending messages that can go now, signed, oldest first; a
        record's messages wait behind its complaint, and do not hold up anybody else's."""
        ready: list[tuple[OutRow, str]] = []
        waiting: set[str] = set()
        for row in self.store.pending_rows():
            if len(ready) >= self.batch:
                break
            if row.ref in waiting:
                continue
            case_id = None
            if row.type != "complaint.submit":
                record = self.store.record(row.ref)
                case_id = row.case_id or (record.case_id if record else None)
                if case_id is None:
                    if any(r.ref == row.ref for r, _ in ready):
                        break  # its complaint is in this batch: send that first
                    if (record and record.born == "hub") or self.store.complaint_pending(row.ref):
                        waiting.add(row.ref)  # the hub has not named the case to us yet
                        continue
                    self.store.refused(row.seq, row.ref, "no hub case: its complaint was refused")
                    self.count("refused")
                    continue
            jws = row.jws
            if jws is None:
                body = dict(row.body) | ({"case_id": case_id} if case_id else {})
                jws = self.hub.envelope(row.type, body, id=row.message_id)
                self.store.signed(row.seq, jws, case_id)
            ready.append((row, jws))
        return ready

    def _settle(self, row: OutRow, result: Receipt | HubClientError) -> bool:
        """Record what the hub answered for one message; True if it is worth retrying."""
        if isinstance(result, Receipt):
            with self.store.tx():
                self.store.sent(row.seq, result.case_id)
                if row.type == "complaint.submit":
                    record = self.store.record(row.ref)
                    if record is not None:
                        record.case_id = result.case_id
                        self.store.put(record)
            self.count("sent")
            if self.store.attempts(row.seq) > 1:  # the same bytes: the hub's first receipt
                self.count("resent")
            return False
        if result.type.endswith("/replay"):
            self.store.sent(row.seq, None, "the hub already holds this message id (replay)")
            self.count("already")
            return False
        if result.type.endswith("/stale") and self.store.attempts(row.seq) < MAX_STALE:
            self.store.unsign(row.seq)  # never stored by the hub: sign it anew
            return True
        if result.status == 0 or result.status >= 500 or result.status == 429:
            return True
        detail = f"{result.status} {result.type.rsplit('/', 1)[-1]}: {result}"
        if result.status == 409:  # another agency's turn, or the case has moved on
            log.info("not applicable in the hub: %s (%s): %s", row.message_id, row.type, detail)
            self.store.refused(row.seq, row.ref, f"{row.message_id}: {detail}", state="conflict")
            self.count("conflicts")
            return False
        log.warning("hub refused %s (%s): %s", row.message_id, row.type, detail)
        self.store.refused(row.seq, row.ref, f"{row.message_id}: {detail}")
        self.count("refused")
        return False

    # -- hub → native ------------------------------------------------------------------------

    def on_forward(self, forwarded: Forwarded) -> None:
        """The receiver's callback: handle, or raise Transient so that the hub retries."""
        self.handle(forwarded)

    def seen(self, message_id: str) -> bool:
        """The receiver's seen-store: a forward handled to the end is not handled again."""
        return self.store.inbound(message_id) in FINAL_INBOUND

    def add(self, message_id: str) -> None:
        """The receiver's seen-store: :meth:`handle` has written the journal already."""

    def handle(self, forwarded: Forwarded) -> str:
        """Apply one hub forward to the native system; the journal entry it ends with."""
        mid, message = forwarded.message_id, forwarded.origin
        prior = self.store.inbound(mid)
        if prior in FINAL_INBOUND:
            return str(prior)
        kind = str(message.get("type"))
        body = message.get("body") if isinstance(message.get("body"), Mapping) else {}
        case_id = forwarded.case_id or (body or {}).get("case_id")
        try:
            if kind == "complaint.submit":
                outcome = self._create(mid, message, case_id)
            else:
                outcome = self._update(mid, message, case_id, prior)
        except LoopRefused as exc:
            self.store.set_inbound(mid, "loop", type_=kind, case_id=case_id, detail=str(exc))
            self.count("loops")
            return "loop"
        except (Unavailable, AuthFailed) as exc:
            raise Transient(str(exc)) from exc
        except BAD_RECORD as exc:
            error = f"{kind} {mid}: {type(exc).__name__}: {exc}"
            log.warning("bad hub message: %s", error)
            with self.store.tx():
                self.store.set_inbound(mid, "bad", type_=kind, case_id=case_id, detail=error)
                self.store.problem("to-native", None, error)
            self.count("bad_in")
            return "bad"
        return outcome

    def _create(self, mid: str, message: Mapping[str, Any], case_id: str | None) -> str:
        """A complaint from elsewhere, routed to this agency: a native record for it, once."""
        known = self.store.refs_for_case(case_id) if case_id else []
        if known:  # the case has a native record here already (a duplicate joined it)
            self.store.set_inbound(
                mid,
                "skipped",
                type_="complaint.submit",
                case_id=case_id,
                refs=known,
                detail="the case has a native record here",
            )
            self.count("skipped")
            return "skipped"
        update = self.source.from_hub(message, "")
        with self.native_lock:
            self.store.set_inbound(mid, "pushing", type_="complaint.submit", case_id=case_id)
            ref = self.source.push(update)  # idempotent natively (the hub's id is its key)
            if ref is None:
                raise BadAnswer(self.source.name, "creating the record gave no native id")
            with self.store.tx():
                record = self.store.record(ref) or Record(ref, "hub")
                record.case_id = case_id
                if not record.snapshot:
                    record.snapshot = {"status": self.source.expected(update) or "offered"}
                self.store.put(record)
                self.store.set_inbound(mid, "done", refs=[ref])
        self.count("pushed")
        return "done"

    def _update(
        self, mid: str, message: Mapping[str, Any], case_id: str | None, prior: str | None
    ) -> str:
        kind = str(message.get("type"))
        refs = self.store.refs_for_case(case_id) if case_id else []
        if not refs:
            self.store.set_inbound(
                mid, "skipped", type_=kind, case_id=case_id, detail="no native record for this case"
            )
            self.count("skipped")
            return "skipped"
        updates = [(ref, self.source.from_hub(message, ref)) for ref in refs]  # may LoopRefused
        for ref, update in updates:
            self._apply(mid, kind, case_id, ref, update, in_doubt=prior == "pushing")
        with self.store.tx():
            into = (message.get("body") or {}).get("into")
            if kind == "case.merge" and case_id and into:
                self.store.move_case(case_id, str(into))
            self.store.set_inbound(mid, "done", refs=refs)
        return "done"

    def _apply(
        self,
        mid: str,
        kind: str,
        case_id: str | None,
        ref: str,
        update: Mapping[str, Any],
        *,
        in_doubt: bool,
    ) -> None:
        with self.native_lock:
            if in_doubt and self.source.applied(self.source.fetch(ref), update):
                log.info("%s was applied to %s before a restart; not pushed again", mid, ref)
            else:
                self.store.set_inbound(mid, "pushing", type_=kind, case_id=case_id, refs=[ref])
                self.source.push(update)
                self.count("pushed")
            expected = self.source.expected(update)
            with self.store.tx():
                record = self.store.record(ref)
                if record is not None and expected:
                    record.snapshot = {**record.snapshot, "status": expected}
                    self.store.put(record)

    def pull_inbox(self, limit: int = 100) -> None:
        """Pull mode: the hub's forwards from the inbox, acknowledged once handled."""
        while not self.stop.is_set():
            try:
                waiting = self.hub.pull(limit)
            except HubClientError as exc:
                raise Transient(f"the hub inbox: {exc}") from exc
            if not waiting:
                return
            done: list[dict[str, str]] = []
            try:
                for item in waiting:
                    try:
                        forwarded, _ = open_forward(self.hub, item["jws"].encode("ascii"))
                    except (HubError, KeyError, ValueError) as exc:  # left in the inbox
                        self.store.problem("to-native", None, f"unverifiable forward: {exc}")
                        self.count("bad_in")
                        continue
                    self.handle(forwarded)
                    done.append(item)
            except HubClientError as exc:  # the hub's keys could not be read
                raise Transient(f"verifying a forward: {exc}") from exc
            finally:
                self._ack(done)
            if len(waiting) < limit:
                return

    def _ack(self, done: list[dict[str, str]]) -> None:
        """Acknowledge what was handled; if the hub is away the forwards come again, and the
        journal answers them without touching the native system."""
        if not done:
            return
        try:
            self.hub.ack(done)
        except HubClientError as exc:
            raise Transient(f"acknowledging forwards: {exc}") from exc

    def webhook(self, payload: Any) -> int:
        """Queue the records a native webhook names for a refresh; wake the loop."""
        refs = self.source.webhook(payload)
        self._refresh.extend(refs)
        if refs:
            self.wake.set()
        return len(refs)
