"""PDPA: personal data planted in signed complaints and case messages never comes out of
ANY index endpoint — search (with every sort and text probes), statistics (every dimension),
the map (every level), both exports and the drill-down — for any kind of reader, nor goes
into the logs.

Planted: the reporter's name, phones, e-mail, LINE id and national ID in the contact (sealed
at rest), phone numbers in many formats, e-mail addresses and national IDs in the subject and
description, an address, a system extension and the notes of case messages.
"""

from __future__ import annotations

import json
import logging
import re
from itertools import combinations
from typing import Any

import pytest

from tests.index.world import CHIANG_MAI, complaint, get, submit

NAME = "สมชาย ใจดีมาก"
CONTACT = {
    "name": NAME,
    "phone": "0899998888",
    "email": "somchai.contact@example.org",
    "national_id": "3101700456789",
    "line_id": "somchai_line99",
}
IN_TEXT = {
    "phone, dashed": "081-234-5678",
    "phone, spaced +66": "+66 81 234 5678",
    "phone, dotted": "086.555.4444",
    "phone, Bangkok landline": "02-123-4567",
    "phone, Thai digits": "๐๘๔๗๗๗๖๖๖๖",
    "e-mail": "somchai.j@example.co.th",
    "national id, dashed": "1-1037-00123-45-6",
    "national id, bare": "1103700999881",
}
ELSEWHERE = {
    "address phone": "089-111-2222",
    "extension phone": "0865554444",
    "accept note phone": "0823334444",
    "resolve summary e-mail": "officer.x@bma.example.go.th",
    "decline reason phone": "0847778888",
}
DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


def secrets() -> list[str]:
    """Every planted value, and each one's bare digits (how a leak is often reformatted)."""
    values = [*CONTACT.values(), *IN_TEXT.values(), *ELSEWHERE.values()]
    digits = [re.sub(r"\D", "", v.translate(DIGITS)) for v in values]
    return sorted({*values, *(d for d in digits if len(d) >= 9)})


@pytest.fixture
def planted(cast, hub) -> list[str]:
    t = cast["traffy"]
    text = "ถนนพังหน้าบ้าน ติดต่อ " + " / ".join(IN_TEXT.values())
    body = complaint(
        "P-1",
        text=text,
        subject=f"ถนนพัง โทร {IN_TEXT['phone, dashed']}",
        contact=CONTACT,
        address=f"บ้านเลขที่ 9 โทร {ELSEWHERE['address phone']}",
        star=2,
    )
    body["extensions"]["traffy_fondue"]["reporter_phone"] = ELSEWHERE["extension phone"]
    cases = [submit(t, body)]
    cases.append(
        submit(
            cast["ops1111"],
            complaint(
                "P-2",
                text=f"น้ำประปาไม่ไหล แจ้ง {IN_TEXT['e-mail']} บัตร {IN_TEXT['national id, bare']}",
                category="water_supply",
                area=CHIANG_MAI,
                lat=18.8,
                lon=99.0,
                origin="ops1111",
                system="ops1111",
                channel="hotline_1111",
                contact={"name": NAME, "phone": CONTACT["phone"]},
            ),
        )
    )
    bma, cm = cast["bma"].client, cast["cmcity"].client
    bma.send(
        "case.accept", {"case_id": cases[0], "note": f"รับแล้ว {ELSEWHERE['accept note phone']}"}
    )
    bma.send(
        "case.resolve",
        {
            "case_id": cases[0],
            "outcome": "fixed",
            "summary": f"ซ่อมแล้ว ติดต่อ {ELSEWHERE['resolve summary e-mail']}",
        },
    )
    cm.send(
        "case.decline",
        {"case_id": cases[1], "reason": f"ไม่ใช่ของเรา {ELSEWHERE['decline reason phone']}"},
    )
    return cases


def every_response(client, reader, case_ids: list[str]) -> list[tuple[str, Any]]:
    """(what, response) for every index endpoint and every way of asking it."""
    out = []
    for sort in ("-reported_at", "reported_at", "-resolved_at", "resolved_at"):
        out.append((f"search {sort}", get(client, reader, "/v1/index/complaints", sort=sort)))
    out.append(("search q", get(client, reader, "/v1/index/complaints", q="ถนนพัง")))
    dims = ["province", "category", "status", "agency", "channel", "month"]
    for group in [*([d] for d in dims), *(list(p) for p in combinations(dims, 2))]:
        out.append((f"stats {group}", get(client, reader, "/v1/index/stats", group_by=group)))
    for level in ("province", "amphoe", "case"):
        out.append((f"map {level}", get(client, reader, "/v1/index/map.geojson", level=level)))
    out.append(("csv", get(client, reader, "/v1/index/export.csv", bom=True)))
    out.append(("ndjson", get(client, reader, "/v1/index/export.ndjson")))
    for case_id in case_ids:
        out.append((f"case {case_id}", get(client, reader, f"/v1/index/cases/{case_id}")))
    return out


def leaks(body: bytes) -> list[str]:
    """The planted values found in a body: raw, after JSON unescaping, in Thai digits
    turned ASCII, and in every string with its separators taken out."""
    text = body.decode("utf-8-sig")
    views = [text, text.translate(DIGITS)]
    try:
        docs = [json.loads(text)]
    except ValueError:
        docs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for doc in docs:
        dumped = json.dumps(doc, ensure_ascii=False)
        views += [dumped, dumped.translate(DIGITS)]
        views += [re.sub(r"\D", "", s.translate(DIGITS)) for s in _strings(doc)]
    return [s for s in secrets() if any(s in v for v in views)]


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in _strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return []


SEES = {  # which planted cases each reader may drill into
    "ombudsman": (0, 1),
    "root": (0, 1),
    "bma": (0,),  # owner of the Bangkok case
    "traffy": (0,),  # its origin
    "cmcity": (1,),  # offered the Chiang Mai case, declined it: still on it
}


@pytest.mark.parametrize("reader", sorted(SEES))
def test_no_index_endpoint_ever_shows_planted_personal_data(client, cast, planted, reader, caplog):
    caplog.set_level(logging.DEBUG)
    answered = every_response(client, cast[reader], planted)
    assert len(answered) == 4 + 1 + 6 + 15 + 3 + 2 + 2
    hidden = {f"case {c}" for i, c in enumerate(planted) if i not in SEES[reader]}
    for what, r in answered:
        if what in hidden:
            assert r.status_code == 404, what
            continue
        assert r.status_code == 200, (what, r.text)
        assert r.content, what
        assert leaks(r.content) == [], what
    assert [s for s in secrets() if s in caplog.text] == [], "personal data in the logs"
    # the scrubbed text is there, marked, for the readers who see the case
    search = json.loads(answered[0][1].content)
    if search["items"]:
        assert any("[ข้อมูลส่วนบุคคล]" in i["description"] for i in search["items"])


def test_nobody_finds_a_complaint_by_its_personal_data(client, cast, planted):
    found = get(client, cast["ombudsman"], "/v1/index/complaints", q="ถนนพัง")
    assert json.loads(found.content)["total"] == 1
    for probe in [*secrets(), NAME, "somchai", "example.co.th", "5678"]:
        for path in ("/v1/index/complaints", "/v1/index/stats", "/v1/index/export.ndjson"):
            r = get(client, cast["ombudsman"], path, q=probe)
            assert r.status_code == 200, r.text
            if path.endswith("complaints") or path.endswith("stats"):
                assert json.loads(r.content)["total"] == 0, probe
            else:
                assert r.content == b"", probe


def test_the_leak_detector_itself_sees_each_kind_of_leak():
    """Guards the guard: a body with any planted value in any of these forms is caught."""
    for value in secrets():
        assert value in leaks(json.dumps({"x": value}).encode())
    assert "0812345678" in leaks(json.dumps({"x": "081 234 5678"}).encode())
    assert "0847776666" in leaks(json.dumps({"x": "๐๘๔๗๗๗๖๖๖๖"}).encode())
    assert NAME in leaks(json.dumps({"x": NAME}, ensure_ascii=True).encode())
    assert leaks(b'{"x": "nothing to see"}') == []
