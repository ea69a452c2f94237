"""cases timeline parties routing rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('routing_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('area', sa.String(length=6), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency'], ['agencies.code'], name=op.f('fk_routing_rules_agency_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules')),
    sa.UniqueConstraint('area', 'category', 'agency', name='uq_routing_rules_key')
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_area'), ['area'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('status_from', sa.String(length=32), nullable=True),
    sa.Column('status_to', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('envelope_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('log_index', sa.BigInteger(), nullable=True),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.ForeignKeyConstraint(['envelope_id'], ['envelopes.id'], name=op.f('fk_case_events_envelope_id_envelopes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_parties',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('since', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_parties_case_id_cases')),
    sa.PrimaryKeyConstraint('case_id', 'agency', 'role', name=op.f('pk_case_parties'))
    )
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_parties_agency'), ['agency'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_agency', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('summary', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', hub.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.String(length=16), nullable=False))
        batch_op.add_column(sa.Column('accept_breached_at', hub.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolve_breached_at', hub.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('escalation_level', sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column('reopen_count', sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('amphoe_code', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('tambon_code', sa.String(length=6), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_merged_into'), ['merged_into'], unique=False)

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', hub.models.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('due_at')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_merged_into'))
        batch_op.drop_column('tambon_code')
        batch_op.drop_column('amphoe_code')
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
        batch_op.drop_column('reopen_count')
        batch_op.drop_column('escalation_level')
        batch_op.drop_column('resolve_breached_at')
        batch_op.drop_column('accept_breached_at')
        batch_op.drop_column('priority')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('summary')
        batch_op.drop_column('outcome')
        batch_op.drop_column('origin_agency')

    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_parties_agency'))

    op.drop_table('case_parties')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rules_area'))

    op.drop_table('routing_rules')
