"""drop the index on delivery.notification_id: a run writes each delivery row once with its notification's id,
reserved beforehand (issue 12), and no longer finds its rows again by a placeholder; every insert paid for it

Revision ID: 0015_delivery_notification_drop
Revises: 0005_notification_claim_token
Create Date: 2026-12-01
"""

from alembic import op


revision = '0015_delivery_notification_drop'
down_revision = '0005_notification_claim_token'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_notification')


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_notification', ['notification_id'], unique=False)
