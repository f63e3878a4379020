"""Recovery of scans whose run is gone: handed to the queue again, within the configured lease and
tick, and never while a run of the scan may still hold the lease.

Each tick looks, in one query, at the unfinished scans untouched for a lease's length (oldest
first, ``SKIP LOCKED`` so that several ticks share them):

- a *running* scan whose lease lapsed (its worker died or lost the database; the run stops itself
  before its lease can lapse) or went to no one;
- a *queued* scan: its job may be waiting behind others, or it was taken by a worker that died
  before marking the scan running, or it failed every try, or Redis lost it.

It asks the queue about each scan's current job: a job still waiting in the queue is left to run
(the scan is looked at again a lease later); any other is replaced by a new job, under the next job
id (``scan:<id>:recover:<n>``), written to the outbox with the scan's hand-off count. The lease
decides which run scans: a second job of the same scan finds it running or finished.

A run that dies at time T is recovered by T + lease + tick, and the scan then ends within its
timeout: every scan ends within lease + tick + scan timeout of its worker's death.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, JobQueue, JobState, enqueue_after_commit, job
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import FAILED, QUEUED, Scan
from vigilare.scans.service import scan_job_id

logger = logging.getLogger("vigilare.scans.recovery")

BATCH = 500
# A scan handed over this many times without ever running to an end fails, saying so.
MAX_HANDOFFS = 10
# Literal, so that PostgreSQL uses the partial index on unfinished scans.
UNFINISHED = text("scans.status IN ('queued', 'running')")


@dataclass
class Recovery:
    handed: int = 0  # given a new job
    waiting: int = 0  # their job still waits in the queue
    failed: int = 0  # handed over too often


async def recover_scans(session: AsyncSession, queue: JobQueue, now: datetime, lease: timedelta) -> Recovery:
    """One recovery pass, in the caller's transaction (the new jobs are queued at its commit)."""
    result = Recovery()
    lapsed = or_(
        AwsAccount.lease_scan_id.is_(None),
        AwsAccount.lease_scan_id != Scan.id,
        AwsAccount.lease_until.is_(None),
        AwsAccount.lease_until < now,
    )
    candidates = (
        await session.execute(
            select(Scan.id, Scan.handoffs)
            .join(AwsAccount, AwsAccount.id == Scan.account_id)
            .where(UNFINISHED, Scan.handed_at <= now - lease, or_(Scan.status == QUEUED, lapsed))
            .order_by(Scan.handed_at, Scan.id)
            .limit(BATCH)
            .with_for_update(of=Scan, skip_locked=True)
        )
    ).all()
    if not candidates:
        return result
    current = {row.id: scan_job_id(row.id, row.handoffs) for row in candidates}
    states = await queue.states(list(current.values()))
    waiting = [scan_id for scan_id, job_id in current.items() if states.get(job_id) is JobState.WAITING]
    gone = [row for row in candidates if row.id not in set(waiting)]
    give_up = [row.id for row in gone if row.handoffs >= MAX_HANDOFFS]
    hand = [row for row in gone if row.handoffs < MAX_HANDOFFS]
    if waiting:
        await session.execute(
            update(Scan)
            .where(Scan.id.in_(waiting))
            .values(handed_at=now)
            .execution_options(synchronize_session=False)
        )
    if give_up:
        await session.execute(
            update(Scan)
            .where(Scan.id.in_(give_up))
            .values(
                status=FAILED,
                finished_at=now,
                error=f"the scan could not be run: its job was handed to a worker {MAX_HANDOFFS + 1} times",
            )
            .execution_options(synchronize_session=False)
        )
        logger.error("gave up %d scan(s) handed over %d times", len(give_up), MAX_HANDOFFS + 1)
    if hand:
        await session.execute(
            update(Scan)
            .where(Scan.id.in_([row.id for row in hand]))
            .values(handoffs=Scan.handoffs + 1, handed_at=now)
            .execution_options(synchronize_session=False)
        )
        for row in hand:
            enqueue_after_commit(session, run_scan, row.id, job_id=scan_job_id(row.id, row.handoffs + 1))
    result.handed, result.waiting, result.failed = len(hand), len(waiting), len(give_up)
    return result


@job("recover_scans", max_tries=1, timeout=60, every=lambda settings: settings.scheduler_tick_seconds)
async def recover_scans_job(ctx: JobContext) -> dict[str, int]:
    lease = timedelta(seconds=ctx.settings.scan_lease_seconds)
    async with ctx.unit_of_work(cross_tenant=True) as session:
        result = await recover_scans(session, ctx.queue, utcnow(), lease)
    if result.handed or result.failed:
        logger.warning("recovered %d scan(s) whose run was gone; %d failed", result.handed, result.failed)
    return {"handed": result.handed, "waiting": result.waiting, "failed": result.failed}
