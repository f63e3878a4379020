"""What follows a completed scan: capability notes on the account, its new score, and alert
evaluation (whose deliveries are queued for after the commit). Runs inside the scan's recording
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.ids import utcnow
from vigilare.scanner import ScanReport
from vigilare.scans.models import Scan
from vigilare.scoring.service import rescore


def capabilities_from(report: ScanReport, previous: dict[str, Any], checked_at: datetime) -> dict[str, Any]:
    """The account's capabilities after this scan: what collectors recorded replaces what was known.

    ``{"health_api": {"available": false, "reason": "...", "checked_at": "..."}}``; a capability
    this scan did not look at keeps its last known value.
    """
    capabilities = {name: value for name, value in previous.items() if isinstance(value, dict)}
    for capability in report.capabilities:
        capabilities[capability.name] = {
            "available": capability.available,
            "reason": capability.reason,
            "checked_at": checked_at.isoformat(),
        }
    return capabilities


async def after_scan(session: AsyncSession, account: AwsAccount, scan: Scan, report: ScanReport) -> None:
    """Runs after the scan's findings are applied, in the same transaction."""
    now = scan.finished_at or utcnow()
    account.capabilities = capabilities_from(report, account.capabilities or {}, now)
    await rescore(session, account, now)
    await evaluate_rules(session, account, now)
