"""The outbox over HTTP: pull inbox and acks for agencies, listing and replay for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.api.deps import Reply, caller, hub, ok
from hub.errors import HubError
from hub.exchange import outbox, translog
from hub.exchange.envelopes import policy_for
from hub.models import Delivery


def inbox(token_info: dict[str, Any], limit: int = 100) -> Reply:
    principal = caller(token_info)
    h = hub()
    with h.transaction() as s:
        waiting = outbox.inbox(s, principal.agency, now=h.now(), limit=limit)
        messages = [
            {"message_id": d.forward_id, "jws": d.forward_jws.decode("ascii")} for d in waiting
        ]
    return ok({"messages": messages})


def inbox_acks(token_info: dict[str, Any], acks: list[str]) -> Reply:
    """All the acks of one request in one transaction: each is checked on its own before
    anything is written, so a refused ack changes nothing and does not stop the others."""
    principal = caller(token_info)
    h = hub()
    with h.transaction() as s:
        recorded = outbox.record_acks(
            s,
            [raw.encode("utf-8", "surrogatepass") for raw in acks],
            policy=policy_for(h.settings),
            now=h.now(),
            expect_from=principal.agency,
        )
    results: list[dict[str, Any]] = [
        {"index": i, "status": r.status, "problem": r.to_problem()}
        if isinstance(r, HubError)
        else {"index": i, "status": 200, "message_id": r.forward_id}
        for i, r in enumerate(recorded)
    ]
    return ok({"results": results})


def list_deliveries(
    token_info: dict[str, Any],
    state: str | None = None,
    destination: str | None = None,
    case_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        rows = outbox.list_deliveries(
            s, state=state, destination=destination, case_id=case_id, after_id=after_id, limit=limit
        )
        return ok(
            {
                "deliveries": [delivery_dict(d) for d in rows],
                "destinations": outbox.stats(s, now=h.now()),
            }
        )


def replay(token_info: dict[str, Any], delivery_id: int) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        d = outbox.replay(s, delivery_id, now=h.now())
        body, destination = delivery_dict(d), d.destination
    h.wake([destination])
    return ok(body)


def metrics() -> tuple[str, int, dict[str, str]]:
    h = hub()
    with h.transaction() as s:
        rows = outbox.stats(s, now=h.now())
        size = translog.size(s)
    lines = [
        "# HELP hub_deliveries Deliveries by destination and state.",
        "# TYPE hub_deliveries gauge",
    ]
    for r in rows:
        for state in outbox.STATES:
            lines.append(
                f'hub_deliveries{{destination="{r["destination"]}",state="{state}"}} {r[state]}'
            )
    lines += [
        "# HELP hub_delivery_oldest_open_seconds Age of the oldest undelivered delivery.",
        "# TYPE hub_delivery_oldest_open_seconds gauge",
    ]
    for r in rows:
        age = r["oldest_open_seconds"]
        lines.append(
            f'hub_delivery_oldest_open_seconds{{destination="{r["destination"]}"}} {age:.3f}'
        )
    lines += [
        "# HELP hub_log_size Leaves in the transparency log.",
        "# TYPE hub_log_size gauge",
        f"hub_log_size {size}",
    ]
    return (
        "\n".join(lines) + "\n",
        200,
        {"Content-Type": "text/plain"},  # Prometheus reads this as text format 0.0.4,
    )


def delivery_dict(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "message_id": d.forward_id,
        "destination": d.destination,
        "case_id": d.case_id,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at),
        "last_error": d.last_error,
        "created_at": _iso(d.created_at),
        "delivered_at": _iso(d.delivered_at) if d.delivered_at else None,
        "log_index": d.log_index,
    }


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
