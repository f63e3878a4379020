"""Scheduled scans (recovery of scans whose run is gone is :mod:`vigilare.scans.recovery`).

Every ACTIVE account is scanned on its plan's interval. Each account has its own phase in the
interval (derived from its id) plus a little jitter, so a thousand accounts do not all start at
the top of the minute. A tick claims an account's due slot with a compare-and-set on
``next_scan_at``, so two ticks running at once (two workers, or a slow one) schedule it once.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.billing.enforcement import scanning_allowed
from vigilare.billing.plans import get_plan
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, job
from vigilare.scans.service import SCHEDULED, VERIFY, create_scan, unfinished_scan_exists

logger = logging.getLogger("vigilare.scheduler")

JITTER_FRACTION = 0.05
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
    return create_scan(session, account, VERIFY).id


def following_slot(account_id: str, interval: timedelta, due: datetime, now: datetime) -> datetime:
    jitter = timedelta(seconds=random.uniform(0, interval.total_seconds() * JITTER_FRACTION))
    candidate = due + interval
    if candidate <= now:  # we were down for a while: rejoin the phase instead of catching up
        candidate = first_scan_at(account_id, interval, now)
    return candidate + jitter


@dataclass
class TickResult:
    scheduled: int = 0


async def _schedule_due(session: AsyncSession, now: datetime) -> int:
    due = (
        await session.execute(
            select(AwsAccount, Tenant)
            .join(Tenant, Tenant.id == AwsAccount.tenant_id)
            .where(AwsAccount.status == ACTIVE, AwsAccount.next_scan_at <= now)
            .order_by(AwsAccount.next_scan_at)
            .limit(BATCH)
        )
    ).all()
    scheduled = 0
    for account, tenant in due:
        interval = interval_for(tenant)
        old_due = account.next_scan_at
        assert old_due is not None
        claimed = await session.execute(
            update(AwsAccount)
            .where(AwsAccount.id == account.id, AwsAccount.next_scan_at == old_due)
            .values(next_scan_at=following_slot(account.id, interval, old_due, now))
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue  # another tick took this slot
        if not scanning_allowed(tenant, now) or await unfinished_scan_exists(session, account.id):
            continue
        create_scan(session, account, SCHEDULED)
        scheduled += 1
    return scheduled


async def tick(session: AsyncSession, now: datetime | None = None) -> TickResult:
    now = now or utcnow()
    result = TickResult()
    result.scheduled = await _schedule_due(session, now)
    return result


@job("schedule_scans", max_tries=1, timeout=60, every=lambda settings: settings.scheduler_tick_seconds)
async def schedule_scans(ctx: JobContext) -> dict[str, int]:
    async with ctx.unit_of_work(cross_tenant=True) as session:
        result = await tick(session)
    if result.scheduled:
        logger.info("scheduled %d scans", result.scheduled)
    return {"scheduled": result.scheduled}
