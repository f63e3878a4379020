"""The arq worker: runs the registered job functions with the same context the API uses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry as ArqRetry
from arq import Worker
from arq.cron import cron
from arq.worker import Function, func

from vigilare.aws.clients import close_shared_clients
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory
from vigilare.jobs.context import JobContext
from vigilare.jobs.queue import DEFAULT_MAX_TRIES, ArqQueue, redis_settings
from vigilare.jobs.registry import PERIODIC_JOBS, Retry, load_jobs

logger = logging.getLogger("vigilare.worker")

# Jobs are I/O bound (AWS, SMTP, HTTP): many run concurrently in one process. arq's defaults
# (10 jobs, 0.5 s polling) cap a worker near 20 jobs a second; scans wait on AWS, so run more.
MAX_JOBS = 100
# arq re-runs the job of a dead worker only after the longest job timeout + 10 s: keep it short
# (the scan lease lets the scheduler take over a dead worker's scan sooner).
JOB_TIMEOUT_SECONDS = 300


def _wrap(name: str, function: Callable[..., Awaitable[Any]]) -> Function:
    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        base: JobContext = ctx["vigilare"]
        job_ctx = JobContext(
            settings=base.settings,
            session_factory=base.session_factory,
            queue=base.queue,
            attempt=int(ctx.get("job_try", 1)),
            extras=base.extras,
        )
        try:
            return await function(job_ctx, *args)
        except Retry as retry:
            raise ArqRetry(defer=retry.defer_seconds) from retry

    run.__qualname__ = run.__name__ = name
    return func(run, name=name, max_tries=DEFAULT_MAX_TRIES, timeout=JOB_TIMEOUT_SECONDS)


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq Worker for this configuration (``burst=True`` in tests runs the queue dry and stops)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        # A broken scenario plugin stops the worker before it takes a job.
        from vigilare.scans.registry import load_at_startup

        load_at_startup(settings)
        engine = create_engine(settings.database_url)
        session_factory = create_session_factory(engine)
        queue = ArqQueue(ctx["redis"], settings.queue_name)
        ctx["engine"] = engine
        ctx["vigilare"] = JobContext(settings=settings, session_factory=session_factory, queue=queue)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await close_shared_clients()
        engine = ctx.get("engine")
        if engine is not None:
            await engine.dispose()

    jobs = load_jobs()
    functions = [_wrap(name, fn) for name, fn in jobs.items()]
    cron_jobs = []
    for name, setting in PERIODIC_JOBS:
        period = max(1, min(60, int(getattr(settings, setting))))
        # arq runs a cron job once per matching second across all workers (unique job ids).
        cron_jobs.append(
            cron(
                _wrap(name, jobs[name]).coroutine,
                name=f"cron:{name}",
                second=set(range(0, 60, period)),
                unique=True,
                timeout=60,
                max_tries=1,
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
        "job_timeout": JOB_TIMEOUT_SECONDS,
        "keep_result": 60,
        "poll_delay": 0.2,
        "handle_signals": True,
    }
    options.update(overrides)
    return Worker(**options)
