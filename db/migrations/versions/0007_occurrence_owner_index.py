"""index occurrences by owner, so `duban status --owner` reads one owner's items, not the whole plan (issue 12)

Revision ID: 0007_occurrence_owner_index
Revises: 0003_occurrence_task_index
Create Date: 2026-11-30
"""

from alembic import op


revision = '0007_occurrence_owner_index'
down_revision = '0003_occurrence_task_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index('ix_occurrence_plan_owner', ['plan_id', 'owner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_occurrence_plan_owner')
