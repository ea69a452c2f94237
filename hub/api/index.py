"""The national index over HTTP: oversight sees the country's cases, nobody's personal data.

Every operation takes the same filters (``openapi.yaml``: defined once under
``/v1/index/complaints`` as YAML anchors ``&index_*``) and needs an agency-signed bearer
token; what the caller may see is ``hub.index``'s rule.
Exports stream: each chunk of rows is read in its own short transaction, so a long
download neither holds memory nor a database transaction (SQLite's lock included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Response

from hub import index
from hub.api.deps import Reply, caller, hub, ok
from hub.errors import FieldError, RequestInvalid
from hub.exchange.tokens import Principal
from hub.index import Filters
from hub.services import Hub

LISTS = (
    *("province", "amphoe", "tambon", "category", "status"),
    *("owner", "agency", "channel", "origin"),
)
TIMES = ("reported_from", "reported_to", "resolved_from", "resolved_to")
GEOJSON = {"Content-Type": "application/geo+json"}


def complaints(
    token_info: dict[str, Any],
    sort: str = "-reported_at",
    limit: int = 50,
    cursor: str | None = None,
    **query: Any,
) -> Reply:
    viewer, f = caller(token_info), filters(query)
    with hub().transaction() as s:
        page = index.search(s, f, viewer=viewer, sort=sort, limit=limit, cursor=cursor)
        total = index.count(s, f, viewer=viewer)
    return ok({**page, "total": total["total"], "total_exact": total["exact"]})


def stats(
    token_info: dict[str, Any],
    group_by: list[str] | None = None,
    performance: bool = True,
    percentiles: str = "approx",
    **query: Any,
) -> Reply:
    viewer, f, h = caller(token_info), filters(query), hub()
    with h.transaction() as s:
        body = index.stats(
            s,
            f,
            viewer=viewer,
            group_by=group_by or ["province"],
            now=h.now(),
            performance=performance,
            percentiles=percentiles,
        )
    return ok(body)


def map_geojson(
    token_info: dict[str, Any], level: str = "province", limit: int = 5000, **query: Any
) -> Reply:
    viewer, f = caller(token_info), filters(query)
    with hub().transaction() as s:
        body = index.map_geojson(s, f, viewer=viewer, level=level, limit=limit)
    return body, 200, GEOJSON


def export_csv(token_info: dict[str, Any], bom: bool = False, **query: Any) -> Response:
    pages = _pages(hub(), filters(query), caller(token_info))
    lines = (index.csv_lines(page) for page in pages)
    head = ("\ufeff" if bom else "") + index.csv_header()
    return Response(
        _prefixed(head, lines),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="complaints.csv"'},
    )


def export_ndjson(token_info: dict[str, Any], **query: Any) -> Response:
    pages = _pages(hub(), filters(query), caller(token_info))
    lines = ("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in page) for page in pages)
    return Response(
        _prefixed("", lines),
        content_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="complaints.ndjson"'},
    )


def case_detail(token_info: dict[str, Any], case_id: str) -> Reply:
    with hub().transaction() as s:
        return ok(index.case_detail(s, case_id, viewer=caller(token_info)))


# --------------------------------------------------------------------------- helpers


def filters(query: dict[str, Any]) -> Filters:
    """The spec has checked each parameter's shape; times are parsed here (RFC 3339, with
    an offset) and a bad one is reported with its pointer like any other parameter."""
    args: dict[str, Any] = {name: tuple(query.get(name) or ()) for name in LISTS}
    errors = []
    for name in TIMES:
        raw = query.get(name)
        if raw is None:
            continue
        when = _when(raw)
        if when is None:
            errors.append(FieldError(f"/query/{name}", "not an RFC 3339 date-time with offset"))
        args[name] = when
    if errors:
        raise RequestInvalid(f"{len(errors)} invalid parameter(s)", errors=errors)
    return Filters(
        **args, sla_breached=query.get("sla_breached"), merged=query.get("merged"), q=query.get("q")
    )


def _when(raw: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None and "T" in raw.upper() else None


def _pages(h: Hub, f: Filters, viewer: Principal) -> Iterator[list[dict[str, Any]]]:
    """Keyset chunks, each in its own transaction. The first is read before the response
    starts, so a bad request still gets a problem+json answer instead of a broken stream."""
    first = _chunk(h, f, viewer, None)

    def rest() -> Iterator[list[dict[str, Any]]]:
        page = first
        while True:
            yield page["items"]
            if page["next_cursor"] is None:
                return
            page = _chunk(h, f, viewer, page["next_cursor"])

    return rest()


def _chunk(h: Hub, f: Filters, viewer: Principal, cursor: str | None) -> dict[str, Any]:
    with h.transaction() as s:
        return index.search(s, f, viewer=viewer, limit=index.EXPORT_CHUNK, cursor=cursor)


def _prefixed(head: str, chunks: Iterator[str]) -> Iterator[bytes]:
    if head:
        yield head.encode("utf-8")
    for chunk in chunks:
        if chunk:
            yield chunk.encode("utf-8")
