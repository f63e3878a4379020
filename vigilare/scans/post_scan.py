"""What follows a completed scan: capability notes on the account, its new score, and alert
evaluation (whose deliveries are queued for after the commit). Runs inside the scan's recording
transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.ids import utcnow
from vigilare.scanner import ScanReport
from vigilare.scans.lifecycle import LifecycleChange
from vigilare.scans.models import Scan
from vigilare.scoring.service import rescore

# AWS error codes that mean "your AWS plan does not allow this API", not "something broke".
CAPABILITY_ERRORS = {
    "SubscriptionRequiredException": "not available on this account's AWS support plan",
    "OptInRequired": "the service is not enabled in this account",
}


def capabilities_from(report: ScanReport, previous: dict[str, Any]) -> dict[str, Any]:
    capabilities = dict(previous)
    for error in report.collection_errors:
        service = error.key.split(".", 1)[0] if error.key else "unknown"
        for code, reason in CAPABILITY_ERRORS.items():
            if code in error.error:
                capabilities[f"{service}_api"] = False
                capabilities[f"{service}_api_reason"] = reason
    return capabilities


async def after_scan(
    session: AsyncSession, account: AwsAccount, scan: Scan, report: ScanReport, change: LifecycleChange
) -> None:
    """Runs after the findings are applied (``change`` says which signals opened and resolved)."""
    account.capabilities = capabilities_from(report, account.capabilities or {})
    now = scan.finished_at or utcnow()
    await rescore(session, account, now)
    await evaluate_rules(session, account, now)
