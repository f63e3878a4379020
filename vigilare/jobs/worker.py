"""The arq worker: runs the registered job functions with the same context the API uses.

A Redis outage does not stop it: jobs in flight go on (they work on the database), the worker
waits for Redis with a growing pause between tries, and picks up where it was once Redis answers
(a Redis restarted without persistence has lost its queue: the database's own records bring the
work back). Left to itself, arq's worker exits on the first Redis error.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from arq import Retry as ArqRetry
from arq import Worker
from arq.connections import ArqRedis, create_pool
from arq.cron import cron
from arq.worker import Function, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from vigilare import lifecycle, metrics
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory, owned_tables
from vigilare.jobs.context import JobContext
from vigilare.jobs.outbox import job_finished
from vigilare.jobs.periodic import claim_slot
from vigilare.jobs.queue import ArqQueue, redis_settings
from vigilare.jobs.registry import DEFAULT_TIMEOUT_SECONDS, JobSpec, Retry, load_jobs
from vigilare.jobs.relay import start_relay, stop_relay
from vigilare.outages import outage_retry_delay, unavailable_dependency

logger = logging.getLogger("vigilare.worker")

# Jobs are I/O bound (AWS, SMTP, HTTP): many run concurrently in one process. arq's defaults
# (10 jobs, 0.5 s polling) cap a worker near 20 jobs a second; scans wait on AWS, so run more.
MAX_JOBS = 100
# The job's own timeout is enforced inside the run (so that a run cut off is known to have ended);
# arq's, a little later, only backs it up.
ARQ_TIMEOUT_MARGIN_SECONDS = 5.0

# What Redis being unreachable looks like (refused, reset, timed out, restarting).
REDIS_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# Pauses between tries while Redis is unreachable: from the first to the longest, doubling.
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 5.0
# How long a finished job keeps trying to record its end in Redis before it gives up (the job's
# work is done and committed; only arq's bookkeeping is lost, and the job is idempotent).
FINISH_PATIENCE_SECONDS = 300.0


FREEZE_HEAP_AFTER_JOBS = MAX_JOBS
"""A worker's long-lived objects are in place once this many jobs ended (see :class:`HeapFreezer`)."""


class HeapFreezer:
    """Takes a warm worker's long-lived objects out of Python's cyclic garbage collection, once.

    Most of a worker's heap lives as long as the process: imported modules, botocore's service
    models and endpoint rules, the shared AWS clients, SQLAlchemy's mappers and statement caches
    (~280,000 tracked objects once every service was called). A full collection walks every one
    of them, and a scan allocates enough to set one off every 15-20 scans: measured with
    bench/scan_throughput.py, about a sixth of a steady-state scan's CPU went to the collector.
    After the first ``after`` jobs ended (every service model loaded by then), a full collection
    drops what is garbage and ``gc.freeze()`` moves the survivors to the permanent generation,
    which collections no longer walk. Frozen objects are still freed by reference counting; only
    a reference cycle among objects of the jobs in flight at that moment is never collected (a
    one-off, bounded by what those jobs hold)."""

    def __init__(self, after: int) -> None:
        self._left = after

    def job_ended(self) -> None:
        if self._left <= 0:
            return
        self._left -= 1
        if self._left == 0:
            gc.collect()
            gc.freeze()
            logger.info("froze %d long-lived objects out of garbage collection", gc.get_freeze_count())


YOUNG_GC_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation in a worker (Python's default: 700)."""


def collect_garbage_less_often(threshold: int = YOUNG_GC_THRESHOLD) -> None:
    """Raise the youngest generation's threshold (the older ones' stay: they count its collections).

    A scan allocates hundreds of thousands of short-lived objects (parsed AWS answers, rows, JSON),
    almost all freed by reference counting. At Python's default every 700 net allocations start a
    collection, every tenth of those walks the middle generation and every hundredth may walk the
    whole heap: measured with bench/scan_throughput.py (``garbage collection`` lines), 6.5 ms of a
    51-ms steady-state scan and 190 ms of a first scan went to the collector. Collecting every
    20,000 allocations makes each collection a little longer and all of them far rarer; what lives
    in reference cycles waits a little longer to be freed."""
    young, *older = gc.get_threshold()
    if young < threshold:
        gc.set_threshold(threshold, *older)


def is_redis_outage(exc: BaseException) -> bool:
    """A connection error, or redis-py's WatchError for a connection that died while arq was watching
    a job's key (raised while handling the connection error, which it keeps as its context)."""
    if isinstance(exc, REDIS_OUTAGE_ERRORS):
        return True
    return isinstance(exc, WatchError) and isinstance(exc.__context__, REDIS_OUTAGE_ERRORS)


class ResilientWorker(Worker):
    """arq's worker, riding out Redis outages instead of exiting on the first connection error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis_down_since: float | None = None
        self._reconnect_pause = RECONNECT_FIRST_SECONDS

    def _redis_failed(self, exc: BaseException) -> float:
        """Note the outage; return how long to wait before the next try."""
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            self._reconnect_pause = RECONNECT_FIRST_SECONDS
            logger.warning(
                "Redis is unreachable (%s); %d job(s) in flight go on, waiting for Redis",
                exc,
                sum(not t.done() for t in self.tasks.values()),
            )
        pause = self._reconnect_pause
        self._reconnect_pause = min(self._reconnect_pause * 2, RECONNECT_MAX_SECONDS)
        return pause

    def _redis_answered(self) -> None:
        if self._redis_down_since is not None:
            logger.warning(
                "Redis answers again after %.1fs; taking jobs", time.monotonic() - self._redis_down_since
            )
            self._redis_down_since = None

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await self._connect()
        await super().main()

    async def _connect(self) -> ArqRedis:
        assert self.redis_settings is not None
        while True:
            try:
                pool = await create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_OUTAGE_ERRORS as exc:
                await asyncio.sleep(self._redis_failed(exc))
                continue
            self._redis_answered()
            return pool

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (*REDIS_OUTAGE_ERRORS, WatchError) as exc:
            if not is_redis_outage(exc):
                raise
            await asyncio.sleep(self._redis_failed(exc))
        else:
            self._redis_answered()

    async def _patiently(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        deadline = time.monotonic() + FINISH_PATIENCE_SECONDS
        pause = RECONNECT_FIRST_SECONDS
        while True:
            try:
                await step()
                return
            except REDIS_OUTAGE_ERRORS as exc:
                if time.monotonic() > deadline:
                    logger.error("gave up recording %s in Redis: %s", what, exc)
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_MAX_SECONDS)

    async def finish_job(self, job_id: str, *args: Any, **kwargs: Any) -> None:
        await self._patiently(
            f"the end of job {job_id}", lambda: Worker.finish_job(self, job_id, *args, **kwargs)
        )

    async def close(self) -> None:
        try:
            await super().close()
        except REDIS_OUTAGE_ERRORS as exc:
            # Stopping while Redis is down: arq's own clean-up failed; ours still runs.
            logger.warning("stopping while Redis is unreachable: %s", exc)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await self._patiently(
            f"the failure of job {job_id}", lambda: Worker.finish_failed_job(self, job_id, result_data)
        )


def _wrap(spec: JobSpec, freezer: HeapFreezer | None = None) -> Function:
    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        base: JobContext = ctx["vigilare"]
        job_id = str(ctx.get("job_id", ""))
        job_ctx = base.for_run(spec, int(ctx.get("job_try", 1)), "" if job_id.startswith("cron:") else job_id)
        # arq's score is when the job was due (enqueued, or its deferral over), in ms.
        if "score" in ctx:
            metrics.JOB_WAIT.labels(spec.name).observe(max(time.time() - ctx["score"] / 1000, 0.0))
        ended = True  # the job will not run again (unless it asked to be retried)
        outcome = "failed"
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                result = await spec.function(job_ctx, *args)
            outcome = "ok"
            return result
        except Retry as retry:
            ended = job_ctx.is_last_attempt
            outcome = "retry"
            raise ArqRetry(defer=retry.defer_seconds) from retry
        except Exception as exc:
            # The database or Redis was unreachable: the job may well succeed once it is back
            # (jobs are idempotent), so it runs again rather than failing for good.
            reason = unavailable_dependency(exc)
            if reason is None or job_ctx.is_last_attempt:
                raise
            delay = outage_retry_delay(job_ctx.attempt)
            logger.warning(
                "job %s (%s) failed: %s; running it again in %.0fs", spec.name, job_id, reason, delay
            )
            ended = False
            raise ArqRetry(defer=delay) from exc
        except asyncio.CancelledError:
            ended = False  # the worker is shutting down: arq runs the job again
            outcome = "cancelled"
            raise
        finally:
            metrics.JOBS.labels(spec.name, outcome).inc()
            metrics.record_process_memory()
            if ended and job_id and not job_id.startswith("cron:") and not job_ctx.outbox_row_done:
                await job_finished(base.session_factory, job_id)
            if freezer is not None:
                freezer.job_ended()

    run.__qualname__ = run.__name__ = spec.name
    return func(
        run,
        name=spec.name,
        max_tries=spec.max_tries,
        timeout=spec.timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS,
    )


def _periodic(spec: JobSpec, period: float) -> Any:
    """The cron coroutine of a periodic job: runs only in the process that claims the period."""
    run = _wrap(spec).coroutine

    async def periodic(ctx: dict[str, Any]) -> Any:
        base: JobContext = ctx["vigilare"]
        # The moment the cron fired for (arq's score), not when this worker picked it up.
        fired = datetime.fromtimestamp(ctx.get("score", time.time() * 1000) / 1000, tz=UTC)
        if not await claim_slot(base.session_factory, spec.name, period, fired):
            metrics.PERIODIC_RUNS.labels(spec.name, "skipped").inc()
            return "skipped: another process ran this period"
        metrics.PERIODIC_RUNS.labels(spec.name, "ran").inc()
        return await run(ctx)

    periodic.__qualname__ = periodic.__name__ = spec.name
    return periodic


def create_worker(settings: Settings, **overrides: Any) -> ResilientWorker:
    """An arq Worker for this configuration (``burst=True`` in tests runs the queue dry and stops)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        collect_garbage_less_often()
        # Start-up hooks first: a broken scenario plugin stops the worker before it takes a job.
        await lifecycle.startup(settings)
        engine = create_engine(
            settings.app_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        await owned_tables(engine)
        session_factory = create_session_factory(engine)
        queue = ArqQueue(ctx["redis"], settings.queue_name)
        ctx["engine"] = engine
        ctx["vigilare"] = JobContext(settings=settings, session_factory=session_factory, queue=queue)
        # Every worker relays the outbox (rows are locked, so relays share the work).
        ctx["outbox_relay"] = start_relay(session_factory, queue, settings.outbox_relay_seconds)
        logger.info("ready: taking jobs from %s", settings.queue_name)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await stop_relay(ctx.get("outbox_relay"))
        await lifecycle.shutdown(settings)
        engine = ctx.get("engine")
        if engine is not None:
            await engine.dispose()

    # Importing the job modules also registers their start-up and shutdown hooks.
    jobs = load_jobs()
    freezer = HeapFreezer(overrides.pop("freeze_heap_after_jobs", FREEZE_HEAP_AFTER_JOBS))
    functions = [_wrap(spec, freezer) for spec in jobs.values()]
    cron_jobs = []
    for spec in jobs.values():
        if spec.every is None:
            continue
        period = max(1, min(60, int(spec.every(settings))))
        # arq runs a cron job once per matching second across all workers (unique job ids).
        cron_jobs.append(
            cron(
                _periodic(spec, period),
                name=f"cron:{spec.name}",
                second=set(range(0, 60, period)),
                unique=True,
                timeout=spec.timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS,
                max_tries=spec.max_tries,
            )
        )
    options: dict[str, Any] = {
        "functions": functions,
        "cron_jobs": cron_jobs,
        "redis_settings": redis_settings(settings.redis_url),
        "queue_name": settings.queue_name,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": MAX_JOBS,
        "job_timeout": DEFAULT_TIMEOUT_SECONDS,
        "keep_result": 60,
        "poll_delay": 0.2,
        "handle_signals": True,
    }
    options.update(overrides)
    return ResilientWorker(**options)
