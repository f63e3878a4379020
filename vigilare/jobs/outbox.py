"""The durable outbox: what must run is written in the transaction that needs it.

``enqueue_after_commit(session, job, *args)`` records the job on the session; when the session's
transaction commits, the job is written to ``job_outbox`` *in that transaction* (so it exists if
and only if the change that needs it committed), and after the commit it is handed to the queue at
once. When that hand-off fails (Redis unreachable) or the process dies right after the commit, the
row is still there: the relay (:mod:`vigilare.jobs.relay`) hands it over until the queue has it.
The row is deleted when its job has run to an end.

Every row has a job id (the caller's, or a new one): the queue dedupes on it, so a row handed over
twice is one job. A job whose id is already waiting in the outbox is not written again (the same
rule as the queue's: a job id that is queued or running is not queued twice).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from vigilare.db.engine import SessionFactory
from vigilare.db.tenancy import VigilareSession, tenant_scope
from vigilare.db.tenancy import cross_tenant as open_cross_tenant
from vigilare.ids import new_id, utcnow
from vigilare.jobs.bulk import BulkJobQueue
from vigilare.jobs.models import OutboxJob
from vigilare.jobs.registry import JobFunction, spec_of

if TYPE_CHECKING:
    from vigilare.jobs.queue import JobQueue

logger = logging.getLogger("vigilare.jobs")

_PENDING = "vigilare_pending_jobs"  # queued on the session, written when its transaction commits
_WRITTEN = "vigilare_written_jobs"  # written by the last commit, handed to the queue after it

# The relay looks at a row this long after its commit: by then the commit's own hand-off has
# normally put it in the queue (or the job has run and the row is gone).
FIRST_CHECK_AFTER = timedelta(seconds=5)
# The commit's own hand-off gives up after this long (the relay takes over): a request is not held
# up by an unreachable queue.
HANDOFF_TIMEOUT_SECONDS = 2.0
OUTBOX_ROWS_PER_STATEMENT = 2000
# Jobs handed to a queue that takes many at once, per call.
HANDOFF_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PendingJob:
    name: str
    args: tuple[Any, ...]
    job_id: str
    defer_seconds: float


def enqueue_after_commit(
    session: AsyncSession,
    job: JobFunction,
    *args: Any,
    job_id: str | None = None,
    defer_seconds: float = 0,
) -> None:
    """Run ``job(ctx, *args)`` once this session's transaction commits (never if it rolls back).

    ``job`` is a function registered with ``@job``; its arguments must be JSON values (they are
    stored in the outbox). ``job_id`` dedupes: a job whose id is already waiting or running is not
    queued again.
    """
    spec = spec_of(job)
    spec.check_arguments(args)
    try:
        json.dumps(args)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job {spec.name!r}: arguments must be JSON values: {exc}") from None
    pending = PendingJob(spec.name, args, job_id or f"job:{new_id()}", max(defer_seconds, 0.0))
    session.info.setdefault(_PENDING, []).append(pending)


def enqueue_each_after_commit(
    session: AsyncSession, job: JobFunction, calls: list[tuple[tuple[Any, ...], str | None]]
) -> None:
    """``enqueue_after_commit`` for many runs of one job (``(args, job_id)`` each) with arguments
    of one shape: checked once, not per run (the scheduler queues thousands of scans a tick)."""
    if not calls:
        return
    spec = spec_of(job)
    spec.check_arguments(calls[0][0])
    try:
        json.dumps(calls[0][0])
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job {spec.name!r}: arguments must be JSON values: {exc}") from None
    pending = session.info.setdefault(_PENDING, [])
    pending.extend(PendingJob(spec.name, args, job_id or f"job:{new_id()}", 0.0) for args, job_id in calls)


def pending_jobs(session: AsyncSession) -> list[PendingJob]:
    return list(session.info.get(_PENDING, []))


def discard_pending(session: AsyncSession) -> None:
    """Forget the jobs queued on the session so far (a commit that must not start them)."""
    session.info.pop(_PENDING, None)


@event.listens_for(VigilareSession, "before_commit")
def _write_outbox(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the jobs are written when the transaction itself commits
    pending: list[PendingJob] = session.info.pop(_PENDING, [])
    if not pending:
        return
    now = utcnow()
    unique = list({item.job_id: item for item in pending}.values())
    if session.get_bind().dialect.name == "postgresql":
        _insert_unnested(session, unique, now)
    else:
        _insert_rows(session, unique, now)
    session.info.setdefault(_WRITTEN, []).extend(unique)


# One statement whatever the number of jobs: a column per array, not a parameter per value (the
# scheduler's tick writes thousands of rows; building a VALUES list of them in Python took longer
# than the tick's own SQL).
_INSERT_UNNESTED = text(
    """
INSERT INTO job_outbox (job_id, name, args, created_at, available_at, check_at, handed_at, handoffs)
SELECT job.job_id, job.name, CAST(job.args AS json), CAST(:now AS timestamptz),
    CAST(:now AS timestamptz) + job.defer * interval '1 second',
    CAST(:now AS timestamptz) + (job.defer + :first_check) * interval '1 second', NULL, 0
FROM unnest(CAST(:job_ids AS varchar[]), CAST(:names AS varchar[]), CAST(:args AS text[]),
    CAST(:defers AS float8[])) AS job(job_id, name, args, defer)
ON CONFLICT (job_id) DO NOTHING
"""
)


def _insert_unnested(session: Session, jobs: list[PendingJob], now: datetime) -> None:
    session.execute(
        _INSERT_UNNESTED,
        {
            "now": now,
            "first_check": FIRST_CHECK_AFTER.total_seconds(),
            "job_ids": [item.job_id for item in jobs],
            "names": [item.name for item in jobs],
            "args": [json.dumps(list(item.args)) for item in jobs],
            "defers": [item.defer_seconds for item in jobs],
        },
    )


def _insert_rows(session: Session, jobs: list[PendingJob], now: datetime) -> None:
    rows = [
        {
            "job_id": item.job_id,
            "name": item.name,
            "args": list(item.args),
            "created_at": now,
            "available_at": now + timedelta(seconds=item.defer_seconds),
            "check_at": now + timedelta(seconds=item.defer_seconds) + FIRST_CHECK_AFTER,
            "handed_at": None,
            "handoffs": 0,
        }
        for item in jobs
    ]
    # In chunks: one statement's parameters stay bounded (a scheduler tick after downtime queues
    # tens of thousands of scans).
    for start in range(0, len(rows), OUTBOX_ROWS_PER_STATEMENT):
        chunk = rows[start : start + OUTBOX_ROWS_PER_STATEMENT]
        session.execute(
            sqlite.insert(OutboxJob).values(chunk).on_conflict_do_nothing(index_elements=["job_id"])
        )


@event.listens_for(VigilareSession, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        # The transaction is gone: what it queued, and what its failed commit wrote, never existed.
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)


@event.listens_for(VigilareSession, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)  # a transaction that ended without a commit


async def flush_after_commit(session: AsyncSession, queue: JobQueue) -> None:
    """Hand the jobs the last commit wrote to ``queue`` (call it after a successful commit).

    Never raises for the queue: the jobs are in the outbox, and the relay hands over what this
    could not.
    """
    written: list[PendingJob] = session.info.pop(_WRITTEN, [])
    if not written:
        return
    handed = 0
    try:
        async with asyncio.timeout(HANDOFF_TIMEOUT_SECONDS):
            if isinstance(queue, BulkJobQueue):
                # Thousands of jobs (a scheduler tick) in a few round trips, not three per job.
                for start in range(0, len(written), HANDOFF_CHUNK):
                    chunk = written[start : start + HANDOFF_CHUNK]
                    await queue.enqueue_many(
                        [(item.name, item.args, item.job_id, item.defer_seconds) for item in chunk]
                    )
                    handed += len(chunk)
                return
            for item in written:
                await queue.enqueue(
                    item.name, *item.args, job_id=item.job_id, defer_seconds=item.defer_seconds
                )
                handed += 1
    except Exception as exc:
        logger.warning(
            "the queue did not take %d job(s) after the commit (%s: %s); the outbox relay hands them over",
            len(written) - handed,
            type(exc).__name__,
            exc,
        )


async def delete_outbox_row(session: AsyncSession, job_id: str) -> None:
    """The job's outbox row is done, in ``session``'s transaction (a cross-tenant one: the outbox is
    every tenant's)."""
    await session.execute(delete(OutboxJob).where(OutboxJob.job_id == job_id))


async def job_finished(session_factory: SessionFactory, job_id: str) -> None:
    """The job ran to an end: its outbox row is done. A failure here only means the relay will
    find the job finished (or hand it once more: jobs are idempotent)."""
    try:
        async with session_factory() as session:
            open_cross_tenant(session)  # the outbox is every tenant's
            await delete_outbox_row(session, job_id)
            await session.commit()
    except Exception:
        logger.warning("could not mark job %s done in the outbox", job_id, exc_info=True)


@asynccontextmanager
async def unit_of_work(
    session_factory: SessionFactory,
    queue: JobQueue,
    *,
    tenant_id: str | None = None,
    cross_tenant: bool = False,
) -> AsyncIterator[AsyncSession]:
    """One session and one transaction: commit when the block ends (the jobs queued in it are
    written to the outbox by that commit), then hand them to the queue.

    The session is either one tenant's (``tenant_id``) or, said explicitly, every tenant's
    (``cross_tenant=True``; see ``vigilare.db.tenancy``).
    """
    if (tenant_id is None) == (not cross_tenant):
        raise ValueError("a unit of work is one tenant's (tenant_id=...) or cross_tenant=True, not both")
    async with session_factory() as session:
        if tenant_id is not None:
            tenant_scope(session, tenant_id)
        else:
            open_cross_tenant(session)
        try:
            yield session
            await session.commit()
        except BaseException:
            # Nothing was committed (leaving the session block rolls back): its jobs must not run.
            discard_pending(session)
            raise
        await flush_after_commit(session, queue)
