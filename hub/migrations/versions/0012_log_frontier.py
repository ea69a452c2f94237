"""log_state.frontier: the log's frontier travels with its lock

Every append (every intake, every round of acks) queues on the ``log_state`` row. It used to
lock the row, then read the frontier nodes from ``log_nodes`` in a statement of its own (a
statement that waited for the lock sees other tables as they were before the previous holder
committed, so the two could not share one). Kept in the locked row itself, the frontier
comes back with the lock: one round trip less while the whole hub waits.

Nullable and not back-filled: the next append after this migration finds NULL, reads the
frontier from ``log_nodes`` as before, and stores it.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("log_state", sa.Column("frontier", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("log_state", "frontier")
