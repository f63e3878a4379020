"""alert rules: INFO is no longer a severity

Scenarios never emit INFO (there are four severities, CRITICAL to LOW), so a rule's minimum of INFO
matched exactly what LOW matches. Such rules become LOW; matching is unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE alert_rules SET min_severity = 'LOW' WHERE min_severity = 'INFO'"))


def downgrade() -> None:
    """Nothing to undo: LOW matches what INFO matched."""
