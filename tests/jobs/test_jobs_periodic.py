"""A periodic job runs once per period however many processes fire it: two API processes without
Redis (two in-process executors on one database) share the scheduler's tick instead of doubling it."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from vigilare.jobs.context import JobContext
from vigilare.jobs.periodic import PeriodicRun
from vigilare.jobs.queue import InProcessQueue
from vigilare.jobs.registry import JobSpec

RUNS: Counter[int] = Counter()


async def _count_run(ctx: JobContext) -> None:
    RUNS[id(ctx.queue)] += 1


async def test_two_executors_run_a_periodic_job_once_per_period(settings, db):
    spec = JobSpec(name="tests.periodic.count", function=_count_run, max_tries=1, timeout_seconds=5)
    queues = [InProcessQueue(settings, db), InProcessQueue(settings, db)]
    RUNS.clear()
    try:
        for queue in queues:
            queue.run_every(spec, 0.5)
        await asyncio.sleep(3.2)
    finally:
        for queue in queues:
            await queue.close()

    async with db() as session:
        slots = list(await session.scalars(select(PeriodicRun.slot).where(PeriodicRun.job == spec.name)))
    # About six periods passed; each ran once, in one of the two processes.
    assert 5 <= len(slots) <= 7
    assert sum(RUNS.values()) == len(slots)
    assert sorted(slots) == list(range(min(slots), min(slots) + len(slots)))  # none skipped
