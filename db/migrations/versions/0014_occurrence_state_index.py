"""index occurrences by state and report time, so the office's queue reads the reports waiting, not the whole plan

Revision ID: 0014_occurrence_state_index
Revises: 0003_occurrence_task_index
Create Date: 2026-12-01
"""

from alembic import op


revision = '0014_occurrence_state_index'
down_revision = '0003_occurrence_task_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index('ix_occurrence_plan_state', ['plan_id', 'state', 'reported_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_occurrence_plan_state')
