"""The index's derived columns and indexes: kept by ORM listeners, backfilled by migration
0005, served by the right index on PostgreSQL; and the estimated count past the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from hub import index
from hub.db import make_engine
from hub.migrate import downgrade, upgrade
from hub.models import Case, Complaint, UTCDateTime
from hub.privacy import MARK
from tests.index.world import complaint, get, ok_json, submit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _case(case_id: str, **extra) -> Case:
    return Case(id=case_id, status="offered", category="road", opened_at=T0, updated_at=T0, **extra)


def _complaint(cid: str, case_id: str, reported_at: datetime, **extra) -> Complaint:
    fields = {
        "subject": "ถนนพัง",
        "description": "โทร 081-234-5678 ด่วน",
        "record": {"extensions": {"traffy_fondue": {"star": 3}}},
        **extra,
    }
    return Complaint(
        id=cid,
        origin_agency="traffy",
        origin_system="traffy_fondue",
        origin_ref=cid,
        channel="traffy_fondue",
        category="road",
        reported_at=reported_at,
        tracking_code=f"TRK-{cid}",
        case_id=case_id,
        **fields,
    )


def test_orm_writes_keep_the_public_text_scrubbed_and_the_rating(hub, database_url):
    with hub.transaction() as s:
        s.add(_case("c-1"))
        s.add(_complaint("k-1", "c-1", T0 - timedelta(days=2)))
    with hub.transaction() as s:
        row = s.get(Complaint, "k-1")
        assert row is not None
        assert (
            row.public_text
            == f"ถนนพัง\nโทร {MARK} ด่วน"
            == index.public_text(row.subject, row.description)
        )
        assert row.satisfaction == 3
        row.description = "ติดต่อ somchai@example.com"
        row.record = {"extensions": {"traffy_fondue": {"star": None}}}
    with hub.transaction() as s:
        row = s.get(Complaint, "k-1")
        assert row is not None
        assert row.public_text == f"ถนนพัง\nติดต่อ {MARK}"
        assert row.satisfaction is None


@pytest.mark.parametrize(
    ("record", "stars"),
    [
        ({"extensions": {"traffy_fondue": {"star": 5}}}, 5),
        ({"extensions": {"traffy_fondue": {"star": 0}}}, None),
        ({"extensions": {"traffy_fondue": {"star": "4"}}}, None),
        ({"extensions": {"traffy_fondue": {"star": True}}}, None),
        ({"extensions": {"ops1111": {"x": 1}}}, None),
        ({}, None),
    ],
)
def test_only_a_one_to_five_rating_counts(record, stars):
    assert index.satisfaction_of(record) == stars


def test_a_complaint_reported_earlier_moves_its_cases_first_report_back(hub, database_url):
    with hub.transaction() as s:
        s.add(_case("c-2", reported_at=T0))
    with hub.transaction() as s:  # the case is not loaded here: the listener updates in SQL
        s.add(_complaint("k-2", "c-2", T0 - timedelta(days=3)))
    with hub.transaction() as s:
        s.add(_complaint("k-3", "c-2", T0 + timedelta(days=3)))  # later: no change
    with hub.transaction() as s:
        assert s.scalar(select(Case.reported_at).where(Case.id == "c-2")) == T0 - timedelta(days=3)
        s.add(_case("c-3"))  # a case and its complaint in one flush: set on the object
        s.add(_complaint("k-4", "c-3", T0 - timedelta(days=9)))
    with hub.transaction() as s:
        assert s.scalar(select(Case.reported_at).where(Case.id == "c-3")) == T0 - timedelta(days=9)


def test_migration_0005_backfills_existing_rows(database_url):
    downgrade(database_url, "0004")
    engine = make_engine(database_url)
    old_cases = sa.table(
        "cases",
        *(sa.column(n) for n in ("id", "status", "category", "version", "priority")),
        *(sa.column(n) for n in ("escalation_level", "reopen_count")),
        sa.column("opened_at", UTCDateTime),
        sa.column("updated_at", UTCDateTime),
    )
    old_complaints = sa.table(
        "complaints",
        *(sa.column(n) for n in ("id", "origin_agency", "origin_system", "origin_ref")),
        *(sa.column(n) for n in ("channel", "category", "subject", "description")),
        *(sa.column(n) for n in ("priority", "language", "case_id", "tracking_code")),
        sa.column("record", sa.JSON),
        sa.column("reported_at", UTCDateTime),
        sa.column("created_at", UTCDateTime),
    )
    case = {"status": "offered", "category": "road", "version": 1, "priority": "normal"}
    case |= {"escalation_level": 0, "reopen_count": 0, "opened_at": T0, "updated_at": T0}
    with engine.begin() as conn:
        conn.execute(old_cases.insert(), [{"id": "old-1", **case}, {"id": "old-2", **case}])
        conn.execute(
            old_complaints.insert(),
            [
                {
                    "id": f"traffy:{n}",
                    "origin_agency": "traffy",
                    "origin_system": "traffy_fondue",
                    "origin_ref": str(n),
                    "channel": "traffy_fondue",
                    "category": "road",
                    "subject": "ไฟดับ",
                    "description": f"แจ้ง 08{n}-234-5678 หรือ a{n}@example.com",
                    "priority": "normal",
                    "language": "th",
                    "case_id": "old-1",
                    "tracking_code": f"TRK-{n}",
                    "record": {"extensions": {"traffy_fondue": {"star": n}}},
                    "reported_at": T0 - timedelta(days=n),
                    "created_at": T0,
                }
                for n in (1, 2)
            ],
        )
    upgrade(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT public_text, satisfaction FROM complaints ORDER BY id")
        ).all()
        assert [tuple(r) for r in rows] == [
            (f"ไฟดับ\nแจ้ง {MARK} หรือ {MARK}", 1),
            (f"ไฟดับ\nแจ้ง {MARK} หรือ {MARK}", 2),
        ]
        firsts = dict(
            conn.execute(select(Case.id, Case.reported_at).order_by(Case.id)).all()  # type: ignore[arg-type]
        )
    assert firsts == {"old-1": T0 - timedelta(days=2), "old-2": T0}  # no complaint: opened_at
    engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_text_search_uses_the_trigram_index(postgres_url):
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text("EXPLAIN SELECT case_id FROM complaints WHERE public_text ILIKE :q"),
                {"q": "%ถนนพัง%"},
            )
        )
    engine.dispose()
    assert "ix_complaints_public_text_trgm" in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_count_past_the_limit_is_the_planners_estimate(client, cast, monkeypatch, hub):
    assert hub.engine.dialect.name == "postgresql"
    for n in range(4):
        submit(cast["traffy"], complaint(f"E-{n}", text=f"เรื่องที่ {n} ไม่ซ้ำกัน", lat=13 + n))
    with hub.engine.begin() as conn:
        conn.execute(text("ANALYZE cases"))
    monkeypatch.setattr(index, "EXACT_COUNT_LIMIT", 2)
    body = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints", limit=1))
    assert body["total_exact"] is False and body["total"] >= 3
    assert len(body["items"]) == 1
    monkeypatch.setattr(index, "EXACT_COUNT_LIMIT", 4)
    body = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints", limit=1))
    assert (body["total"], body["total_exact"]) == (4, True)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_text_count_past_its_limit_is_an_estimate(client, cast, monkeypatch, hub):
    """The text count takes its matches from the trigram index first (``complaint_texts``)
    and stops past the limit; under it, the count is exact."""
    for n in range(4):
        submit(cast["traffy"], complaint(f"T-{n}", text=f"ไฟถนนดับ ซอย {n}", lat=13 + n))
    submit(cast["traffy"], complaint("T-other", text="น้ำประปาไม่ไหล", lat=18.0))
    monkeypatch.setattr(index, "TEXT_COUNT_LIMIT", 2)
    body = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints", q="ไฟถนน", limit=1))
    assert body["total_exact"] is False and body["total"] >= 3
    monkeypatch.setattr(index, "TEXT_COUNT_LIMIT", 4)
    body = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints", q="ไฟถนน", limit=1))
    assert (body["total"], body["total_exact"]) == (4, True)
    assert len(body["items"]) == 1


def test_a_joining_complaint_reported_earlier_moves_the_first_report_back(client, cast):
    """Through intake: the hub's matcher joins the second report to the first one's case."""
    later = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    first = submit(
        cast["traffy"], complaint("J-1", text="ท่อประปาแตก น้ำพุ่งกลางถนน", reported_at=later)
    )
    joined = submit(
        cast["ops1111"],
        complaint(
            "J-2",
            text="ท่อประปาแตก น้ำพุ่งกลางถนน",
            origin="ops1111",
            system="ops1111",
            channel="hotline_1111",
            reported_at=later - timedelta(hours=5),
        ),
    )
    assert joined == first
    item = ok_json(get(client, cast["ombudsman"], f"/v1/index/cases/{first}"))
    assert item["reported_at"] == "2026-11-20T03:00:00Z"
    assert item["channels"] == ["hotline_1111", "traffy_fondue"]
    assert item["origin_system"] == "ops1111"  # the text is the first report's
