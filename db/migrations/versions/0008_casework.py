"""items the office hands out (交办) and problems to rectify (问题清单): a task's origin, source and who handed
it out; an occurrence's deadline before a granted extension (issue 15)

Revision ID: 0008_casework
Revises: 0006_occurrence_superseded_at
Create Date: 2026-11-30
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0008_casework'
down_revision = '0006_occurrence_superseded_at'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='catalog'))
        batch_op.add_column(sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('assigned_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original_due', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_column('original_due')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('assigned_by')
        batch_op.drop_column('source')
        batch_op.drop_column('origin')
