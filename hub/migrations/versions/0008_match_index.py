"""ix_cases_lat_lon: the duplicate matcher finds nearby open cases by place first

hub.matching looks for open cases within ~150 m of a new complaint. With only the status
and time indexes, PostgreSQL read every open case (hundreds of thousands at national scale):
160 ms per complaint at 1M cases. A B-tree on (lat, lon) over unmerged cases answers the
box (a thin latitude band, then the longitude inside the index) in about half a millisecond
at 1M; a GiST on point(lon, lat) measured the same and would need an expression index that
SQLite and Alembic's model comparison cannot share.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_lat_lon",
        "cases",
        ["lat", "lon"],
        postgresql_where=sa.text("merged_into IS NULL"),
        sqlite_where=sa.text("merged_into IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_lat_lon", table_name="cases")
