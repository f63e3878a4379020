"""The durable outbox: a job exists if and only if the transaction that asked for it committed, and
it runs even when the queue could not take it at commit time, lost it (a Redis restart without
persistence), or was handed it twice — on a private Redis this test may stop and restart, with the
real arq worker, and on the in-process executor over SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import select

from tests.fixtures.app import make_settings
from tests.support.db import cross_tenant_factory
from tests.support.private_services import PrivateRedis
from tests.support.waiting import eventually
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory, create_engine
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, utcnow
from vigilare.jobs import JobContext, enqueue_after_commit, job, unit_of_work
from vigilare.jobs.bulk import QueuedJob
from vigilare.jobs.models import OutboxJob
from vigilare.jobs.queue import ArqQueue, InProcessQueue, create_queue
from vigilare.jobs.relay import relay_once
from vigilare.jobs.worker import create_worker

# Runs of the test job, by key (the arq worker of these tests runs in this process).
RUNS: Counter[str] = Counter()


@job("tests.outbox.count_run")
async def count_run(ctx: JobContext, key: str) -> None:
    RUNS[key] += 1


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def on_private_redis(settings: Settings, private_redis: PrivateRedis) -> Settings:
    return msgspec.structs.replace(settings, redis_url=private_redis.url, outbox_relay_seconds=0.2)


async def _rows(db: SessionFactory) -> dict[str, OutboxJob]:
    async with db() as session:
        return {row.job_id: row for row in await session.scalars(select(OutboxJob))}


async def _tenant_exists(db: SessionFactory, tenant_id: str) -> bool:
    async with db() as session:
        return await session.get(Tenant, tenant_id) is not None


class _DeadQueue:
    """A queue that never takes anything: the process died right after the commit."""

    async def enqueue(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("gone")


async def _commit_with_job(db: SessionFactory, queue: object, key: str) -> str:
    tenant_id = new_id()
    async with unit_of_work(db, queue, cross_tenant=True) as session:  # type: ignore[arg-type]
        session.add(Tenant(id=tenant_id, name=key, plan="team", status="active"))
        enqueue_after_commit(session, count_run, key, job_id=f"count:{key}")
    return tenant_id


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    """The real arq worker (and its outbox relay), in this event loop, until the block ends."""
    worker = create_worker(settings, handle_signals=False, poll_delay=0.05, cron_jobs=[])
    task = asyncio.create_task(worker.main())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


async def test_a_job_is_written_with_the_change_that_needs_it_and_not_without(settings, db):
    queue = InProcessQueue(settings, db)
    try:
        key = uuid.uuid4().hex
        tenant_id = await _commit_with_job(db, _DeadQueue(), key)
        rows = await _rows(db)
        # Committed together: the change and the job that must follow it.
        assert await _tenant_exists(db, tenant_id)
        assert list(rows) == [f"count:{key}"]
        assert rows[f"count:{key}"].name == "tests.outbox.count_run" and rows[f"count:{key}"].args == [key]

        with pytest.raises(RuntimeError):
            async with unit_of_work(db, queue, cross_tenant=True) as session:
                session.add(Tenant(id=new_id(), name="rolled back", plan="team", status="active"))
                enqueue_after_commit(session, count_run, "never", job_id="count:never")
                raise RuntimeError("the change fails")
        assert list(await _rows(db)) == [f"count:{key}"]  # neither the change nor its job

        # The same job id while it still waits: written once (as the queue would queue it once).
        await _commit_with_job(db, _DeadQueue(), key)
        assert list(await _rows(db)) == [f"count:{key}"]
    finally:
        await queue.close()


async def _ran(key: str, times: int = 1) -> bool:
    return RUNS[key] >= times


async def _runs_once_and_leaves_the_outbox(db: SessionFactory, key: str) -> None:
    await eventually(lambda: _ran(key), timeout=30)

    async def row_gone() -> bool:
        return f"count:{key}" not in await _rows(db)

    await eventually(row_gone, timeout=10)
    await asyncio.sleep(1)  # and not again
    assert RUNS[key] == 1


async def test_a_job_committed_while_redis_is_down_runs_once_redis_is_back(
    on_private_redis, private_redis, db
):
    queue = await ArqQueue.connect(on_private_redis)
    key = uuid.uuid4().hex
    try:
        private_redis.kill()
        # The commit stands (a request would answer), although the queue refused the job.
        tenant_id = await _commit_with_job(db, queue, key)
        assert await _tenant_exists(db, tenant_id)
        assert (await _rows(db))[f"count:{key}"].handed_at is None
        await asyncio.sleep(1)
        assert RUNS[key] == 0

        private_redis.start()  # an empty Redis: it never had the job; the worker's relay hands it over
        async with running_worker(on_private_redis):
            await _runs_once_and_leaves_the_outbox(db, key)
    finally:
        await queue.close()


async def test_a_job_redis_lost_in_a_restart_is_handed_over_again(on_private_redis, private_redis, db):
    queue = await ArqQueue.connect(on_private_redis)
    key = uuid.uuid4().hex
    try:
        await _commit_with_job(db, queue, key)  # handed over at once: Redis has it, no worker yet
        assert set(await queue.states([f"count:{key}"])) == {f"count:{key}"}
    finally:
        await queue.close()
    private_redis.kill()
    private_redis.start()  # without persistence: the queued job is gone
    queue = await ArqQueue.connect(on_private_redis)
    try:
        assert await queue.states([f"count:{key}"]) == {}
    finally:
        await queue.close()
    async with running_worker(on_private_redis):
        await _runs_once_and_leaves_the_outbox(db, key)


class _CountingQueue(ArqQueue):
    """The real arq queue, counting the calls the relay makes to it."""

    calls: Counter[str]

    async def enqueue(self, *args: Any, **kwargs: Any) -> str | None:
        self.calls["enqueue"] += 1
        return await super().enqueue(*args, **kwargs)

    async def enqueue_many(self, jobs: Sequence[QueuedJob]) -> int:
        self.calls["enqueue_many"] += 1
        return await super().enqueue_many(jobs)


async def test_every_job_a_redis_restart_lost_is_handed_back_in_one_pass_of_one_call(
    on_private_redis, private_redis, db
):
    keys = [uuid.uuid4().hex for _ in range(300)]
    async with unit_of_work(db, _DeadQueue(), cross_tenant=True) as session:  # type: ignore[arg-type]
        session.add(Tenant(id=new_id(), name="many", plan="team", status="active"))
        for key in keys:
            enqueue_after_commit(session, count_run, key, job_id=f"count:{key}")
    queue = await _CountingQueue.connect(on_private_redis)
    assert isinstance(queue, _CountingQueue)
    queue.calls = Counter()
    try:
        relayed = await relay_once(db, queue, period_seconds=1, now=utcnow() + timedelta(seconds=30))
        job_ids = [f"count:{key}" for key in keys]
        # 300 jobs in one script call (arq's own enqueue is three round trips a job).
        assert relayed.handed == 300 and queue.calls == Counter(enqueue_many=1)
        assert set(await queue.states(job_ids)) == set(job_ids)
        rows = await _rows(db)
        assert all(rows[job_id].handoffs == 1 for job_id in job_ids)
    finally:
        await queue.close()
    async with running_worker(on_private_redis):
        for key in keys[:3]:
            await _runs_once_and_leaves_the_outbox(db, key)


async def test_a_job_handed_over_twice_runs_once(on_private_redis, db):
    queue = await ArqQueue.connect(on_private_redis)
    key = uuid.uuid4().hex
    try:
        await _commit_with_job(db, _DeadQueue(), key)  # the process died right after the commit
        later = utcnow() + timedelta(seconds=30)
        # Two relays at once (two workers) and then a third pass: one of them hands the job over,
        # the others find it in the queue.
        passes = await asyncio.gather(
            relay_once(db, queue, period_seconds=1, now=later),
            relay_once(db, queue, period_seconds=1, now=later),
        )
        again = await relay_once(db, queue, period_seconds=1, now=later + timedelta(minutes=5))
        assert sum(p.handed for p in passes) == 1 and again.handed == 0 and again.held == 1
        # A relay that died after handing it over (before recording it) is followed by one that
        # hands it again under the same id: still one job.
        assert await queue.enqueue("tests.outbox.count_run", key, job_id=f"count:{key}") is None
        row = (await _rows(db))[f"count:{key}"]
        assert row.handoffs == 1 and row.handed_at is not None
    finally:
        await queue.close()
    worker = create_worker(on_private_redis, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
    try:
        await asyncio.wait_for(worker.main(), timeout=30)
    finally:
        await worker.close()
    assert RUNS[key] == 1
    assert await _rows(db) == {}


@pytest.fixture
async def sqlite_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    settings = make_settings(
        tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}",
        outbox_relay_seconds=0.2,
    )
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    yield settings


async def test_the_embedded_executor_runs_what_a_dead_process_left_in_the_outbox(sqlite_settings):
    engine = create_engine(sqlite_settings.database_url)
    db = cross_tenant_factory(engine)
    key = uuid.uuid4().hex
    try:
        await _commit_with_job(db, _DeadQueue(), key)  # the last API process died after the commit
        queue = await create_queue(sqlite_settings, db)  # the next one starts: its relay finds it
        try:
            await _runs_once_and_leaves_the_outbox(db, key)
        finally:
            await queue.close()
    finally:
        await engine.dispose()
