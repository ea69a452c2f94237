"""national index: scrubbed searchable text, satisfaction, first-reported time, indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

``complaints.public_text`` is scrub(subject + description): the only text the index
searches, so nobody finds a complaint by its reporter's phone number. On PostgreSQL it gets
a pg_trgm GIN index (Thai has no spaces: word full-text search fails, trigrams do not).
``complaints.satisfaction`` is the citizen's 1-5 rating from the record's extensions.
``cases.reported_at`` is the earliest reported_at of the case's complaints. Existing rows
are backfilled here with the same functions the ORM listeners use (hub.models).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models
from hub.models import satisfaction_of
from hub.privacy import public_text

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

complaints = sa.table(
    "complaints",
    sa.column("id", sa.String),
    sa.column("subject", sa.String),
    sa.column("description", sa.Text),
    sa.column("record", sa.JSON),
    sa.column("public_text", sa.Text),
    sa.column("satisfaction", sa.SmallInteger),
)


def upgrade() -> None:
    """No step rebuilds ``cases`` on SQLite: copying a table that other tables reference
    breaks their foreign keys (hence ``cases.reported_at`` stays nullable in the schema;
    the model's default and the backfill fill it). ``complaints`` is referenced by nothing,
    so rebuilding it to drop the temporary default is safe."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_text", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("satisfaction", sa.SmallInteger(), nullable=True))
    op.add_column(
        "cases", sa.Column("reported_at", hub.models.UTCDateTime(timezone=True), nullable=True)
    )

    _backfill_complaints(bind)
    op.execute(
        "UPDATE cases SET reported_at = COALESCE("
        "(SELECT MIN(c.reported_at) FROM complaints c WHERE c.case_id = cases.id), opened_at)"
    )

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.alter_column("public_text", existing_type=sa.Text(), server_default=None)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_reported", ["reported_at", "id"], unique=False)
        batch_op.create_index("ix_cases_resolved", ["resolved_at", "id"], unique=False)
        batch_op.create_index(
            "ix_cases_province_reported", ["province_code", "reported_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_category_reported", ["category", "reported_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_status_reported", ["status", "reported_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_owner_reported", ["owner", "reported_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cases_amphoe_code"), ["amphoe_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_tambon_code"), ["tambon_code"], unique=False)
    with op.batch_alter_table("case_parties", schema=None) as batch_op:
        batch_op.create_index("ix_case_parties_agency_case", ["agency", "case_id"], unique=False)
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_channel_case", ["channel", "case_id"], unique=False)
        batch_op.create_index(
            "ix_complaints_origin_case", ["origin_system", "case_id"], unique=False
        )
        batch_op.create_index(
            "ix_complaints_rated",
            ["case_id", "satisfaction"],
            unique=False,
            postgresql_where=sa.text("satisfaction IS NOT NULL"),
            sqlite_where=sa.text("satisfaction IS NOT NULL"),
        )
    op.create_index(
        "ix_complaints_public_text_trgm",
        "complaints",
        ["public_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"public_text": "gin_trgm_ops"},
        sqlite_where=sa.text("0"),  # SQLite scans; an index that holds no row
    )


def _backfill_complaints(bind: sa.engine.Connection) -> None:
    """Keyset batches, so a large table is never held in memory at once."""
    after = ""
    while True:
        rows = bind.execute(
            sa.select(
                complaints.c.id,
                complaints.c.subject,
                complaints.c.description,
                complaints.c.record,
            )
            .where(complaints.c.id > after)
            .order_by(complaints.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(complaints)
            .where(complaints.c.id == sa.bindparam("cid"))
            .values(public_text=sa.bindparam("text"), satisfaction=sa.bindparam("stars")),
            [
                {
                    "cid": cid,
                    "text": public_text(subject, description),
                    "stars": satisfaction_of(record),
                }
                for cid, subject, description, record in rows
            ],
        )
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_complaints_public_text_trgm", table_name="complaints")
    # IF EXISTS: databases migrated by an early draft of this revision lack these three
    for name in ("ix_complaints_rated", "ix_complaints_origin_case", "ix_complaints_channel_case"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("case_parties", schema=None) as batch_op:
        batch_op.drop_index("ix_case_parties_agency_case")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_tambon_code"))
        batch_op.drop_index(batch_op.f("ix_cases_amphoe_code"))
        batch_op.drop_index("ix_cases_owner_reported")
        batch_op.drop_index("ix_cases_status_reported")
        batch_op.drop_index("ix_cases_category_reported")
        batch_op.drop_index("ix_cases_province_reported")
        batch_op.drop_index("ix_cases_resolved")
        batch_op.drop_index("ix_cases_reported")
    op.drop_column("cases", "reported_at")  # SQLite >= 3.35 drops it in place, no rebuild
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("public_text")
