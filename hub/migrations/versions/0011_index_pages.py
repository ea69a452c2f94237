"""case_facts keyset indexes: a page of the index for every filter column and every sort

The index's search pages are read from ``case_facts`` (one narrow row per case, kept by the
fold off the writers' path) instead of ``cases``. A page is ``ORDER BY (sort key, case id)``
under the filters; PostgreSQL answers it in a bounded number of rows only when an index
has the filter's column first and then the sort key: otherwise it either walks the whole
sort index discarding rows (at 1M, an amphoe's resolved cases newest first walked 212,299
rows of ``cases`` past the open cases' NULLs, 340 ms) or gathers every match and sorts it.
So: ``(reported_at, case_id)`` and ``(resolved_at, case_id)``, and the same behind each
filter column a page can be narrowed by (province, amphoe, tambon, category, status,
owner). About 60 MB each at 1M cases; none is on an intake transaction's path (only the
fold writes ``case_facts``). The ``(status, ...)`` indexes also let a status count be an
index-only scan.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels = None
depends_on = None

FILTERED = ("province_code", "amphoe_code", "tambon_code", "category", "status", "owner")
SORTED = ("reported_at", "resolved_at")


def names() -> list[tuple[str, list[str]]]:
    """Every (index name, columns) this migration makes, as ``hub.models.CaseFacts``
    declares them."""
    out = [(f"ix_case_facts_page_{key.removesuffix('_at')}", [key, "case_id"]) for key in SORTED]
    for column in FILTERED:
        short = column.removesuffix("_code")
        out += [
            (f"ix_case_facts_{short}_{key.removesuffix('_at')}", [column, key, "case_id"])
            for key in SORTED
        ]
    return out


def upgrade() -> None:
    for name, columns in names():
        op.create_index(name, "case_facts", columns)


def downgrade() -> None:
    for name, _ in reversed(names()):
        op.drop_index(name, table_name="case_facts")
