"""short links for SMS and revocable calendar feeds (issue 13)

Revision ID: 0009_short_links
Revises: 0007_occurrence_owner_index
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009_short_links'
down_revision = '0007_occurrence_owner_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('short_link',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('code')
    )
    with op.batch_alter_table('short_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_short_link_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('short_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_short_link_person_id'))
    op.drop_table('short_link')
