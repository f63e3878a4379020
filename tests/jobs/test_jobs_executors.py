"""Both executors (the in-process queue and an arq worker on the real Redis) run a job exactly as its
``@job`` declares: at most ``max_tries`` runs, each cut off at ``timeout`` (and then not retried),
and each run's context says which attempt it is and whether it is the last."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections import defaultdict

import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.net import free_port
from tests.support.services import REDIS_URL
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory, create_engine
from vigilare.db.tenancy import cross_tenant
from vigilare.jobs import JobContext, Retry, enqueue_after_commit, job, unit_of_work
from vigilare.jobs.models import OutboxJob
from vigilare.jobs.queue import ArqQueue, InProcessQueue
from vigilare.jobs.registry import JobFunction
from vigilare.jobs.worker import YOUNG_GC_THRESHOLD, create_worker

# What each run saw: (attempt, max_tries, is_last_attempt), per test key.
RUNS: dict[str, list[tuple[int, int, bool]]] = defaultdict(list)
CANCELLED: set[str] = set()


def _record(ctx: JobContext, key: str) -> None:
    RUNS[key].append((ctx.attempt, ctx.max_tries, ctx.is_last_attempt))


@job("tests.jobs.always_retry_3", max_tries=3)
async def always_retry_3(ctx: JobContext, key: str) -> None:
    _record(ctx, key)
    raise Retry(defer_seconds=0)


@job("tests.jobs.always_retry_2", max_tries=2)
async def always_retry_2(ctx: JobContext, key: str) -> None:
    _record(ctx, key)
    raise Retry(defer_seconds=0)


@job("tests.jobs.second_time_lucky", max_tries=4)
async def second_time_lucky(ctx: JobContext, key: str) -> str:
    _record(ctx, key)
    if ctx.attempt < 2:
        raise Retry(defer_seconds=0)
    return "done"


@job("tests.jobs.too_slow", max_tries=3, timeout=0.3)
async def too_slow(ctx: JobContext, key: str) -> None:
    _record(ctx, key)
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        CANCELLED.add(key)
        raise


@job("tests.jobs.database_down_once", max_tries=3)
async def database_down_once(ctx: JobContext, key: str) -> str:
    _record(ctx, key)
    if ctx.attempt == 1:  # a real connection refused by a database that is not there
        engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/down")
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()
    return "done"


@job("tests.jobs.a_bug", max_tries=3)
async def a_bug(ctx: JobContext, key: str) -> None:
    _record(ctx, key)
    raise ValueError("a bug, not an outage")


async def _run(
    executor: str, settings: Settings, db: SessionFactory, function: JobFunction, key: str
) -> None:
    """Queue ``function(key)`` the way business code does, and let the executor run it dry."""
    if executor == "in-process":
        queue = InProcessQueue(settings, db)
        try:
            async with unit_of_work(db, queue, cross_tenant=True) as session:
                enqueue_after_commit(session, function, key)
            await queue.drain(timeout=20)
        finally:
            await queue.close()
        return
    configured = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    arq_queue = await ArqQueue.connect(configured)
    try:
        async with unit_of_work(db, arq_queue, cross_tenant=True) as session:
            enqueue_after_commit(session, function, key)
    finally:
        await arq_queue.close()
    worker = create_worker(configured, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
    try:
        await asyncio.wait_for(worker.main(), timeout=30)
    finally:
        await worker.close()


EXECUTORS = ["in-process", "arq"]


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize(
    ("function", "max_tries"), [(always_retry_3, 3), (always_retry_2, 2)], ids=["max_tries=3", "max_tries=2"]
)
async def test_a_job_runs_at_most_its_own_max_tries(executor, function, max_tries, settings, db, redis_flush):
    key = uuid.uuid4().hex
    await _run(executor, settings, db, function, key)
    # Every run but the last is told there is another; a Retry from the last one is not run again.
    assert RUNS[key] == [(n, max_tries, n == max_tries) for n in range(1, max_tries + 1)]


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_a_retried_job_stops_once_it_succeeds(executor, settings, db, redis_flush):
    key = uuid.uuid4().hex
    await _run(executor, settings, db, second_time_lucky, key)
    assert RUNS[key] == [(1, 4, False), (2, 4, False)]


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_a_run_past_its_timeout_is_cancelled_and_not_retried(executor, settings, db, redis_flush):
    key = uuid.uuid4().hex
    started = time.monotonic()
    await _run(executor, settings, db, too_slow, key)
    assert time.monotonic() - started < 10  # cut off at 0.3 s, not the 30 s the job wanted
    assert key in CANCELLED
    assert RUNS[key] == [(1, 3, False)]


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_a_job_that_failed_on_a_database_outage_runs_again(executor, settings, db, redis_flush):
    key = uuid.uuid4().hex
    await _run(executor, settings, db, database_down_once, key)
    # The database was unreachable on the first run: it ran again (a few seconds later) and ended.
    assert RUNS[key] == [(1, 3, False), (2, 3, False)]


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_a_job_that_failed_on_a_bug_is_not_run_again(executor, settings, db, redis_flush):
    key = uuid.uuid4().hex
    await _run(executor, settings, db, a_bug, key)
    assert RUNS[key] == [(1, 3, False)]


# Per test key: the job's outbox rows seen inside its last transaction, and once it committed.
OUTBOX_ROWS: dict[str, tuple[int, int]] = {}


async def _outbox_rows(session: AsyncSession, job_id: str) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.job_id == job_id))
        or 0
    )


@job("tests.jobs.ends_in_its_last_transaction")
async def ends_in_its_last_transaction(ctx: JobContext, key: str) -> None:
    async with ctx.final_unit_of_work(cross_tenant=True) as session:
        inside = await _outbox_rows(session, ctx.job_id)
    async with ctx.session_factory() as session:
        cross_tenant(session)
        OUTBOX_ROWS[key] = (inside, await _outbox_rows(session, ctx.job_id))


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_a_job_ended_by_its_last_transaction_leaves_no_outbox_row_from_that_commit(
    executor, settings, db, redis_flush
):
    key = uuid.uuid4().hex
    await _run(executor, settings, db, ends_in_its_last_transaction, key)
    # The row was there while the job ran, and went with the commit of its last transaction (a
    # scan's recording one), not in a transaction of the executor's after the run.
    assert OUTBOX_ROWS[key] == (1, 0)
    async with db() as session:
        cross_tenant(session)
        assert await session.scalar(select(func.count()).select_from(OutboxJob)) == 0


@job("tests.jobs.quick")
async def quick(ctx: JobContext, key: str) -> None:
    _record(ctx, key)


@pytest.mark.parametrize(("jobs", "frozen"), [(1, False), (2, True)], ids=["still-warming", "warm"])
async def test_a_warm_worker_takes_its_long_lived_objects_out_of_garbage_collection(
    jobs, frozen, settings, db, redis_flush
):
    configured = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    arq_queue = await ArqQueue.connect(configured)
    try:
        async with unit_of_work(db, arq_queue, cross_tenant=True) as session:
            for _ in range(jobs):
                enqueue_after_commit(session, quick, uuid.uuid4().hex)
    finally:
        await arq_queue.close()
    gc.unfreeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(700, *thresholds[1:])  # Python's default, as a worker process starts with
    worker = create_worker(
        configured, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[], freeze_heap_after_jobs=2
    )
    try:
        await asyncio.wait_for(worker.main(), timeout=30)
        # Frozen once two jobs ended: every module, model and client alive then, out of the walks
        # of full collections.
        assert (gc.get_freeze_count() > 1000) is frozen
        # From its start, the worker collects young objects every 20,000 allocations, not 700.
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *thresholds[1:])
    finally:
        await worker.close()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
