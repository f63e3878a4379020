"""Executors: arq on Redis when ``VIGILARE_REDIS_URL`` is set, the API process itself otherwise.

Both run a job by its ``JobSpec``: at most ``max_tries`` runs (a ``Retry`` asks for another one),
each bounded by ``timeout_seconds`` (a run that exceeds it fails and is not retried).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from arq import ArqRedis
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from vigilare import metrics
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.ids import new_id, utcnow
from vigilare.jobs.bulk import QueuedJob
from vigilare.jobs.context import JobContext
from vigilare.jobs.outbox import job_finished
from vigilare.jobs.periodic import claim_slot, seconds_to_next_boundary
from vigilare.jobs.registry import JobSpec, Retry, job_named, load_jobs
from vigilare.jobs.relay import start_relay
from vigilare.jobs.state import JobState
from vigilare.outages import outage_retry_delay, unavailable_dependency

logger = logging.getLogger("vigilare.jobs")

PING_TIMEOUT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 2.0
# A Redis that hangs must not hang the request or job that queues: it fails, and is retried.
ENQUEUE_TIMEOUT_SECONDS = 5.0


class JobQueue(Protocol):
    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        """Queue a job by its registered name; returns its id, or None when a job with that id is
        already queued. Business code queues jobs with ``enqueue_after_commit`` instead."""

    async def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """What the queue knows of these jobs; a job it does not hold is absent from the answer.
        Raises when the queue cannot be asked (Redis unreachable)."""

    async def ping(self) -> bool:
        """True when the queue can take jobs now (readiness)."""

    async def backlog(self) -> tuple[int, float]:
        """Jobs due and waiting to start, and how long (seconds) the oldest of them has waited."""

    async def close(self) -> None: ...


# arq's enqueue, for many jobs in one script: a job id that is queued or has a result is left
# alone; else the job is stored and added to the queue, atomically per job (arq's own enqueue does
# the same in a WATCH/MULTI transaction of three round trips per job). ARGV: the job and result
# key prefixes, then job id, score, expiry (ms) and payload per job.
_ENQUEUE_MANY = """
local queued = 0
for i = 3, #ARGV, 4 do
    local job_id = ARGV[i]
    local job_key = ARGV[1] .. job_id
    if redis.call('exists', job_key, ARGV[2] .. job_id) == 0 then
        redis.call('psetex', job_key, ARGV[i + 2], ARGV[i + 3])
        redis.call('zadd', KEYS[1], ARGV[i + 1], job_id)
        queued = queued + 1
    end
end
return queued
"""
ENQUEUE_MANY_CHUNK = 500


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


class ArqQueue:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name
        self._enqueue_many = pool.register_script(_ENQUEUE_MANY)

    @classmethod
    async def connect(cls, settings: Settings) -> ArqQueue:
        """The queue on ``settings.redis_url``. Connections open on first use, so a Redis that is down
        when the API starts is not waited for: the API serves what needs only PostgreSQL, ``/readyz``
        answers 503 until Redis answers, and the jobs committed meanwhile wait in the outbox."""
        pool = ArqRedis.from_url(settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
        return cls(pool, settings.queue_name)

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
            job = await self.pool.enqueue_job(
                name,
                *args,
                _job_id=job_id,
                _queue_name=self.queue_name,
                _defer_by=defer_seconds or None,
            )
        return job.job_id if job is not None else None

    async def enqueue_many(self, jobs: Sequence[QueuedJob]) -> int:
        """The jobs in one script call per ``ENQUEUE_MANY_CHUNK``, each stored as arq stores it."""
        queued = 0
        for start in range(0, len(jobs), ENQUEUE_MANY_CHUNK):
            now_ms = int(time.time() * 1000)
            argv: list[Any] = [job_key_prefix, result_key_prefix]
            for name, args, job_id, defer_seconds in jobs[start : start + ENQUEUE_MANY_CHUNK]:
                defer_ms = int(defer_seconds * 1000)
                payload = serialize_job(name, args, {}, None, now_ms, serializer=self.pool.job_serializer)
                argv += [job_id, now_ms + defer_ms, defer_ms + self.pool.expires_extra_ms, payload]
            async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
                queued += int(await self._enqueue_many(keys=[self.queue_name], args=argv))
        return queued

    async def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        if not job_ids:
            return {}
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(result_key_prefix + job_id)
                pipe.exists(in_progress_key_prefix + job_id)
                pipe.exists(job_key_prefix + job_id)
            found = await pipe.execute()
        states: dict[str, JobState] = {}
        for index, job_id in enumerate(job_ids):
            finished, running, waiting = found[3 * index : 3 * index + 3]
            if finished:
                states[job_id] = JobState.FINISHED
            elif running:
                states[job_id] = JobState.RUNNING
            elif waiting:
                states[job_id] = JobState.WAITING
        return states

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                return bool(await self.pool.ping())
        except Exception:
            logger.warning("the job queue on Redis does not answer", exc_info=True)
            return False

    async def backlog(self) -> tuple[int, float]:
        now_ms = time.time() * 1000
        depth = int(await self.pool.zcount(self.queue_name, "-inf", now_ms))
        oldest = await self.pool.zrangebyscore(
            self.queue_name, "-inf", now_ms, start=0, num=1, withscores=True
        )
        wait = (now_ms - float(oldest[0][1])) / 1000 if oldest else 0.0
        return depth, max(wait, 0.0)

    async def close(self) -> None:
        await self.pool.aclose()


class InProcessQueue:
    """Runs the same job functions as the arq worker, as tasks of the current event loop."""

    def __init__(self, settings: Settings, session_factory: SessionFactory) -> None:
        self.context = JobContext(settings=settings, session_factory=session_factory, queue=self)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._started: set[str] = set()
        self._periodic: list[asyncio.Task[None]] = []
        self._closed = False
        load_jobs()

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str | None:
        spec = job_named(name)
        job_id = job_id or new_id()
        if job_id in self._tasks:
            return None
        task = asyncio.create_task(self._run(spec, job_id, args, defer_seconds, time.monotonic()))
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._forget(job_id))
        return job_id

    async def enqueue_many(self, jobs: Sequence[QueuedJob]) -> int:
        queued = 0
        for name, args, job_id, defer_seconds in jobs:
            queued += await self.enqueue(name, *args, job_id=job_id, defer_seconds=defer_seconds) is not None
        return queued

    def _forget(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        self._started.discard(job_id)

    async def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        # A finished job is forgotten at once (its outbox row was deleted as it ended).
        return {
            job_id: JobState.RUNNING if job_id in self._started else JobState.WAITING
            for job_id in job_ids
            if job_id in self._tasks
        }

    async def _run(
        self,
        spec: JobSpec,
        job_id: str,
        args: tuple[Any, ...],
        defer_seconds: float,
        queued: float | None = None,
    ) -> None:
        row_done = await self._attempts(spec, job_id, args, defer_seconds, queued)
        metrics.record_process_memory()
        # Ran to an end (not cancelled by shutdown): its outbox row, if it came from one, is done
        # (unless the run's last transaction deleted it).
        if not job_id.startswith("periodic:") and not row_done:
            await job_finished(self.context.session_factory, job_id)

    async def _attempts(
        self,
        spec: JobSpec,
        job_id: str,
        args: tuple[Any, ...],
        defer_seconds: float,
        queued: float | None = None,
    ) -> bool:
        """Runs the job until it ends; True when its last run deleted its outbox row itself."""
        row_id = "" if job_id.startswith("periodic:") else job_id
        for attempt in range(1, spec.max_tries + 1):
            if defer_seconds:
                self._started.discard(job_id)
                await asyncio.sleep(defer_seconds)
            if queued is not None and attempt == 1:
                metrics.JOB_WAIT.labels(spec.name).observe(
                    max(time.monotonic() - queued - defer_seconds, 0.0)
                )
            self._started.add(job_id)
            try:
                run = self.context.for_run(spec, attempt, row_id)
                async with asyncio.timeout(spec.timeout_seconds):
                    await spec.function(run, *args)
                metrics.JOBS.labels(spec.name, "ok").inc()
                return run.outbox_row_done
            except Retry as retry:
                metrics.JOBS.labels(spec.name, "retry").inc()
                defer_seconds = retry.defer_seconds
                logger.info("job %s (%s) asked to retry in %.1fs", spec.name, job_id, defer_seconds)
            except TimeoutError:
                metrics.JOBS.labels(spec.name, "failed").inc()
                logger.error("job %s (%s) timed out after %.1fs", spec.name, job_id, spec.timeout_seconds)
                return False
            except Exception as exc:
                reason = unavailable_dependency(exc)
                if reason is None or attempt == spec.max_tries:
                    metrics.JOBS.labels(spec.name, "failed").inc()
                    logger.exception("job %s (%s) failed", spec.name, job_id)
                    return False
                metrics.JOBS.labels(spec.name, "retry").inc()
                # The database was unreachable: run it again once it may be back.
                defer_seconds = outage_retry_delay(attempt)
                logger.warning(
                    "job %s (%s) failed: %s; running it again in %.0fs",
                    spec.name,
                    job_id,
                    reason,
                    defer_seconds,
                )
        logger.error("job %s (%s) gave up after %d tries", spec.name, job_id, spec.max_tries)
        return False

    def start_relay(self) -> None:
        """Relay the outbox in this process: jobs of an earlier run of it that never ended."""
        settings = self.context.settings
        self._periodic.append(start_relay(self.context.session_factory, self, settings.outbox_relay_seconds))

    def run_every(self, spec: JobSpec, seconds: float) -> None:
        """Run a job periodically (the embedded default's scheduler): at each multiple of the
        period, once across every process sharing the database (see ``vigilare.jobs.periodic``)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds_to_next_boundary(utcnow(), seconds))
                try:
                    won = await claim_slot(self.context.session_factory, spec.name, seconds, utcnow())
                except Exception:
                    logger.exception("periodic job %s: could not claim its period", spec.name)
                    continue
                metrics.PERIODIC_RUNS.labels(spec.name, "ran" if won else "skipped").inc()
                if won:
                    await self._run(spec, f"periodic:{spec.name}", (), 0)

        self._periodic.append(asyncio.create_task(loop()))

    async def ping(self) -> bool:
        return not self._closed

    async def backlog(self) -> tuple[int, float]:
        # Jobs run as soon as they are queued here: waiting ones are only those deferred.
        return 0, 0.0

    async def drain(self, timeout: float = 60) -> None:
        """Wait until every queued job (and the jobs they queue) has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
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
        queue.start_relay()
        for spec in load_jobs().values():
            if spec.every is not None:
                queue.run_every(spec, float(spec.every(settings)))
    return queue
