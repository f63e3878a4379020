"""scan slots: the slot a scheduled scan is for, one scan per slot of an account; periodic job runs

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

import vigilare.db.base
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(
            sa.Column("scheduled_for", vigilare.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("uq_scans_account_slot", "scans", ["account_id", "scheduled_for"], unique=True)
    op.create_table(
        "periodic_runs",
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("started_at", vigilare.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("runner", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot", name=op.f("pk_periodic_runs")),
    )


def downgrade() -> None:
    op.drop_table("periodic_runs")
    op.drop_index("uq_scans_account_slot", table_name="scans")
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("scheduled_for")
