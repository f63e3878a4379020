"""``unit_of_work``: one transaction that commits, and only then hands its queued jobs to the queue;
a block that fails commits nothing and queues nothing. Jobs are queued by the function, checked
when queued, and a tenant-scoped unit of work sees and writes one tenant's rows only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.ids import new_id, utcnow
from vigilare.jobs import JobContext, enqueue_after_commit, job
from vigilare.jobs.outbox import pending_jobs


@job("tests.jobs.greet_tenant")
async def greet_tenant(ctx: JobContext, tenant_id: str, greeting: str = "hello") -> None:
    """Queued by these tests; never run."""


async def not_a_job(ctx: JobContext, tenant_id: str) -> None:
    """An async function nobody registered with @job."""


class CommitCheckingQueue:
    """Records each job with whether the rows it names were visible to another session then."""

    def __init__(self, db: SessionFactory) -> None:
        self.db = db
        self.jobs: list[tuple[str, tuple[Any, ...], str | None, bool]] = []

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        async with self.db() as other:
            committed = await other.get(Tenant, args[0]) is not None
        self.jobs.append((name, args, job_id, committed))
        return job_id

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass


def _context(settings: Settings, db: SessionFactory) -> tuple[JobContext, CommitCheckingQueue]:
    queue = CommitCheckingQueue(db)
    return JobContext(settings=settings, session_factory=db, queue=queue), queue


def _tenant(name: str) -> Tenant:
    return Tenant(id=new_id(), name=name, plan="team", status="active")


async def test_commits_then_hands_the_jobs_to_the_queue(settings, db):
    ctx, queue = _context(settings, db)
    tenant = _tenant("committed")
    async with ctx.unit_of_work(cross_tenant=True) as session:
        session.add(tenant)
        enqueue_after_commit(session, greet_tenant, tenant.id, "hi", job_id=f"greet:{tenant.id}")
        assert queue.jobs == []  # nothing leaves before the commit
    assert queue.jobs == [("tests.jobs.greet_tenant", (tenant.id, "hi"), f"greet:{tenant.id}", True)]
    assert pending_jobs(session) == []


async def test_a_failed_block_commits_nothing_and_queues_nothing(settings, db):
    ctx, queue = _context(settings, db)
    tenant = _tenant("rolled back")
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with ctx.unit_of_work(cross_tenant=True) as session:
            session.add(tenant)
            await session.flush()
            enqueue_after_commit(session, greet_tenant, tenant.id)
            raise RuntimeError("changed my mind")
    assert queue.jobs == []
    assert pending_jobs(session) == []
    async with db() as other:
        assert await other.get(Tenant, tenant.id) is None


async def test_a_job_is_queued_by_its_function_and_its_arguments_are_checked(settings, db):
    ctx, queue = _context(settings, db)
    async with ctx.unit_of_work(cross_tenant=True) as session:
        with pytest.raises(TypeError, match="is not a job"):
            enqueue_after_commit(session, not_a_job, "t")
        with pytest.raises(TypeError, match=r"job .tests\.jobs\.greet_tenant. cannot take"):
            enqueue_after_commit(session, greet_tenant)  # tenant_id is missing
        with pytest.raises(TypeError, match=r"job .tests\.jobs\.greet_tenant. cannot take"):
            enqueue_after_commit(session, greet_tenant, "t", "hi", "one too many")
        assert pending_jobs(session) == []
    assert queue.jobs == []


async def _account(session, tenant: Tenant, aws_account_id: str) -> AwsAccount:
    account = AwsAccount(
        id=new_id(),
        tenant_id=tenant.id,
        aws_account_id=aws_account_id,
        external_id="x",
        role_name="VigilareAudit",
        status=ACTIVE,
        connected_at=utcnow(),
        tags=[],
        capabilities={},
    )
    session.add(account)
    return account


async def test_a_tenant_scoped_unit_of_work_sees_and_writes_one_tenant(settings, db):
    ctx, queue = _context(settings, db)
    mine, theirs = _tenant("mine"), _tenant("theirs")
    async with ctx.unit_of_work(cross_tenant=True) as session:
        session.add_all([mine, theirs])
        await session.flush()
        await _account(session, mine, "111111111111")
        await _account(session, theirs, "222222222222")

    async with ctx.unit_of_work(tenant_id=mine.id) as session:
        seen = list(await session.scalars(select(AwsAccount.aws_account_id)))
        tenants = list(await session.scalars(select(Tenant.id)))
    assert seen == ["111111111111"] and tenants == [mine.id]

    with pytest.raises(PermissionError):
        async with ctx.unit_of_work(tenant_id=mine.id) as session:
            await _account(session, theirs, "333333333333")
            enqueue_after_commit(session, greet_tenant, theirs.id)
    assert queue.jobs == [] and pending_jobs(session) == []  # the commit failed: dropped
    async with db() as other:
        accounts = await other.scalars(
            select(AwsAccount.aws_account_id).where(AwsAccount.tenant_id == theirs.id)
        )
        assert list(accounts) == ["222222222222"]
