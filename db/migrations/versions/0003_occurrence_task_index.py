"""index occurrences by task, for the items a unit co-owns (issue 5: web lists)

Revision ID: 0003_occurrence_task_index
Revises: 0002_web_sessions
Create Date: 2026-11-28
"""

from alembic import op


revision = '0003_occurrence_task_index'
down_revision = '0002_web_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index('ix_occurrence_plan_task', ['plan_id', 'task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_occurrence_plan_task')
