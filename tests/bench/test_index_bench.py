"""bench/index.py at a tiny size: the generator follows its source, the loader fills the
real schema, and the query runner produces figures. No timing is asserted (see
bench/README.md); the 1M-row figures come from running the script."""

from __future__ import annotations

import importlib.util
import io
import math
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text

from hub import vocab
from hub.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 2000


def _bench() -> ModuleType:
    name = "bench_index_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "index.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


@pytest.fixture(scope="module")
def model(bench: ModuleType) -> Any:
    return bench.Model(bench.fit_source(), now=NOW)


def _rows(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def test_the_source_is_the_adapters_copy_of_the_real_rows(bench: ModuleType) -> None:
    source = bench.fit_source()
    assert source.rows == 200
    assert bench.SOURCE_CSV.is_relative_to(ROOT)  # never /work/shared at run time
    assert source.categories.most_common(1)[0][0] == "road"
    assert sum(source.kinds.values()) == 200 and source.kinds["finish"] == 60
    assert source.phrases and source.streets and 0 < source.contact_share < 0.2


def test_same_seed_same_rows_other_seed_other_rows(bench: ModuleType, model: Any) -> None:
    def first(seed: int) -> dict[str, list[dict[str, Any]]]:
        return next(bench.Generator(model, seed=seed).batches(300, 300)).rows

    a, b, c = first(3), first(3), first(4)
    assert a == b
    assert [r["id"] for r in a["cases"]] != [r["id"] for r in c["cases"]]


def test_query_terms_are_cut_from_real_comments(bench: ModuleType, model: Any) -> None:
    import random

    terms = bench.query_terms(model.source, random.Random(1), 20)
    assert len(terms) == 20
    assert all(any(t in p for p in model.source.phrases) for t in terms)
    assert all(re.fullmatch(r"[\u0e00-\u0e7f]+", t) for t in terms)


def test_loaded_data_follows_the_source(database_url: str, bench: ModuleType, model: Any) -> None:
    report = bench.load(database_url, model, ROWS, seed=5, chunk=500, progress=False)
    assert report.complaints == ROWS
    dist = bench.distribution_check(database_url, model, out=io.StringIO())
    assert dist["complaints"] == ROWS
    assert 0.9 * ROWS < dist["cases"] <= ROWS  # some complaints join or merge into a case

    traffy = Counter(
        dict(
            _rows(
                database_url,
                "SELECT category, count(*) FROM complaints "
                "WHERE origin_system = 'traffy_fondue' GROUP BY category",
            )
        )
    )
    assert traffy.most_common(1)[0][0] == model.source.categories.most_common(1)[0][0]
    assert next(iter(dist["provinces"])) == "10"  # Bangkok first, as in Traffy's data
    assert len(dist["provinces"]) > 40  # and the long tail over the country
    finish = bench.DATASET_STATES["finish"] / sum(bench.DATASET_STATES.values())
    assert abs(dist["old_resolved_share"] - finish) < 0.1

    areas = {r[0] for r in vocab.load_json("vocab/areas.json")["rows"]}
    for tambon, amphoe, province in _rows(
        database_url, "SELECT DISTINCT tambon_code, amphoe_code, province_code FROM cases"
    ):
        assert tambon in areas and tambon.startswith(amphoe) and amphoe.startswith(province)

    texts = [r[0] for r in _rows(database_url, "SELECT public_text FROM complaints")]
    raw = [r[0] for r in _rows(database_url, "SELECT description FROM complaints")]
    planted = [d for d in raw if re.search(r"08\d[\d-]{7,}|@example\.com", d)]
    assert planted  # the sample's share of (fake) contact details is reproduced ...
    assert not any(re.search(r"08\d[\d-]{7,}|@example\.com", t) for t in texts)  # ... scrubbed
    assert any("[ข้อมูลส่วนบุคคล]" in t for t in texts)

    ratings = _rows(
        database_url,
        "SELECT origin_system, satisfaction FROM complaints WHERE satisfaction IS NOT NULL",
    )
    assert ratings and all(o == "traffy_fondue" and 1 <= s <= 5 for o, s in ratings)
    orphans = _rows(
        database_url,
        "SELECT count(*) FROM complaints c LEFT JOIN cases k ON k.id = c.case_id "
        "WHERE k.id IS NULL",
    )
    assert orphans[0][0] == 0
    moved = _rows(database_url, "SELECT count(*) FROM complaints c JOIN cases k ON "
                                "k.id = c.case_id WHERE k.status = 'merged'")  # fmt: skip
    assert moved[0][0] == 0  # a merged case's complaints live in its survivor, as in the hub


def test_the_query_runner_produces_figures(
    database_url: str, bench: ModuleType, model: Any
) -> None:
    bench.load(database_url, model, ROWS, seed=5, chunk=1000, progress=False)
    figures, floor = bench.run_queries(
        database_url, model, reps=2, deep_budget_s=30, out=io.StringIO()
    )
    assert floor["pk_get"] > 0 and floor["select1"] > 0
    names = {f.name for f in figures}
    assert names == {*bench.QUERIES, "export, 10k rows"}
    for f in figures:
        assert not f.error, f"{f.name}: {f.error}"
        assert len(f.seconds) == 2 and all(s > 0 for s in f.seconds), f.name
        assert not math.isnan(f.p95)
    by_name = {f.name: f for f in figures}
    assert by_name["map, province level"].rows[0] > 10  # provinces with cases
    assert by_name["search, first page"].rows[0] > 0
    assert by_name["export, 10k rows"].extra["rows/s"] > 0
