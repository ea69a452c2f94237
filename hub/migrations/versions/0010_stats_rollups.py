"""index statistics summaries: index_rollup, index_times (with time histograms)

Revision ID: 0010
Revises: 0009

``index_rollup`` is ``index_cube`` summed over all time and per Bangkok year, so national
counts read ~20k cells instead of ~200k monthly ones. ``index_times`` holds per owner,
province and channel the case counts and log-spaced histograms of the hours to accept and
to resolve (``hub.histogram``), for every case, per category, per year and per month:
approximate medians and 90th percentiles without sorting every case. ``index_hist_add``
adds two stored histograms. ``ix_case_facts_open`` now carries the cube's dimensions
(INCLUDE), so the recent part of a filtered backlog is an index-only scan, and
``ix_case_facts_reported`` what the times need, so a range's partial months are bucketed
from the index alone. All kept by
``hub.index_facts.fold``; the backfill is set-based on PostgreSQL, before the indexes.
SQLite gets the empty tables (its index reads the live tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.index_facts import HIST_ADD, rebuild_rollups

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None

OPEN_PREDICATE = "status NOT IN ('closed', 'merged', 'rejected', 'resolved')"
MEASURES = ("n", "resolved", "reopened", "ever_resolved", "sat_sum", "sat_n")
TIMES = ("owner", "province_code", "status", "breached", "resolved_at", "accept_h", "resolve_h")


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    buckets = sa.JSON().with_variant(sa.dialects.postgresql.ARRAY(sa.Integer()), "postgresql")
    counts = sa.JSON().with_variant(sa.dialects.postgresql.ARRAY(sa.BigInteger()), "postgresql")
    op.create_table(
        "index_rollup",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in MEASURES),
        sa.Column("lat_sum", sa.Float(precision=53), nullable=False),
        sa.Column("lat_n", sa.BigInteger(), nullable=False),
        sa.Column("lon_sum", sa.Float(precision=53), nullable=False),
        sa.Column("lon_n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_rollup")),
        sa.UniqueConstraint(
            "period",
            "province_code",
            "category",
            "status",
            "breached",
            "merged",
            name="uq_index_rollup_cell",
        ),  # fmt: skip
    )
    op.create_table(
        "index_times",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("grp", sa.String(length=64), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in ("cases", "open")),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in ("resolved", "breached")),
        sa.Column("a_keys", buckets, nullable=False),
        sa.Column("a_counts", counts, nullable=False),
        sa.Column("r_keys", buckets, nullable=False),
        sa.Column("r_counts", counts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_times")),
        sa.UniqueConstraint(
            "period", "category", "kind", "province_code", "grp", name="uq_index_times_cell"
        ),
    )
    op.drop_index("ix_case_facts_open", table_name="case_facts")
    op.create_index(
        "ix_case_facts_open",
        "case_facts",
        ["reported_at"],
        postgresql_where=sa.text(OPEN_PREDICATE),
        sqlite_where=sa.text(OPEN_PREDICATE),
        postgresql_include=["province_code", "category", "status", "breached", "merged"],
    )
    op.drop_index("ix_case_facts_reported", table_name="case_facts")
    op.create_index(
        "ix_case_facts_reported", "case_facts", ["reported_at"], postgresql_include=list(TIMES)
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(HIST_ADD)
        rebuild_rollups(op.get_bind())
    for table, empty in (("index_rollup", "n = 0"), ("index_times", "cases = 0")):
        op.create_index(
            f"ix_{table}_empty",
            table,
            ["id"],
            postgresql_where=sa.text(empty),
            sqlite_where=sa.text(empty),
        )
    if postgres:
        for table in ("index_rollup", "index_times"):
            op.execute(f"ANALYZE {table}")
            op.execute(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
                "autovacuum_analyze_scale_factor = 0.02)"
            )


def downgrade() -> None:
    op.drop_index("ix_case_facts_reported", table_name="case_facts")
    op.create_index("ix_case_facts_reported", "case_facts", ["reported_at"])
    op.drop_table("index_times")
    op.drop_table("index_rollup")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS index_hist_add(integer[], bigint[], integer[], bigint[])"
        )
    op.drop_index("ix_case_facts_open", table_name="case_facts")
    op.create_index(
        "ix_case_facts_open",
        "case_facts",
        ["reported_at"],
        postgresql_where=sa.text(OPEN_PREDICATE),
        sqlite_where=sa.text(OPEN_PREDICATE),
    )
