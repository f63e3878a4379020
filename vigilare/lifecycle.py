"""Start-up and shutdown hooks of a Vigilare process: the API and every `vigilare worker`.

A package that owns something process-wide (a client pool, a loaded registry) says itself what to
do when a process starts or stops, in the module that owns it, so nothing else has to know::

    from vigilare import lifecycle
    from vigilare.config import Settings

    @lifecycle.on_startup
    def load_registry(settings: Settings) -> None:
        ...

    @lifecycle.on_shutdown
    async def close_clients(settings: Settings) -> None:
        ...

A hook receives the process's ``Settings`` and may be a plain or an async function.

- Start-up hooks run in registration order before the process takes any request or job. An
  exception stops the start-up: the API and the worker refuse to start, with that error.
- Shutdown hooks run in reverse order once the process has stopped taking work. Each one runs even
  when an earlier one failed (the failure is logged).

Both processes run the same hooks: the API in its lifespan (which also covers the jobs its
in-process executor runs), the arq worker in its ``on_startup`` / ``on_shutdown``. Both import every
job module (``vigilare.jobs.load_jobs``) before they start, so a hook registered at import of a job
module, or of anything a job module imports, runs in every process.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from vigilare.config import Settings

logger = logging.getLogger("vigilare.lifecycle")

Hook = Callable[[Settings], Awaitable[None] | None]
H = TypeVar("H", bound=Hook)

_STARTUP: list[Hook] = []
_SHUTDOWN: list[Hook] = []


def on_startup(hook: H) -> H:
    """Run ``hook(settings)`` when a process starts (usable as a decorator)."""
    if hook not in _STARTUP:
        _STARTUP.append(hook)
    return hook


def on_shutdown(hook: H) -> H:
    """Run ``hook(settings)`` when a process stops (usable as a decorator)."""
    if hook not in _SHUTDOWN:
        _SHUTDOWN.append(hook)
    return hook


def _name(hook: Hook) -> str:
    return f"{getattr(hook, '__module__', '?')}.{getattr(hook, '__qualname__', repr(hook))}"


async def _call(hook: Hook, settings: Settings) -> None:
    result = hook(settings)
    if inspect.isawaitable(result):
        await result


async def startup(settings: Settings) -> None:
    """Run the start-up hooks in order; the first failure propagates."""
    for hook in list(_STARTUP):
        logger.debug("start-up hook %s", _name(hook))
        await _call(hook, settings)


async def shutdown(settings: Settings) -> None:
    """Run every shutdown hook, newest first; a failing hook is logged and the others still run."""
    for hook in reversed(list(_SHUTDOWN)):
        try:
            await _call(hook, settings)
        except Exception:
            logger.exception("shutdown hook %s failed", _name(hook))


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    """Start-up hooks on entry, shutdown hooks on exit (also when a start-up hook failed)."""
    try:
        await startup(settings)
        yield
    finally:
        await shutdown(settings)
