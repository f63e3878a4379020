"""Registry of job functions, filled by ``@job`` at import of the modules that define them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from vigilare.jobs.context import JobContext

JobFunction = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=JobFunction)

_JOBS: dict[str, JobFunction] = {}
# Modules whose import registers jobs; imported by both executors before they run anything.
JOB_MODULES = (
    "vigilare.auth.jobs",
    "vigilare.users.jobs",
    "vigilare.scans.jobs",
    "vigilare.scans.scheduler",
    "vigilare.billing.jobs",
    "vigilare.alerts.jobs",
)
# Jobs every process runs on a timer: (job name, setting holding its period in seconds).
PERIODIC_JOBS = (("schedule_scans", "scheduler_tick_seconds"),)


class Retry(Exception):
    """Raised by a job to be run again after ``defer_seconds`` (up to its max tries)."""

    def __init__(self, defer_seconds: float = 5.0) -> None:
        super().__init__(f"retry in {defer_seconds}s")
        self.defer_seconds = defer_seconds


def job(name: str) -> Callable[[F], F]:
    def register(func: F) -> F:
        if name in _JOBS and _JOBS[name] is not func:
            raise RuntimeError(f"job {name!r} is registered twice")
        _JOBS[name] = func
        return func

    return register


def load_jobs() -> dict[str, JobFunction]:
    import importlib

    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(_JOBS)


async def run_job(name: str, ctx: JobContext, args: tuple[Any, ...]) -> Any:
    return await load_jobs()[name](ctx, *args)
