"""Helpers for the index tests: complaint bodies, signed submission, authorised GETs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.support.tokens import bearer

BANGKOK = {"province_code": "10", "amphoe_code": "1003", "tambon_code": "100301"}
BANGKOK_OTHER_KHET = {"province_code": "10", "amphoe_code": "1005", "tambon_code": "100501"}
CHIANG_MAI = {"province_code": "50", "amphoe_code": "5001", "tambon_code": "500101"}


def complaint(
    ref: str,
    *,
    text: str,
    area: dict[str, str] | None = None,
    lat: float = 13.80,
    lon: float = 100.80,
    category: str = "road",
    reported_at: datetime | None = None,
    origin: str = "traffy",
    system: str = "traffy_fondue",
    channel: str = "traffy_fondue",
    star: int | None = None,
    subject: str | None = None,
    contact: dict[str, str] | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """A complaint body as an origin signs it. Keep texts and places apart (over 150 m) or
    the hub's matcher joins two complaints into one case."""
    when = reported_at or datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    location: dict[str, Any] = {"lat": lat, "lon": lon, **(area or BANGKOK)}
    if address:
        location["address"] = address
    body: dict[str, Any] = {
        "id": f"{system}:{ref}",
        "origin": {"agency": origin, "system": system, "ref": ref},
        "channel": channel,
        "category": category,
        "subject": subject or text.splitlines()[0][:200],
        "description": text,
        "location": location,
        "reported_at": when.isoformat().replace("+00:00", "Z"),
        "language": "th",
        "extensions": {system: {"star": star, "count_reopen": 0}},
    }
    if contact:
        body["reporter"] = {"anonymous": False, "contact": contact}
    return body


def submit(agency, body: dict[str, Any]) -> str:
    receipt = agency.client.send("complaint.submit", body)
    assert receipt.case_id
    return receipt.case_id


def get(client, reader, path: str, /, **params: Any):
    """A GET with the agency's fresh bearer token; lists become comma-separated."""
    query = {k: ",".join(v) if isinstance(v, list | tuple) else _q(v) for k, v in params.items()}
    return client.get(path, params=query, headers=bearer(reader.client.token()))


def _q(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ok_json(response) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.content.decode("utf-8"))


def ids(page: dict[str, Any]) -> list[str]:
    return [i["case_id"] for i in page["items"]]
