"""index notifications by person, channel and time, so the SMS daily cap is counted without reading the outbox (issue 12)

Revision ID: 0013_notification_person_index
Revises: 0009_short_links
Create Date: 2026-12-01
"""

from alembic import op


revision = '0013_notification_person_index'
down_revision = '0009_short_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_person', ['person_id', 'channel', 'not_before'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_person')
