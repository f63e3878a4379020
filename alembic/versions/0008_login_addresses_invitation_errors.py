"""known login addresses, invitation send errors

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

import vigilare.db.base
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_login_addresses",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("last_login_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_known_login_addresses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_known_login_addresses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_login_addresses")),
        sa.UniqueConstraint("user_id", "address_hash", name=op.f("uq_known_login_addresses_user_id")),
    )
    with op.batch_alter_table("known_login_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_login_addresses_tenant_id"), ["tenant_id"], unique=False)
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_error", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("send_error")
    with op.batch_alter_table("known_login_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_login_addresses_tenant_id"))
    op.drop_table("known_login_addresses")
