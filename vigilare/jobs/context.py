"""What every job function receives: configuration, the shared clients of its process, which run
of the job this is, and the unit of work that commits and then hands queued jobs to the queue."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.jobs.outbox import delete_outbox_row, unit_of_work
from vigilare.jobs.registry import DEFAULT_MAX_TRIES, JobSpec

if TYPE_CHECKING:
    from vigilare.jobs.queue import JobQueue


@dataclass
class JobContext:
    settings: Settings
    session_factory: SessionFactory
    queue: JobQueue
    # The run: which job, which attempt (1 for the first) out of how many; set by the executor.
    job_name: str = ""
    attempt: int = 1
    max_tries: int = DEFAULT_MAX_TRIES
    # The run's job id (its outbox row's), and whether the run's last transaction deleted that row
    # (then the executor does not delete it in a transaction of its own).
    job_id: str = ""
    outbox_row_done: bool = False
    # Process-wide clients a test or an embedding shares with every job (same dict for every run).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def is_last_attempt(self) -> bool:
        """True when a ``Retry`` from this run would not be run again."""
        return self.attempt >= self.max_tries

    def for_run(self, spec: JobSpec, attempt: int, job_id: str = "") -> JobContext:
        """The context of one run of ``spec`` (the process-wide parts are shared)."""
        return dataclasses.replace(
            self,
            job_name=spec.name,
            attempt=attempt,
            max_tries=spec.max_tries,
            job_id=job_id,
            outbox_row_done=False,
        )

    def unit_of_work(
        self, tenant_id: str | None = None, *, cross_tenant: bool = False
    ) -> AbstractAsyncContextManager[AsyncSession]:
        """A session whose transaction commits when the block ends, then releases its jobs.

        Jobs queued with ``enqueue_after_commit`` inside the block go to the queue after the
        commit; when the block raises, nothing is committed and they are dropped. With
        ``tenant_id`` the session sees and writes that tenant's rows only (and PostgreSQL's
        row-level security holds it there); a job that acts across tenants, or finds its tenant
        from its own rows, says so with ``cross_tenant=True``.
        """
        return unit_of_work(self.session_factory, self.queue, tenant_id=tenant_id, cross_tenant=cross_tenant)

    @asynccontextmanager
    async def final_unit_of_work(
        self, tenant_id: str | None = None, *, cross_tenant: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """:meth:`unit_of_work` for the job's last transaction: the job's outbox row is deleted in
        it (the job has ended once it commits), not in a transaction of its own after the run.
        Use it only where the run ends when the block does (it returns, it does not retry)."""
        async with self.unit_of_work(tenant_id, cross_tenant=cross_tenant) as session:
            yield session
            if self.job_id:
                await delete_outbox_row(session, self.job_id)
        self.outbox_row_done = bool(self.job_id)
