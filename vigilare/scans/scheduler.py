"""Scheduled scans (recovery of scans whose run is gone is :mod:`vigilare.scans.recovery`).

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

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare import metrics
from vigilare.accounts.models import AwsAccount
from vigilare.auth.models import Tenant
from vigilare.billing.plans import get_plan
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, job
from vigilare.scans.dispatch import DispatchResult, dispatch_due
from vigilare.scans.service import VERIFY, create_scan

logger = logging.getLogger("vigilare.scheduler")


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
    dispatch: DispatchResult = field(default_factory=DispatchResult)


async def tick(session: AsyncSession, now: datetime | None = None) -> TickResult:
    """One tick at ``now`` (the wall clock unless given): dispatch every due account. The caller
    commits; the scans' jobs are written to the outbox with them."""
    now = now or utcnow()
    started = time.perf_counter()
    result = TickResult()
    result.dispatch = await dispatch_due(session, now)
    result.scheduled = result.dispatch.dispatched
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
    if result.scheduled:
        logger.info("scheduled %d scans", result.scheduled)
    return {"scheduled": result.scheduled}
