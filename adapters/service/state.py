"""The state file of one adapter service: SQLite, one file per adapter instance.

Why SQLite and not a JSON file: the cursor, the native records' fingerprints, the outbox of
signed messages and the journal of hub messages must change *together* (a record is "seen"
exactly when its messages are queued), and a SIGKILL may land anywhere. One SQLite
transaction per step gives that for free, with its own journal for atomic writes.

Tables::

    meta      format, adapter, agency, native URL — a file is never used for another instance
    cursor    the poll cursor (JSON; what it means is the source's business)
    records   per native record: who made it (native | hub), its hub case, the fingerprint
              of the last listing seen, a snapshot (status, reopens, event counter), and
              the mapping error if it is a bad record
    outbox    messages to the hub in order: type, body, then the exact JWS once signed
              (re-sent byte for byte after a crash), state pending | sent | refused |
              conflict (409: another agency's turn, or the case has moved on)
    inbound   hub messages handled: pushing | done | loop | bad | skipped
    problems  bad records and refused messages, for the report

A file that is not SQLite, fails SQLite's quick check, lacks these tables or holds a cursor
that does not parse raises :class:`StateError` with what to do; nothing is ever silently
reset, because a reset state re-reads everything and forgets which native records the hub
created.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "1"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cursor (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
CREATE TABLE records (
    ref TEXT PRIMARY KEY,
    born TEXT NOT NULL CHECK (born IN ('native', 'hub')),
    case_id TEXT,
    digest TEXT,
    snapshot TEXT NOT NULL,
    bad TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX records_case ON records (case_id);
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ref TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    jws TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'refused', 'conflict')),
    case_id TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX outbox_pending ON outbox (state, seq);
CREATE TABLE inbound (
    message_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    type TEXT,
    case_id TEXT,
    refs TEXT,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE TABLE problems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    direction TEXT NOT NULL,
    ref TEXT,
    error TEXT NOT NULL
);
"""
TABLES = {"meta", "cursor", "records", "outbox", "inbound", "problems"}
FINAL_INBOUND = ("done", "loop", "bad", "skipped")
ADVICE = (
    "restore it from a backup, or move it aside to start over: a fresh state re-reads every "
    "native record (the hub answers re-sent ones idempotently) but forgets which native "
    "records the hub created, and their updates stop reaching the hub"
)


class StateError(Exception):
    """The state file cannot be used as it is; the message says why and what to do."""


@dataclass
class Record:
    """What the service knows about one native record."""

    ref: str
    born: str  # native | hub
    case_id: str | None = None
    digest: str | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    bad: str | None = None


@dataclass(frozen=True)
class OutRow:
    seq: int
    ref: str
    message_id: str
    type: str
    body: dict[str, Any]
    jws: str | None
    case_id: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StateStore:
    """One state file; thread-safe (one connection, one re-entrant lock, short transactions)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path, self._conn = path, conn
        self._lock = threading.RLock()
        self._depth = 0

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, adapter: str, agency: str, native: str) -> StateStore:
        """Open (or create) the state of this adapter instance; StateError if unusable."""
        fresh = not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA busy_timeout = 10000")
            store = cls(path, conn)
            if fresh:
                store._create(adapter=adapter, agency=agency, native=native)
            else:
                store._check(adapter=adapter, agency=agency)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state file {path} is unreadable ({exc}); {ADVICE}") from exc
        return store

    def _create(self, *, adapter: str, agency: str, native: str) -> None:
        with self.tx() as c:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            meta = {"format": FORMAT, "adapter": adapter, "agency": agency, "native": native}
            c.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            c.execute("INSERT INTO cursor VALUES (1, '{}')")

    def _check(self, *, adapter: str, agency: str) -> None:
        found = self._conn.execute("PRAGMA quick_check").fetchall()
        if found != [("ok",)]:
            detail = "; ".join(str(r[0]) for r in found[:3])
            raise StateError(f"state file {self.path} is damaged ({detail}); {ADVICE}")
        names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        if not names >= TABLES:
            raise StateError(
                f"{self.path} is an SQLite file but not an adapter state file "
                f"(missing {', '.join(sorted(TABLES - names))}); {ADVICE}"
            )
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise StateError(
                f"state file {self.path} has format {meta.get('format')!r}, not {FORMAT}"
            )
        if (meta.get("adapter"), meta.get("agency")) != (adapter, agency):
            raise StateError(
                f"state file {self.path} belongs to adapter {meta.get('adapter')!r} for agency "
                f"{meta.get('agency')!r}, not {adapter!r} for {agency!r}; give each instance "
                "its own --state file"
            )
        self.cursor()  # a cursor that does not parse is found now, not mid-poll

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction (re-entrant: an inner ``tx`` joins the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    # -- cursor ------------------------------------------------------------------------------

    def cursor(self) -> dict[str, Any]:
        with self._lock:
            row = self._conn.execute("SELECT value FROM cursor WHERE id = 1").fetchone()
        try:
            value = json.loads(row[0]) if row else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            shown = (row[0] if row else "no row")[:80]
            raise StateError(f"state file {self.path} holds a corrupt cursor ({shown!r}); {ADVICE}")
        return value

    def set_cursor(self, value: Mapping[str, Any]) -> None:
        with self.tx() as c:
            c.execute("UPDATE cursor SET value = ? WHERE id = 1", (json.dumps(dict(value)),))

    # -- records -----------------------------------------------------------------------------

    def record(self, ref: str) -> Record | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT ref, born, case_id, digest, snapshot, bad FROM records WHERE ref = ?",
                (ref,),
            ).fetchone()
        if row is None:
            return None
        try:
            snapshot = json.loads(row[4])
        except ValueError as exc:
            raise StateError(f"state file {self.path}: record {ref!r} is corrupt") from exc
        return Record(row[0], row[1], row[2], row[3], snapshot, row[5])

    def digest(self, ref: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT digest FROM records WHERE ref = ?", (ref,)).fetchone()
        return None if row is None else row[0]

    def put(self, record: Record) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO records (ref, born, case_id, digest, snapshot, bad, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO UPDATE SET born = excluded.born,"
                " case_id = excluded.case_id, digest = excluded.digest,"
                " snapshot = excluded.snapshot, bad = excluded.bad,"
                " updated_at = excluded.updated_at",
                (
                    record.ref,
                    record.born,
                    record.case_id,
                    record.digest,
                    json.dumps(record.snapshot, ensure_ascii=False),
                    record.bad,
                    _now(),
                ),
            )

    def refs_for_case(self, case_id: str) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT ref FROM records WHERE case_id = ? ORDER BY ref", (case_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def move_case(self, old: str, new: str) -> None:
        """The hub merged ``old`` into ``new``: its records now belong to ``new``."""
        with self.tx() as c:
            c.execute("UPDATE records SET case_id = ? WHERE case_id = ?", (new, old))

    # -- outbox ------------------------------------------------------------------------------

    def enqueue(self, ref: str, message_id: str, type_: str, body: Mapping[str, Any]) -> bool:
        """Queue a message; False if this message id was queued before (nothing changes)."""
        with self.tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO outbox (ref, message_id, type, body, state, created_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
                (ref, message_id, type_, json.dumps(dict(body), ensure_ascii=False), _now()),
            )
            return cur.rowcount == 1

    def pending(self, limit: int, after: int = 0) -> list[OutRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, ref, message_id, type, body, jws, case_id FROM outbox "
                "WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [OutRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    def pending_rows(self, page: int = 200) -> Iterator[OutRow]:
        """Every pending message, oldest first, read a page at a time."""
        after = 0
        while rows := self.pending(page, after):
            yield from rows
            after = rows[-1].seq

    def signed(self, seq: int, jws: str, case_id: str | None) -> None:
        """Keep the exact bytes before they leave: a re-send after a crash is the same JWS."""
        with self.tx() as c:
            c.execute("UPDATE outbox SET jws = ?, case_id = ? WHERE seq = ?", (jws, case_id, seq))

    def attempted(self, seqs: list[int]) -> None:
        with self.tx() as c:
            c.executemany(
                "UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs]
            )

    def attempts(self, seq: int) -> int:
        with self._lock:
            row = self._conn.execute("SELECT attempts FROM outbox WHERE seq = ?", (seq,)).fetchone()
        return int(row[0]) if row else 0

    def unsign(self, seq: int) -> None:
        """The hub found the signed bytes stale (and never stored them): sign anew."""
        with self.tx() as c:
            c.execute("UPDATE outbox SET jws = NULL WHERE seq = ?", (seq,))

    def sent(self, seq: int, case_id: str | None, note: str | None = None) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE outbox SET state = 'sent', case_id = COALESCE(?, case_id), error = ?,"
                " done_at = ? WHERE seq = ?",
                (case_id, note, _now(), seq),
            )

    def refused(self, seq: int, ref: str, error: str, *, state: str = "refused") -> None:
        """The hub said no; ``conflict`` (a 409 about the case's state or whose turn it is)
        is an answer to expect, not a fault, and is not listed as a problem."""
        with self.tx() as c:
            c.execute(
                "UPDATE outbox SET state = ?, error = ?, done_at = ? WHERE seq = ?",
                (state, error, _now(), seq),
            )
            if state == "refused":
                self.problem("to-hub", ref, error)

    def complaint_pending(self, ref: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM outbox WHERE ref = ? AND type = 'complaint.submit' "
                "AND state = 'pending'",
                (ref,),
            ).fetchone()
        return row is not None

    # -- inbound journal ---------------------------------------------------------------------

    def inbound(self, message_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT state FROM inbound WHERE message_id = ?", (message_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_inbound(
        self,
        message_id: str,
        state: str,
        *,
        type_: str | None = None,
        case_id: str | None = None,
        refs: list[str] | None = None,
        detail: str | None = None,
    ) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO inbound (message_id, state, type, case_id, refs, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET "
                "state = excluded.state, type = COALESCE(excluded.type, type), "
                "case_id = COALESCE(excluded.case_id, case_id), "
                "refs = COALESCE(excluded.refs, refs), detail = excluded.detail, at = excluded.at",
                (
                    message_id,
                    state,
                    type_,
                    case_id,
                    json.dumps(refs) if refs is not None else None,
                    detail,
                    _now(),
                ),
            )

    # -- problems and the report -------------------------------------------------------------

    def problem(self, direction: str, ref: str | None, error: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO problems (at, direction, ref, error) VALUES (?, ?, ?, ?)",
                (_now(), direction, ref, error[:2000]),
            )

    def report(self, problems: int = 20) -> dict[str, Any]:
        """Counts by table and state, the cursor, the bad records and the latest problems."""
        with self._lock:
            c = self._conn
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
            records = dict(c.execute("SELECT born, count(*) FROM records GROUP BY born").fetchall())
            bad = c.execute(
                "SELECT ref, bad FROM records WHERE bad IS NOT NULL ORDER BY ref"
            ).fetchall()
            outbox = dict(c.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
            by_type = dict(
                c.execute(
                    "SELECT type, count(*) FROM outbox WHERE state = 'sent' GROUP BY type"
                ).fetchall()
            )
            inbound = dict(
                c.execute("SELECT state, count(*) FROM inbound GROUP BY state").fetchall()
            )
            latest = c.execute(
                "SELECT at, direction, ref, error FROM problems ORDER BY id DESC LIMIT ?",
                (problems,),
            ).fetchall()
        return {
            "state_file": str(self.path),
            "adapter": meta.get("adapter"),
            "agency": meta.get("agency"),
            "native": meta.get("native"),
            "cursor": self.cursor(),
            "records": {"native": records.get("native", 0), "hub": records.get("hub", 0)},
            "bad_records": [{"ref": r[0], "error": r[1]} for r in bad],
            "outbox": {k: outbox.get(k, 0) for k in ("pending", "sent", "refused", "conflict")},
            "sent_by_type": by_type,
            "inbound": inbound,
            "problems": [
                {"at": r[0], "direction": r[1], "ref": r[2], "error": r[3]} for r in latest
            ],
        }
