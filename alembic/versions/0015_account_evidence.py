"""account evidence: the latest evidence of every data key, kept on the account

A scheduled scan collects only the data keys that are due; the panic package still needs the
latest data of every key. Until now each such scan copied the previous scan's evidence into its own
row, overlaid with what it read: about 40 KB of JSON stored again every five minutes per account
(terabytes a day at 100,000 accounts). The merged evidence now lives on the account
(``aws_accounts.evidence``, replaced by each completed scan) and a scan's row keeps what that scan
read. Filled here from each account's latest completed scan, which held the merged evidence.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 16:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


SYSTEM_ROLE = "vigilare_system"  # revision 0011: the cross-tenant role, every tenant's rows
FILL = """
UPDATE aws_accounts SET evidence = coalesce((
    SELECT scans.evidence FROM scans
    WHERE scans.account_id = aws_accounts.id AND scans.status IN ('succeeded', 'partial')
    ORDER BY scans.finished_at DESC
    LIMIT 1
), evidence)
"""


# Back: the code before this revision reads the merged evidence from the latest completed scan.
UNFILL = """
UPDATE scans SET evidence = (SELECT evidence FROM aws_accounts WHERE aws_accounts.id = scans.account_id)
WHERE scans.id = (
    SELECT latest.id FROM scans AS latest
    WHERE latest.account_id = scans.account_id AND latest.status IN ('succeeded', 'partial')
    ORDER BY latest.finished_at DESC
    LIMIT 1
)
"""


def _as_cross_tenant_role(statement: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security is forced on both tables, for their owner too: the statement runs as
        # the cross-tenant role, which the migrating role may switch to (revision 0011).
        op.execute(f"SET LOCAL ROLE {SYSTEM_ROLE}")
        op.execute(statement)
        op.execute("RESET ROLE")
    else:
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("aws_accounts") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=False, server_default="{}"))
    _as_cross_tenant_role(FILL)


def downgrade() -> None:
    _as_cross_tenant_role(UNFILL)
    with op.batch_alter_table("aws_accounts") as batch:
        batch.drop_column("evidence")
