"""Many jobs of one commit (a scheduler tick's scans) reach arq at once, in a few script calls
rather than three Redis round trips per job, stored as arq stores a job: each runs once, and a job
id that is already queued, or has finished, is not queued again."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import msgspec
from arq.constants import result_key_prefix

from tests.support.services import REDIS_URL
from vigilare.jobs import JobContext, enqueue_each_after_commit, job, unit_of_work
from vigilare.jobs.bulk import BulkJobQueue
from vigilare.jobs.queue import ENQUEUE_MANY_CHUNK, ArqQueue
from vigilare.jobs.state import JobState
from vigilare.jobs.worker import create_worker

RUNS: Counter[str] = Counter()


@job("tests.jobs.bulk_counted")
async def bulk_counted(ctx: JobContext, key: str) -> None:
    RUNS[key] += 1


async def test_the_jobs_of_one_commit_are_queued_at_once_and_each_runs_once(settings, db, redis_flush):
    configured = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    queue = await ArqQueue.connect(configured)
    assert isinstance(queue, BulkJobQueue)
    run = uuid.uuid4().hex
    keys = [f"{run}-{index}" for index in range(ENQUEUE_MANY_CHUNK + 100)]  # more than one script call
    job_ids = [f"tests:bulk:{key}" for key in keys]
    try:
        async with unit_of_work(db, queue, cross_tenant=True) as session:
            enqueue_each_after_commit(
                session, bulk_counted, [((key,), job_id) for key, job_id in zip(keys, job_ids, strict=True)]
            )
        # Handed over by the commit itself (no relay pass yet): every job waits in the queue.
        states = await queue.states(job_ids)
        assert set(states.values()) == {JobState.WAITING} and len(states) == len(job_ids)

        # Queued or finished ids are not queued again; a new id is.
        await queue.pool.set(result_key_prefix + "tests:bulk:finished-" + run, b"done", px=60_000)
        again = [
            ("tests.jobs.bulk_counted", (key,), job_id, 0.0)
            for key, job_id in zip(keys[:3], job_ids[:3], strict=True)
        ]
        again.append(("tests.jobs.bulk_counted", ("finished",), "tests:bulk:finished-" + run, 0.0))
        again.append(("tests.jobs.bulk_counted", (f"{run}-new",), f"tests:bulk:{run}-new", 0.0))
        assert await queue.enqueue_many(again) == 1
    finally:
        await queue.close()

    worker = create_worker(configured, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
    try:
        await asyncio.wait_for(worker.main(), timeout=120)
    finally:
        await worker.close()
    assert {key: RUNS[key] for key in [*keys, f"{run}-new"]} == dict.fromkeys([*keys, f"{run}-new"], 1)
    assert RUNS["finished"] == 0
