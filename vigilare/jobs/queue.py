"""Executors: arq on Redis when ``VIGILARE_REDIS_URL`` is set, the API process itself otherwise."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.ids import new_id
from vigilare.jobs.context import JobContext
from vigilare.jobs.registry import PERIODIC_JOBS, Retry, load_jobs, run_job

logger = logging.getLogger("vigilare.jobs")

DEFAULT_MAX_TRIES = 5


class JobQueue(Protocol):
    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        """Queue a job; returns its id, or None when a job with that id is already queued."""

    async def close(self) -> None: ...


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


class ArqQueue:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name

    @classmethod
    async def connect(cls, settings: Settings) -> ArqQueue:
        pool = await create_pool(redis_settings(settings.redis_url))
        return cls(pool, settings.queue_name)

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        job = await self.pool.enqueue_job(
            name,
            *args,
            _job_id=job_id,
            _queue_name=self.queue_name,
            _defer_by=defer_seconds or None,
        )
        return job.job_id if job is not None else None

    async def close(self) -> None:
        await self.pool.aclose()


class InProcessQueue:
    """Runs the same job functions as the arq worker, as tasks of the current event loop."""

    def __init__(self, settings: Settings, session_factory: SessionFactory) -> None:
        self.context = JobContext(settings=settings, session_factory=session_factory, queue=self)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._periodic: list[asyncio.Task[None]] = []
        load_jobs()

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        job_id = job_id or new_id()
        if job_id in self._tasks:
            return None
        task = asyncio.create_task(self._run(job_id, name, args, defer_seconds))
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))
        return job_id

    async def _run(self, job_id: str, name: str, args: tuple[Any, ...], defer_seconds: float) -> None:
        for attempt in range(1, DEFAULT_MAX_TRIES + 1):
            if defer_seconds:
                await asyncio.sleep(defer_seconds)
            ctx = JobContext(
                settings=self.context.settings,
                session_factory=self.context.session_factory,
                queue=self,
                attempt=attempt,
                extras=self.context.extras,
            )
            try:
                await run_job(name, ctx, args)
                return
            except Retry as retry:
                defer_seconds = retry.defer_seconds
                logger.info("job %s (%s) asked to retry in %.1fs", name, job_id, defer_seconds)
            except Exception:
                logger.exception("job %s (%s) failed", name, job_id)
                return
        logger.error("job %s (%s) gave up after %d tries", name, job_id, DEFAULT_MAX_TRIES)

    def run_every(self, name: str, seconds: float) -> None:
        """Run a job periodically in this process (the embedded default's scheduler)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await run_job(name, self.context, ())
                except Exception:
                    logger.exception("periodic job %s failed", name)

        self._periodic.append(asyncio.create_task(loop()))

    async def drain(self, timeout: float = 60) -> None:
        """Wait until every queued job (and the jobs they queue) has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in self._periodic:
            task.cancel()
        await asyncio.gather(*self._periodic, return_exceptions=True)
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()


async def create_queue(
    settings: Settings, session_factory: SessionFactory, *, periodic: bool = True
) -> JobQueue:
    """The queue for this configuration. In process, it also runs the periodic jobs (the scheduler)."""
    if settings.redis_url:
        return await ArqQueue.connect(settings)
    queue = InProcessQueue(settings, session_factory)
    if periodic:
        for name, setting in PERIODIC_JOBS:
            queue.run_every(name, float(getattr(settings, setting)))
    return queue
