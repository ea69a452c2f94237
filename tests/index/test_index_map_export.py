"""``GET /v1/index/map.geojson`` and the CSV / NDJSON exports, end to end."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from hub import index
from tests.index.world import BANGKOK_OTHER_KHET, CHIANG_MAI, complaint, get, ok_json, submit
from tests.support.tokens import expect_problem

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def world(cast) -> dict[str, str]:
    t = cast["traffy"]
    return {
        "a": submit(
            t, complaint("M-1", text="ถนนทรุด", lat=13.800049, lon=100.800049, reported_at=T0)
        ),
        "b": submit(
            t,
            complaint(
                "M-2",
                text='=HYPERLINK("http://evil") ท่อระบายน้ำอุดตัน, มีกลิ่น',
                subject="=1+1 ท่อระบายน้ำอุดตัน",
                category="drainage",
                lat=13.820001,
                lon=100.820001,
                reported_at=T0 + timedelta(hours=1),
                star=5,
            ),
        ),
        "c": submit(
            t,
            complaint(
                "M-3",
                text="ต้นไม้ล้มขวางทาง",
                category="trees",
                area=BANGKOK_OTHER_KHET,
                lat=13.87,
                lon=100.6,
                reported_at=T0 + timedelta(hours=2),
            ),
        ),
        "d": submit(
            t,
            complaint(
                "M-4",
                text="ไฟไหม้หญ้าข้างทาง",
                category="open_burning",
                area=CHIANG_MAI,
                lat=18.7,
                lon=98.9,
                reported_at=T0 + timedelta(hours=3),
            ),
        ),
    }


# --------------------------------------------------------------------------- map


def test_provinces_are_points_at_the_mean_of_their_cases(client, cast, world):
    r = get(client, cast["ombudsman"], "/v1/index/map.geojson")
    assert r.headers["content-type"].startswith("application/geo+json")
    body = ok_json(r)
    assert body["type"] == "FeatureCollection"
    by_code = {f["properties"]["province"]: f for f in body["features"]}
    assert by_code.keys() == {"10", "50"}
    bangkok = by_code["10"]
    assert bangkok["type"] == "Feature"
    assert bangkok["properties"] == {"province": "10", "count": 3, "open": 3, "breached": 0}
    lon, lat = bangkok["geometry"]["coordinates"]  # RFC 7946: longitude first
    assert (lon, lat) == (round((100.800049 + 100.820001 + 100.6) / 3, 3), 13.83)
    assert by_code["50"]["geometry"] == {"type": "Point", "coordinates": [98.9, 18.7]}


def test_amphoe_level_and_filters(client, cast, world):
    body = ok_json(get(client, cast["ombudsman"], "/v1/index/map.geojson", level="amphoe"))
    counts = {f["properties"]["amphoe"]: f["properties"]["count"] for f in body["features"]}
    assert counts == {"1003": 2, "1005": 1, "5001": 1}
    only_trees = ok_json(
        get(client, cast["ombudsman"], "/v1/index/map.geojson", level="amphoe", category="trees")
    )
    assert [f["properties"]["amphoe"] for f in only_trees["features"]] == ["1005"]


def test_case_level_is_one_rounded_point_per_case_newest_first_capped(client, cast, world):
    body = ok_json(get(client, cast["ombudsman"], "/v1/index/map.geojson", level="case"))
    assert [f["properties"]["case_id"] for f in body["features"]] == [
        world["d"],
        world["c"],
        world["b"],
        world["a"],
    ]
    first = body["features"][-1]
    assert first["geometry"]["coordinates"] == [100.8, 13.8]  # 3 decimals, never exact
    assert first["properties"] == {"case_id": world["a"], "status": "offered", "category": "road"}
    capped = ok_json(get(client, cast["ombudsman"], "/v1/index/map.geojson", level="case", limit=2))
    assert len(capped["features"]) == 2
    mine = ok_json(get(client, cast["cmcity"], "/v1/index/map.geojson", level="case"))
    assert [f["properties"]["case_id"] for f in mine["features"]] == [world["d"]]


@pytest.mark.parametrize(
    ("params", "pointer"), [({"level": "street"}, "/query/level"), ({"limit": "0"}, "/query/limit")]
)
def test_bad_map_parameters(client, cast, params, pointer):
    r = client.get(
        "/v1/index/map.geojson",
        params=params,
        headers={"Authorization": f"Bearer {cast['ombudsman'].client.token()}"},
    )
    assert pointer in [e["pointer"] for e in expect_problem(r, 400)["errors"]]


# --------------------------------------------------------------------------- export


def test_csv_export_has_every_item_of_the_search_with_excel_in_mind(client, cast, world):
    search = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints"))["items"]
    r = get(client, cast["ombudsman"], "/v1/index/export.csv", bom=True)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(index.FIELDS)
    assert [row[0] for row in rows[1:]] == [i["case_id"] for i in search]
    b = dict(zip(rows[0], next(row for row in rows[1:] if row[0] == world["b"]), strict=True))
    assert b["subject"] == "'=1+1 ท่อระบายน้ำอุดตัน"  # a formula is text, not a formula
    assert b["description"].startswith("'=HYPERLINK")
    assert (b["satisfaction"], b["sla_breached"], b["accept_due"] != "") == ("5", "false", True)
    assert b["agencies"] == "bma;traffy" and b["lat"] == "13.82"
    plain = get(client, cast["ombudsman"], "/v1/index/export.csv", category="trees")
    assert not plain.content.startswith("\ufeff".encode())
    assert [row[0] for row in csv.reader(io.StringIO(plain.text))][1:] == [world["c"]]


def test_ndjson_export_is_one_search_item_per_line(client, cast, world):
    search = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints"))["items"]
    r = get(client, cast["ombudsman"], "/v1/index/export.ndjson")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.content.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == search
    empty = get(client, cast["mea"], "/v1/index/export.ndjson")
    assert empty.status_code == 200 and empty.content == b""


def test_exports_read_in_keyset_chunks_see_every_row_once(client, cast, world, monkeypatch):
    monkeypatch.setattr(index, "EXPORT_CHUNK", 1)
    calls = []
    search = index.search

    def counting(*args, **kwargs):
        calls.append(kwargs.get("cursor"))
        return search(*args, **kwargs)

    monkeypatch.setattr(index, "search", counting)
    r = get(client, cast["ombudsman"], "/v1/index/export.ndjson")
    assert len(calls) == 4  # four chunks of one; the last one has no next cursor
    assert calls[0] is None and len(set(calls)) == 4
    got = [json.loads(line)["case_id"] for line in r.text.splitlines()]
    assert got == [world["d"], world["c"], world["b"], world["a"]]
    csv_rows = list(
        csv.reader(io.StringIO(get(client, cast["ombudsman"], "/v1/index/export.csv").text))
    )
    assert [row[0] for row in csv_rows[1:]] == got


def test_export_problems_come_before_the_stream_starts(client, cast):
    r = client.get(
        "/v1/index/export.csv",
        params={"reported_from": "soon"},
        headers={"Authorization": f"Bearer {cast['ombudsman'].client.token()}"},
    )
    assert "/query/reported_from" in [e["pointer"] for e in expect_problem(r, 400)["errors"]]


def test_export_rows_streams_every_item_in_one_session(hub, cast, world, monkeypatch):
    monkeypatch.setattr(index, "EXPORT_CHUNK", 3)
    viewer = _principal("ombudsman", "oversight")
    with hub.transaction() as s:
        rows = index.export_rows(s, index.Filters(), viewer=viewer)
        first = next(rows)
        rest = list(rows)
    assert [first["case_id"], *(r["case_id"] for r in rest)] == [
        world["d"],
        world["c"],
        world["b"],
        world["a"],
    ]


def _principal(agency: str, *roles: str):
    from hub.exchange.tokens import Principal

    return Principal(agency=agency, roles=frozenset(roles), kind="oversight")
