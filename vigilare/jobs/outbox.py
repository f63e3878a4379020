"""Jobs are handed to the queue only after the transaction that asked for them commits.

A job queued inside a transaction that then rolls back must not run, and a job must never run
before the rows it reads are visible; so services record their jobs on the session and the
request or job boundary flushes them after a successful commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.jobs.queue import JobQueue

_PENDING = "vigilare_pending_jobs"


def enqueue_after_commit(
    session: AsyncSession, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
) -> None:
    session.info.setdefault(_PENDING, []).append((name, args, job_id, defer_seconds))


def discard_pending(session: AsyncSession) -> None:
    session.info.pop(_PENDING, None)


async def flush_after_commit(session: AsyncSession, queue: JobQueue) -> None:
    pending = session.info.pop(_PENDING, [])
    for name, args, job_id, defer_seconds in pending:
        await queue.enqueue(name, *args, job_id=job_id, defer_seconds=defer_seconds)
