"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hub.models

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_th', sa.String(length=300), nullable=False),
    sa.Column('name_en', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('areas', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('roles', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_agencies'))
    )
    op.create_table('envelopes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.String(length=64), nullable=False),
    sa.Column('kid', sa.String(length=200), nullable=False),
    sa.Column('jws', sa.LargeBinary(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('jws_sha256', sa.String(length=64), nullable=False),
    sa.Column('issued_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('log_index', sa.BigInteger(), nullable=True),
    sa.Column('receipt', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_envelopes')),
    sa.UniqueConstraint('issuer', 'message_id', name='uq_envelopes_issuer_id')
    )
    with op.batch_alter_table('envelopes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_envelopes_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_envelopes_jws_sha256'), ['jws_sha256'], unique=False)

    op.create_table('log_nodes',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_nodes'))
    )
    op.create_table('log_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_state'))
    )
    # the single row every log append locks (see hub.models.LogState)
    op.execute("INSERT INTO log_state (id, size) VALUES (1, 0)")
    op.create_table('tree_heads',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('timestamp', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_tree_heads'))
    )
    op.create_table('used_tokens',
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('expires_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('issuer', 'jti', name=op.f('pk_used_tokens'))
    )
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('agency_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agency_code', sa.String(length=64), nullable=False),
    sa.Column('kid', sa.String(length=200), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('jwk', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('not_before', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('not_after', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_code'], ['agencies.code'], name=op.f('fk_agency_keys_agency_code_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_keys')),
    sa.UniqueConstraint('kid', name=op.f('uq_agency_keys_kid'))
    )
    with op.batch_alter_table('agency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_keys_agency_code'), ['agency_code'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=True),
    sa.Column('opened_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accept_due', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolve_due', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('merged_into', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner'], ['agencies.code'], name=op.f('fk_cases_owner_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('envelope_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('destination', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('forward_id', sa.String(length=128), nullable=False),
    sa.Column('forward_jws', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['destination'], ['agencies.code'], name=op.f('fk_deliveries_destination_agencies')),
    sa.ForeignKeyConstraint(['envelope_id'], ['envelopes.id'], name=op.f('fk_deliveries_envelope_id_envelopes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('forward_id', name=op.f('uq_deliveries_forward_id'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_destination_state', ['destination', 'state'], unique=False)
        batch_op.create_index('ix_deliveries_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_envelope_id'), ['envelope_id'], unique=False)

    op.create_table('log_leaves',
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('leaf_input', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('envelope_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['envelope_id'], ['envelopes.id'], name=op.f('fk_log_leaves_envelope_id_envelopes')),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_log_leaves'))
    )
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_leaves_leaf_hash'), ['leaf_hash'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.String(length=160), nullable=False),
    sa.Column('origin_agency', sa.String(length=64), nullable=False),
    sa.Column('origin_system', sa.String(length=64), nullable=False),
    sa.Column('origin_ref', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('province_code', sa.String(length=2), nullable=True),
    sa.Column('amphoe_code', sa.String(length=4), nullable=True),
    sa.Column('tambon_code', sa.String(length=6), nullable=True),
    sa.Column('reported_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('record', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('personal', sa.LargeBinary(), nullable=True),
    sa.Column('case_id', sa.String(length=64), nullable=True),
    sa.Column('envelope_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('tracking_code', sa.String(length=32), nullable=False),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_complaints_case_id_cases')),
    sa.ForeignKeyConstraint(['envelope_id'], ['envelopes.id'], name=op.f('fk_complaints_envelope_id_envelopes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('origin_system', 'origin_ref', name='uq_complaints_origin'),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_complaints_tracking_code'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_area', ['province_code', 'amphoe_code', 'tambon_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_reported_at'), ['reported_at'], unique=False)

    op.create_table('handoffs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_agency', sa.String(length=64), nullable=True),
    sa.Column('to_agency', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('envelope_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', hub.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', hub.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_handoffs_case_id_cases')),
    sa.ForeignKeyConstraint(['envelope_id'], ['envelopes.id'], name=op.f('fk_handoffs_envelope_id_envelopes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoffs'))
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoffs_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoffs_to_agency'), ['to_agency'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_to_agency'))
        batch_op.drop_index(batch_op.f('ix_handoffs_case_id'))

    op.drop_table('handoffs')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_reported_at'))
        batch_op.drop_index(batch_op.f('ix_complaints_category'))
        batch_op.drop_index(batch_op.f('ix_complaints_case_id'))
        batch_op.drop_index('ix_complaints_area')

    op.drop_table('complaints')
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_leaves_leaf_hash'))

    op.drop_table('log_leaves')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_envelope_id'))
        batch_op.drop_index('ix_deliveries_due')
        batch_op.drop_index('ix_deliveries_destination_state')

    op.drop_table('deliveries')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_owner'))

    op.drop_table('cases')
    with op.batch_alter_table('agency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_keys_agency_code'))

    op.drop_table('agency_keys')
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_tokens_expires_at'))

    op.drop_table('used_tokens')
    op.drop_table('tree_heads')
    op.drop_table('log_state')
    op.drop_table('log_nodes')
    with op.batch_alter_table('envelopes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_envelopes_jws_sha256'))
        batch_op.drop_index(batch_op.f('ix_envelopes_case_id'))

    op.drop_table('envelopes')
    op.drop_table('agencies')
