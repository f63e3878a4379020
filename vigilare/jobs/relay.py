"""The outbox relay: hands the queue every outbox row it does not hold, until the job has run.

Each pass takes the rows due for a look (``check_at`` passed; oldest first, locked so that relays
of several processes share the work), asks the queue which of their jobs it holds, and:

- the queue holds it (waiting or running): note it as handed over, look again later;
- the queue remembers it finished: the row is done (its job could not say so itself);
- the queue does not know it (never handed: Redis was down at commit time, or the process died
  right after the commit; or lost: Redis restarted without persistence): hand it over again,
  under the same job id, so a second hand-off of a job still queued is one job.

The worker runs the relay (``vigilare worker``), and so does the API process when it runs jobs
itself (no Redis). A row is deleted by the executor when its job runs to an end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from vigilare.db.engine import SessionFactory
from vigilare.db.tenancy import cross_tenant
from vigilare.ids import utcnow
from vigilare.jobs.bulk import BulkJobQueue
from vigilare.jobs.models import OutboxJob
from vigilare.jobs.state import JobState

if TYPE_CHECKING:
    from vigilare.jobs.queue import JobQueue

logger = logging.getLogger("vigilare.jobs.relay")

BATCH = 500
# A row handed over this many times without its job ever running to an end is given up (logged):
# a job the queue keeps losing, or one no worker can run.
MAX_HANDOFFS = 25


@dataclass
class RelayPass:
    looked_at: int = 0  # rows due for a look
    handed: int = 0  # handed to the queue (again)
    held: int = 0  # found in the queue
    finished: int = 0  # found finished: rows deleted
    abandoned: int = 0


def recheck_after(period_seconds: float) -> timedelta:
    """How long a job the queue holds is left alone before the relay looks again."""
    return timedelta(seconds=max(3 * period_seconds, 5.0))


async def relay_once(
    session_factory: SessionFactory,
    queue: JobQueue,
    *,
    period_seconds: float,
    now: datetime | None = None,
    batch: int = BATCH,
) -> RelayPass:
    """One pass over the rows due for a look. Raises when the queue cannot be asked (nothing is
    changed then: the next pass tries again)."""
    now = now or utcnow()
    result = RelayPass()
    async with session_factory() as session:
        cross_tenant(session)  # the outbox holds every tenant's jobs
        rows = list(
            await session.scalars(
                select(OutboxJob)
                .where(OutboxJob.check_at <= now)
                .order_by(OutboxJob.check_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return result
        result.looked_at = len(rows)
        states = await queue.states([row.job_id for row in rows])
        recheck = now + recheck_after(period_seconds)
        done: list[str] = []
        lost: list[OutboxJob] = []
        try:
            for row in rows:
                state = states.get(row.job_id)
                if state is JobState.FINISHED:
                    done.append(row.job_id)
                    result.finished += 1
                elif state is not None:
                    row.handed_at = row.handed_at or now
                    row.check_at = recheck
                    result.held += 1
                elif row.handoffs >= MAX_HANDOFFS:
                    logger.error(
                        "job %s (%s) was handed to the queue %d times and never ran to an end; giving up",
                        row.job_id,
                        row.name,
                        row.handoffs,
                    )
                    done.append(row.job_id)
                    result.abandoned += 1
                else:
                    lost.append(row)
            for row in await _hand_over(queue, lost, now):
                row.handoffs += 1
                row.handed_at = now
                row.check_at = max(recheck, row.available_at + recheck_after(period_seconds))
                result.handed += 1
        finally:
            # What was handed over is recorded even when the queue failed part-way through.
            if done:
                await session.execute(delete(OutboxJob).where(OutboxJob.job_id.in_(done)))
            await session.commit()
    if result.handed:
        logger.info("outbox relay handed %d job(s) to the queue", result.handed)
    return result


async def _hand_over(queue: JobQueue, rows: list[OutboxJob], now: datetime) -> list[OutboxJob]:
    """Hand ``rows``' jobs to the queue under their own ids; returns the rows handed over. A queue
    that takes many jobs at once gets them in one script call per chunk (after a Redis restart
    without persistence, every job it held is lost at once), else one ``enqueue`` each."""
    if not rows:
        return []
    jobs = [
        (row.name, tuple(row.args), row.job_id, max((row.available_at - now).total_seconds(), 0.0))
        for row in rows
    ]
    if isinstance(queue, BulkJobQueue):
        await queue.enqueue_many(jobs)
        return rows
    handed = []
    try:
        for row, (name, args, job_id, defer) in zip(rows, jobs, strict=True):
            await queue.enqueue(name, *args, job_id=job_id, defer_seconds=defer)
            handed.append(row)
    except Exception:
        if not handed:
            raise
        # Record what the queue took before it failed; the rest is looked at again next pass.
        logger.warning("the queue failed after taking %d of %d job(s)", len(handed), len(rows), exc_info=True)
    return handed


async def run_relay(session_factory: SessionFactory, queue: JobQueue, period_seconds: float) -> None:
    """Relay passes every ``period_seconds`` until cancelled; a failed pass is logged and retried."""
    while True:
        try:
            while True:
                done = await relay_once(session_factory, queue, period_seconds=period_seconds)
                if done.looked_at < BATCH:
                    break  # else a backlog: keep going without waiting
        except Exception as exc:
            logger.warning("outbox relay pass failed (%s: %s); trying again", type(exc).__name__, exc)
        await asyncio.sleep(period_seconds)


def start_relay(
    session_factory: SessionFactory, queue: JobQueue, period_seconds: float
) -> asyncio.Task[None]:
    return asyncio.create_task(run_relay(session_factory, queue, period_seconds), name="outbox-relay")


async def stop_relay(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
