"""index search tables: complaint_texts and index_parties, kept by the index's fold

Revision ID: 0009
Revises: 0008

``complaint_texts`` is one narrow row per complaint (case, channel, origin, the scrubbed
text and the case's province) with its own trigram GIN index: the text search rechecks its
candidates there instead of in the two-kilobyte ``complaints`` rows. ``index_parties`` is
every (case, agency) pair with the case's ``reported_at``: an agency's own newest cases are
one index range. Both are kept by ``hub.index_facts.fold`` from the same dirty queue as
``case_facts``; the backfill is two set-based statements on PostgreSQL, before the indexes
(one sorted build each). SQLite gets the empty tables (its index reads the live tables).
The folded tables get a lower autovacuum threshold (see ``upgrade``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.models
from hub.index_facts import rebuild_search

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None

FOLDED = ("complaint_texts", "index_parties", "case_facts", "index_cube", "index_dirty")


def upgrade() -> None:
    when = hub.models.UTCDateTime(timezone=True)
    op.create_table(
        "complaint_texts",
        sa.Column("complaint_id", sa.String(length=160), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("origin_system", sa.String(length=64), nullable=False),
        sa.Column("public_text", sa.Text(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaint_texts")),
    )
    op.create_table(
        "index_parties",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("reported_at", when, nullable=True),
        sa.PrimaryKeyConstraint("case_id", "agency", name=op.f("pk_index_parties")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        rebuild_search(op.get_bind())
    op.create_index("ix_complaint_texts_case", "complaint_texts", ["case_id"])
    op.create_index("ix_complaint_texts_province", "complaint_texts", ["province_code"])
    op.create_index(
        "ix_complaint_texts_trgm",
        "complaint_texts",
        ["public_text"],
        postgresql_using="gin",
        postgresql_ops={"public_text": "gin_trgm_ops"},
        sqlite_where=sa.text("0"),
    )
    op.create_index(
        "ix_index_parties_agency_reported", "index_parties", ["agency", "reported_at", "case_id"]
    )
    if postgres:
        op.execute("ANALYZE complaint_texts")
        op.execute("ANALYZE index_parties")
        # Every fold deletes and rewrites rows of these: at the default 20 % a million-row
        # table waits for 200k dead rows before autovacuum, and until then its index-only
        # and bitmap scans visit the heap (at 1M, 90k refolded cases left 90k dead rows in
        # case_facts and no autovacuum had come). 2 % keeps them near their loaded shape.
        for table in FOLDED:
            op.execute(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
                "autovacuum_analyze_scale_factor = 0.02)"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in FOLDED[2:]:
            op.execute(
                f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, "
                "autovacuum_analyze_scale_factor)"
            )
    op.drop_table("index_parties")
    op.drop_table("complaint_texts")
