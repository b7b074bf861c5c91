"""index deliveries by notification, so a run can find the delivery rows it just claimed (issue 4)

Revision ID: 0004_delivery_notification_index
Revises: 0001_initial
Create Date: 2026-11-28
"""

from alembic import op


revision = '0004_delivery_notification_index'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_notification', ['notification_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_notification')
