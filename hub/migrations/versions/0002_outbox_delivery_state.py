"""outbox delivery state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('destinations',
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('paused_until', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency'], ['agencies.code'], name=op.f('fk_destinations_agency_agencies')),
    sa.PrimaryKeyConstraint('agency', name=op.f('pk_destinations'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_index', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('ack_envelope_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_ack_envelope_id_envelopes'), 'envelopes', ['ack_envelope_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_ack_envelope_id_envelopes'), type_='foreignkey')
        batch_op.drop_column('ack_envelope_id')
        batch_op.drop_column('log_index')

    op.drop_table('destinations')
