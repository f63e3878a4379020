"""Scheduled scans and recovery of scans whose worker died.

Every ACTIVE account is scanned on its plan's interval, at its own fixed place in the interval
(derived from its id), so a thousand accounts do not all start at the top of the minute and the
schedule never drifts. Dispatch is set-based, bounded only by how many accounts are due, and safe
with several schedulers at once: see ``vigilare.scans.dispatch``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare import metrics
from vigilare.accounts.models import AwsAccount
from vigilare.auth.models import Tenant
from vigilare.billing.plans import get_plan
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, enqueue_after_commit, job
from vigilare.scans.dispatch import DispatchResult, dispatch_due
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import QUEUED, RUNNING, Scan
from vigilare.scans.service import VERIFY, create_scan, scan_job_id

logger = logging.getLogger("vigilare.scheduler")

# A queued scan whose job never started (lost between commit and enqueue, or retries exhausted).
QUEUED_STALE_AFTER = timedelta(minutes=5)
BATCH = 500


def phase_offset(account_id: str, interval: timedelta) -> timedelta:
    """The account's fixed place in the interval, spread evenly by a hash of its id."""
    digest = int.from_bytes(hashlib.sha256(account_id.encode()).digest()[:8], "big")
    return timedelta(seconds=digest % max(int(interval.total_seconds()), 1))


def interval_for(tenant: Tenant) -> timedelta:
    return timedelta(minutes=get_plan(tenant.plan).scan_interval_minutes)


def first_scan_at(account_id: str, interval: timedelta, now: datetime) -> datetime:
    """The next slot of the account's phase after ``now``."""
    epoch_seconds = int(now.timestamp())
    period = max(int(interval.total_seconds()), 1)
    offset = int(phase_offset(account_id, interval).total_seconds())
    slot = epoch_seconds - (epoch_seconds % period) + offset
    if slot <= epoch_seconds:
        slot += period
    return datetime.fromtimestamp(slot, tz=now.tzinfo)


def start_monitoring(session: AsyncSession, account: AwsAccount, tenant: Tenant, now: datetime) -> str:
    """Scans of an account that just became active: its place in the schedule and a first scan
    now (queued after the commit). Returns the first scan's id."""
    account.next_scan_at = first_scan_at(account.id, interval_for(tenant), now)
    return create_scan(session, account, VERIFY, now).id


@dataclass
class TickResult:
    scheduled: int = 0
    recovered: int = 0
    dispatch: DispatchResult = field(default_factory=DispatchResult)


async def _recover_stuck(session: AsyncSession, now: datetime) -> int:
    """Re-enqueue scans whose worker died (lease lapsed) or whose job never ran."""
    running = (
        await session.execute(
            select(Scan, AwsAccount)
            .join(AwsAccount, AwsAccount.id == Scan.account_id)
            .where(Scan.status == RUNNING)
            .limit(BATCH)
        )
    ).all()
    recovered = 0
    for scan, account in running:
        lapsed = account.lease_scan_id != scan.id or account.lease_until is None or account.lease_until < now
        if lapsed:
            enqueue_after_commit(session, run_scan, scan.id, job_id=scan_job_id(scan.id, scan.attempts))
            recovered += 1
    stale = await session.scalars(
        select(Scan).where(Scan.status == QUEUED, Scan.queued_at < now - QUEUED_STALE_AFTER).limit(BATCH)
    )
    for scan in stale:
        attempt = int((now - scan.queued_at).total_seconds() // QUEUED_STALE_AFTER.total_seconds())
        enqueue_after_commit(session, run_scan, scan.id, job_id=scan_job_id(scan.id, 1000 + attempt))
        recovered += 1
    return recovered


async def tick(session: AsyncSession, now: datetime | None = None) -> TickResult:
    """One tick at ``now`` (the wall clock unless given): dispatch every due account, recover
    stuck scans. The caller commits; the scans' jobs are queued after the commit."""
    now = now or utcnow()
    started = time.perf_counter()
    result = TickResult()
    result.dispatch = await dispatch_due(session, now)
    result.scheduled = result.dispatch.dispatched
    result.recovered = await _recover_stuck(session, now)
    _record_metrics(result.dispatch, time.perf_counter() - started)
    if result.dispatch.skipped_slots:
        logger.warning(
            "the scheduler is late: %d slots passed without their scan (one scan dispatched each)",
            result.dispatch.skipped_slots,
        )
    return result


def _record_metrics(dispatch: DispatchResult, seconds: float) -> None:
    metrics.SCHEDULER_TICK.observe(seconds)
    metrics.SCHEDULER_DISPATCHED.inc(dispatch.dispatched)
    metrics.SCHEDULER_SKIPPED_SLOTS.inc(dispatch.skipped_slots)
    for reason, count in (
        ("busy", dispatch.busy),
        ("blocked", dispatch.blocked),
        ("duplicate", dispatch.duplicates),
    ):
        if count:
            metrics.SCHEDULER_NOT_DISPATCHED.labels(reason).inc(count)
    for lag in dispatch.lags:
        metrics.SCHEDULER_START_LAG.observe(lag)


@job("schedule_scans", max_tries=1, timeout=60, every=lambda settings: settings.scheduler_tick_seconds)
async def schedule_scans(ctx: JobContext) -> dict[str, int]:
    try:
        depth, oldest_wait = await ctx.queue.backlog()
        metrics.QUEUE_DEPTH.set(depth)
        metrics.QUEUE_OLDEST_WAIT.set(oldest_wait)
    except Exception:  # a gauge is not worth a tick
        logger.warning("could not read the queue's backlog", exc_info=True)
    async with ctx.unit_of_work(cross_tenant=True) as session:
        result = await tick(session)
    if result.scheduled or result.recovered:
        logger.info("scheduled %d scans, recovered %d", result.scheduled, result.recovered)
    return {"scheduled": result.scheduled, "recovered": result.recovered}
