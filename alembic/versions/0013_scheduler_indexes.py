"""scheduler indexes: the due accounts and each account's unfinished scans as partial indexes; fewer
indexes on aws_accounts, whose rows the scheduler moves every interval

The scheduler's tick reads the active accounts due by ``next_scan_at``, oldest slot first
(``ix_aws_accounts_due``: only active accounts, in place of the index on every account's
``next_scan_at``), and whether each has a scan still queued or running
(``ix_scans_unfinished_account``: the few unfinished scans, not every scan an account had).

Each tick moves every due account's ``next_scan_at`` (an indexed column, so every index of the
row gets a new entry) and inserts a scan per due account: the indexes no query needs are dropped.
``ix_aws_accounts_tenant_id`` is covered by the unique (tenant_id, aws_account_id) index, and
``ix_aws_accounts_status`` (almost every account is active) by the tenant's rows;
``ix_scans_account_id`` by the indexes leading with account_id, and ``ix_scans_status`` (every
query on a scan's status is also by its account, or by the partial indexes of unfinished scans).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ACTIVE = "status = 'ACTIVE'"
# Unfinished scans, written as "not finished": the recovery index's rows ("queued or running")
# under another expression, so the planner does not take one index for the other.
NOT_FINISHED = "status NOT IN ('succeeded', 'partial', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("aws_accounts") as batch:
        batch.drop_index("ix_aws_accounts_next_scan_at")
        batch.drop_index("ix_aws_accounts_status")
        batch.drop_index("ix_aws_accounts_tenant_id")
        batch.create_index(
            "ix_aws_accounts_due",
            ["next_scan_at"],
            unique=False,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )
    with op.batch_alter_table("scans") as batch:
        batch.drop_index("ix_scans_account_id")
        batch.drop_index("ix_scans_status")
        batch.create_index(
            "ix_scans_unfinished_account",
            ["account_id"],
            unique=False,
            postgresql_where=sa.text(NOT_FINISHED),
            sqlite_where=sa.text(NOT_FINISHED),
        )


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_index("ix_scans_unfinished_account")
        batch.create_index("ix_scans_status", ["status"], unique=False)
        batch.create_index("ix_scans_account_id", ["account_id"], unique=False)
    with op.batch_alter_table("aws_accounts") as batch:
        batch.drop_index("ix_aws_accounts_due")
        batch.create_index("ix_aws_accounts_tenant_id", ["tenant_id"], unique=False)
        batch.create_index("ix_aws_accounts_status", ["status"], unique=False)
        batch.create_index("ix_aws_accounts_next_scan_at", ["next_scan_at"], unique=False)
