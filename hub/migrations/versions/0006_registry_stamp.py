"""registry_state: a stamp every change to the agency registry replaces

Lets each process keep the active agencies in memory and re-read them only when the stamp
moved (hub.routing.snapshot): at national scale (~7,800 local governments) reading every
agency in every intake transaction cost ~160 ms.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_state")),
    )
    op.bulk_insert(table, [{"id": 1, "stamp": 1}])


def downgrade() -> None:
    op.drop_table("registry_state")
