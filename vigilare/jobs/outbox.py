"""Jobs are handed to the queue only after the transaction that asked for them commits.

A job queued inside a transaction that then rolls back must not run, and a job must never run
before the rows it reads are visible; so services record their jobs on the session, and the
boundary that owns the transaction (a request, or a job's ``unit_of_work``) commits and then
releases them to the queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.db.engine import SessionFactory
from vigilare.db.tenancy import tenant_scope
from vigilare.jobs.registry import JobFunction, spec_of

if TYPE_CHECKING:
    from vigilare.jobs.queue import JobQueue

_PENDING = "vigilare_pending_jobs"


@dataclass(frozen=True, slots=True)
class PendingJob:
    name: str
    args: tuple[Any, ...]
    job_id: str | None
    defer_seconds: float


def enqueue_after_commit(
    session: AsyncSession,
    job: JobFunction,
    *args: Any,
    job_id: str | None = None,
    defer_seconds: float = 0,
) -> None:
    """Run ``job(ctx, *args)`` once this session's transaction commits (never if it rolls back).

    ``job`` is a function registered with ``@job``; ``job_id`` dedupes: a job whose id is already
    queued or running is not queued again.
    """
    spec = spec_of(job)
    spec.check_arguments(args)
    session.info.setdefault(_PENDING, []).append(PendingJob(spec.name, args, job_id, defer_seconds))


def enqueue_each_after_commit(
    session: AsyncSession, job: JobFunction, calls: list[tuple[tuple[Any, ...], str | None]]
) -> None:
    """``enqueue_after_commit`` for many runs of one job (``(args, job_id)`` each) with arguments
    of one shape: checked once, not per run (the scheduler queues thousands of scans a tick)."""
    if not calls:
        return
    spec = spec_of(job)
    spec.check_arguments(calls[0][0])
    session.info.setdefault(_PENDING, []).extend(
        PendingJob(spec.name, args, job_id, 0) for args, job_id in calls
    )


def pending_jobs(session: AsyncSession) -> list[PendingJob]:
    return list(session.info.get(_PENDING, []))


def discard_pending(session: AsyncSession) -> None:
    session.info.pop(_PENDING, None)


async def flush_after_commit(session: AsyncSession, queue: JobQueue) -> None:
    """Hand the jobs queued on ``session`` to ``queue``; call it after a successful commit."""
    pending: list[PendingJob] = session.info.pop(_PENDING, [])
    for item in pending:
        await queue.enqueue(item.name, *item.args, job_id=item.job_id, defer_seconds=item.defer_seconds)


@asynccontextmanager
async def unit_of_work(
    session_factory: SessionFactory, queue: JobQueue, *, tenant_id: str | None = None
) -> AsyncIterator[AsyncSession]:
    """One session and one transaction: commit when the block ends, then release its jobs."""
    async with session_factory() as session:
        if tenant_id is not None:
            tenant_scope(session, tenant_id)
        try:
            yield session
            await session.commit()
        except BaseException:
            # Nothing was committed (leaving the session block rolls back): its jobs must not run.
            discard_pending(session)
            raise
        await flush_after_commit(session, queue)
