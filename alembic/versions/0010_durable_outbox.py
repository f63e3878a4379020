"""durable job outbox, scan lease fencing and recovery, delivery send claims

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

import vigilare.db.base
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNFINISHED = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "job_outbox",
        sa.Column("job_id", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("check_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handed_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_outbox")),
    )
    with op.batch_alter_table("job_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_outbox_check_at"), ["check_at"], unique=False)

    with op.batch_alter_table("aws_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_generation", sa.BigInteger(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handoffs", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("handed_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE scans SET handed_at = COALESCE(started_at, queued_at)")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.alter_column(
            "handed_at", existing_type=vigilare.db.base.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            "ix_scans_unfinished_handed_at",
            ["handed_at"],
            unique=False,
            postgresql_where=sa.text(UNFINISHED),
            sqlite_where=sa.text(UNFINISHED),
        )

    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sending_until", vigilare.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_column("sending_until")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_scans_unfinished_handed_at",
            postgresql_where=sa.text(UNFINISHED),
            sqlite_where=sa.text(UNFINISHED),
        )
        batch_op.drop_column("handed_at")
        batch_op.drop_column("handoffs")
    with op.batch_alter_table("aws_accounts", schema=None) as batch_op:
        batch_op.drop_column("lease_generation")
    with op.batch_alter_table("job_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_outbox_check_at"))
    op.drop_table("job_outbox")
