"""The arq worker: runs the registered job functions with the same context the API uses."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import Retry as ArqRetry
from arq import Worker
from arq.cron import cron
from arq.worker import Function, func

from vigilare import lifecycle
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory
from vigilare.jobs.context import JobContext
from vigilare.jobs.outbox import job_finished
from vigilare.jobs.queue import ArqQueue, redis_settings
from vigilare.jobs.registry import DEFAULT_TIMEOUT_SECONDS, JobSpec, Retry, load_jobs
from vigilare.jobs.relay import start_relay, stop_relay

logger = logging.getLogger("vigilare.worker")

# Jobs are I/O bound (AWS, SMTP, HTTP): many run concurrently in one process. arq's defaults
# (10 jobs, 0.5 s polling) cap a worker near 20 jobs a second; scans wait on AWS, so run more.
MAX_JOBS = 100
# The job's own timeout is enforced inside the run (so that a run cut off is known to have ended);
# arq's, a little later, only backs it up.
ARQ_TIMEOUT_MARGIN_SECONDS = 5.0


def _wrap(spec: JobSpec) -> Function:
    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        base: JobContext = ctx["vigilare"]
        job_ctx = base.for_run(spec, int(ctx.get("job_try", 1)))
        job_id = str(ctx.get("job_id", ""))
        ended = True  # the job will not run again (unless it asked to be retried)
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                return await spec.function(job_ctx, *args)
        except Retry as retry:
            ended = job_ctx.is_last_attempt
            raise ArqRetry(defer=retry.defer_seconds) from retry
        except asyncio.CancelledError:
            ended = False  # the worker is shutting down: arq runs the job again
            raise
        finally:
            if ended and job_id and not job_id.startswith("cron:"):
                await job_finished(base.session_factory, job_id)

    run.__qualname__ = run.__name__ = spec.name
    return func(
        run,
        name=spec.name,
        max_tries=spec.max_tries,
        timeout=spec.timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS,
    )


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq Worker for this configuration (``burst=True`` in tests runs the queue dry and stops)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        # Start-up hooks first: a broken scenario plugin stops the worker before it takes a job.
        await lifecycle.startup(settings)
        engine = create_engine(settings.database_url)
        session_factory = create_session_factory(engine)
        queue = ArqQueue(ctx["redis"], settings.queue_name)
        ctx["engine"] = engine
        ctx["vigilare"] = JobContext(settings=settings, session_factory=session_factory, queue=queue)
        # Every worker relays the outbox (rows are locked, so relays share the work).
        ctx["outbox_relay"] = start_relay(session_factory, queue, settings.outbox_relay_seconds)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await stop_relay(ctx.get("outbox_relay"))
        await lifecycle.shutdown(settings)
        engine = ctx.get("engine")
        if engine is not None:
            await engine.dispose()

    # Importing the job modules also registers their start-up and shutdown hooks.
    jobs = load_jobs()
    functions = [_wrap(spec) for spec in jobs.values()]
    cron_jobs = []
    for spec in jobs.values():
        if spec.every is None:
            continue
        period = max(1, min(60, int(spec.every(settings))))
        # arq runs a cron job once per matching second across all workers (unique job ids).
        cron_jobs.append(
            cron(
                _wrap(spec).coroutine,
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
    return Worker(**options)
