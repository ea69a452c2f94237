"""index fast path: case_facts, index_cube and the index_dirty queue

Revision ID: 0007
Revises: 0006

``case_facts`` is one narrow row per case (what the index's statistics, map and counts
filter and aggregate on, the complaints' channels, origins and ratings folded in);
``index_cube`` sums it by Bangkok month, province, category, status, breached and merged;
``index_dirty`` is the queue writers append to (see ``hub.index_facts``). The backfill is
two set-based statements on PostgreSQL; SQLite gets the empty tables (its index reads the
live tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.models
from hub.index_facts import rebuild

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

OPEN_PREDICATE = "status NOT IN ('closed', 'merged', 'rejected', 'resolved')"


def upgrade() -> None:
    json_type = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = hub.models.UTCDateTime(timezone=True)
    op.create_table(
        "index_dirty",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_dirty")),
    )
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("amphoe_code", sa.String(length=4), nullable=True),
        sa.Column("tambon_code", sa.String(length=6), nullable=True),
        sa.Column("reported_at", when, nullable=True),
        sa.Column("resolved_at", when, nullable=True),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("accept_h", sa.Float(precision=53), nullable=True),
        sa.Column("resolve_h", sa.Float(precision=53), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("channels", json_type, nullable=False),
        sa.Column("origins", json_type, nullable=False),
        sa.Column("sat_sum", sa.Integer(), nullable=False),
        sa.Column("sat_n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_facts")),
    )
    measures = [
        sa.Column(name, sa.Float(precision=53) if name.endswith("_sum") and name[0] == "l"
                  else sa.BigInteger(), nullable=False)
        for name in (
            "n", "resolved", "reopened", "ever_resolved", "sat_sum", "sat_n",
            "lat_sum", "lat_n", "lon_sum", "lon_n",
        )
    ]  # fmt: skip
    op.create_table(
        "index_cube",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        *measures,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_cube")),
        sa.UniqueConstraint(
            "month", "province_code", "category", "status", "breached", "merged",
            name="uq_index_cube_cell",
        ),
    )  # fmt: skip

    if op.get_bind().dialect.name == "postgresql":
        rebuild(op.get_bind())  # before the indexes: one sorted build each, not 1M inserts

    op.create_index("ix_index_cube_province", "index_cube", ["province_code"])
    op.create_index("ix_index_cube_category", "index_cube", ["category"])
    for name, column in (
        ("ix_case_facts_province", "province_code"),
        ("ix_case_facts_category", "category"),
        ("ix_case_facts_owner", "owner"),
        ("ix_case_facts_amphoe", "amphoe_code"),
        ("ix_case_facts_reported", "reported_at"),
    ):
        op.create_index(name, "case_facts", [column])
    op.create_index(
        "ix_case_facts_open",
        "case_facts",
        ["reported_at"],
        postgresql_where=sa.text(OPEN_PREDICATE),
        sqlite_where=sa.text(OPEN_PREDICATE),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE case_facts")
        op.execute("ANALYZE index_cube")


def downgrade() -> None:
    op.drop_table("index_cube")
    op.drop_table("case_facts")
    op.drop_table("index_dirty")
