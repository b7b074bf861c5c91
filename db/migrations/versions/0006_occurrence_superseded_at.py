"""when a periodic occurrence is superseded by a later period, after which, still open, it is missed (issue 10)

Revision ID: 0006_occurrence_superseded_at
Revises: 0003_occurrence_task_index
Create Date: 2026-12-01
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006_occurrence_superseded_at'
down_revision = '0003_occurrence_task_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_column('superseded_at')
