"""account scan state

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("aws_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_state", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("aws_accounts", schema=None) as batch_op:
        batch_op.drop_column("scan_state")
