"""a token per claim on notifications, so a dispatcher marks only rows its own claim still holds (issue 14)

Revision ID: 0005_notification_claim_token
Revises: 0004_delivery_notification_index
Create Date: 2026-12-01
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005_notification_claim_token'
down_revision = '0004_delivery_notification_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('claim_token')
