"""Registry of job functions, filled by ``@job`` at import of the modules that define them."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from vigilare.config import Settings

JobFunction = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=JobFunction)

DEFAULT_MAX_TRIES = 5
# arq re-runs the job of a dead worker only after the longest job timeout + 10 s: keep timeouts
# short (the scan lease lets the scheduler take over a dead worker's scan sooner).
DEFAULT_TIMEOUT_SECONDS = 300.0

# Modules whose import registers jobs; imported by both executors before they run anything.
JOB_MODULES = (
    "vigilare.auth.jobs",
    "vigilare.users.jobs",
    "vigilare.scans.jobs",
    "vigilare.scans.scheduler",
    "vigilare.scans.recovery",
    "vigilare.billing.jobs",
    "vigilare.alerts.jobs",
    "vigilare.ingest.jobs",
)

_ATTRIBUTE = "__vigilare_job__"


class Retry(Exception):
    """Raised by a job to be run again after ``defer_seconds`` (up to its max tries)."""

    def __init__(self, defer_seconds: float = 5.0) -> None:
        super().__init__(f"retry in {defer_seconds}s")
        self.defer_seconds = defer_seconds


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A registered job: its queue name and how each executor must run it."""

    name: str
    function: JobFunction
    max_tries: int
    timeout_seconds: float
    # A periodic job: its period in seconds, read from the settings of the process.
    every: Callable[[Settings], float] | None = None

    def check_arguments(self, args: tuple[Any, ...]) -> None:
        """Refuse, at enqueue time, arguments the job function could not be called with."""
        try:
            inspect.signature(self.function).bind(None, *args)
        except TypeError as exc:
            raise TypeError(f"job {self.name!r} cannot take arguments {args!r}: {exc}") from None


_JOBS: dict[str, JobSpec] = {}


def job(
    name: str,
    *,
    max_tries: int = DEFAULT_MAX_TRIES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    every: Callable[[Settings], float] | None = None,
) -> Callable[[F], F]:
    """Register ``async def f(ctx: JobContext, *args)`` as the job ``name``.

    ``max_tries`` counts every run, the first included (``Retry`` asks for another one);
    ``timeout`` bounds each run, in seconds; a run that exceeds it fails and is not retried.
    ``every`` makes the job periodic: every process's scheduler runs it on that period.
    The function is returned unchanged; enqueue it by the function itself, never by its name.
    """
    if max_tries < 1:
        raise ValueError(f"job {name!r}: max_tries must be at least 1")
    if timeout <= 0:
        raise ValueError(f"job {name!r}: timeout must be positive")

    def register(func: F) -> F:
        known = _JOBS.get(name)
        if known is not None and known.function is not func:
            raise RuntimeError(f"job {name!r} is registered twice")
        spec = JobSpec(name=name, function=func, max_tries=max_tries, timeout_seconds=timeout, every=every)
        _JOBS[name] = spec
        setattr(func, _ATTRIBUTE, spec)
        return func

    return register


def spec_of(function: JobFunction) -> JobSpec:
    spec = getattr(function, _ATTRIBUTE, None)
    if not isinstance(spec, JobSpec):
        name = getattr(function, "__qualname__", repr(function))
        raise TypeError(f"{name} is not a job: register it with @job(name)")
    return spec


def load_jobs() -> dict[str, JobSpec]:
    """Every registered job, after importing the modules that define them."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(_JOBS)


def job_named(name: str) -> JobSpec:
    jobs = load_jobs()
    if name not in jobs:
        raise LookupError(f"no job named {name!r}")
    return jobs[name]
