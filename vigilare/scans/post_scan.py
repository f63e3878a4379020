"""What follows a completed scan: capability notes on the account, its new score, and alert
evaluation (whose deliveries are queued for after the commit). Runs inside the scan's recording
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.ids import utcnow
from vigilare.scanner import ScanReport
from vigilare.scans.models import Scan
from vigilare.scoring.service import rescore
from vigilare.signals.models import Signal

CLOUDTRAIL_EVENTS = "cloudtrail_events"
NO_TRAIL_REASON = (
    'No CloudTrail trail is logging in this account: EventBridge gets no "AWS API Call via CloudTrail" '
    "events (StopLogging, IAM changes, root sign-ins) to push to Vigilare until one is. Scans still read "
    "the 90-day CloudTrail event history."
)


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
    trail = trail_events_capability(report)
    if trail is not None:
        available, reason = trail
        capabilities[CLOUDTRAIL_EVENTS] = {
            "available": available,
            "reason": reason,
            "checked_at": checked_at.isoformat(),
        }
    return capabilities


def trail_events_capability(report: ScanReport) -> tuple[bool, str] | None:
    """Whether CloudTrail-delivered events can reach EventBridge (and so Vigilare's push ingest):
    only while a trail logs. None when the scan did not read every region's trails (it failed
    somewhere, or the trails were not due)."""
    trails_by_region = (report.evidence.get("data") or {}).get("cloudtrail.trails")
    read = set(report.coverage.get("cloudtrail.trails", ()))
    if (
        not isinstance(trails_by_region, dict)
        or any(error.key == "cloudtrail.trails" for error in report.collection_errors)
        or not set(report.regions) <= read
    ):
        return None
    logging_trails = [
        trail
        for trails in trails_by_region.values()
        for trail in trails or []
        if (trail.get("Status") or {}).get("IsLogging") is True
    ]
    if logging_trails:
        return True, ""
    return False, NO_TRAIL_REASON


async def after_scan(
    session: AsyncSession,
    account: AwsAccount,
    scan: Scan,
    report: ScanReport,
    open_signals: Sequence[Signal] | None = None,
    today_point: int | None = None,
) -> None:
    """Runs after the scan's findings are applied, in the same transaction (``open_signals``: the
    account's open signals as applying them left them, so they are not read again; ``today_point``:
    the score today's history point holds, if known, :func:`vigilare.scoring.service.rescore`)."""
    now = scan.finished_at or utcnow()
    account.capabilities = capabilities_from(report, account.capabilities or {}, now)
    await rescore(session, account, now, open_signals, today_point=today_point)
    await evaluate_rules(session, account, now, open_signals)
