"""How many full scans one worker process runs at once.

A full scan (a first, manual, verify or event scan: every key in every region) holds what it read
of every region until it is recorded, several hundred AWS responses; a scheduled scan that collects
only what fell due holds a few dozen. A worker takes up to a hundred jobs at once, and a hundred
full scans at once (an agency connecting its accounts, a fleet's first scans) were what set the
process's peak memory (``bench/scan_throughput.py``). So a process runs at most
``scan_full_concurrency`` full scans at once and the others wait for a slot, while scheduled
partial scans keep the worker's whole job concurrency.

A scan waits for its slot after taking its account's lease and marking itself running, inside
:func:`vigilare.scans.lease.run_leased`: its lease is renewed while it waits exactly as while it
scans, so a waiting scan is neither taken over nor lost, and its bound on the whole scan
(``scan_timeout_seconds``) counts the wait. Waiting does not make the last of a burst finish later:
the process's cores were the bottleneck of a burst of full scans either way.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from vigilare import metrics

T = TypeVar("T")


class FullScanSlots:
    """At most ``limit`` full scans at once on one event loop; the others wait in arrival order."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 1)
        self._semaphore = asyncio.Semaphore(self.limit)
        self.running = 0
        self.waiting = 0

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` once a slot is free (``work`` is closed unstarted if the wait is cancelled)."""
        self.waiting += 1
        metrics.FULL_SCANS_WAITING.inc()
        try:
            await self._semaphore.acquire()
        except BaseException:
            work.close()
            raise
        finally:
            self.waiting -= 1
            metrics.FULL_SCANS_WAITING.dec()
        self.running += 1
        metrics.FULL_SCANS_RUNNING.inc()
        try:
            return await work
        finally:
            self.running -= 1
            metrics.FULL_SCANS_RUNNING.dec()
            self._semaphore.release()


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, FullScanSlots]] = (
    weakref.WeakKeyDictionary()
)


def full_scan_slots(limit: int) -> FullScanSlots:
    """The running event loop's slots for ``limit`` (one set per process in production; a test
    that configures another limit gets its own)."""
    loop = asyncio.get_running_loop()
    by_limit = _SLOTS.setdefault(loop, {})
    slots = by_limit.get(limit)
    if slots is None:
        slots = by_limit[limit] = FullScanSlots(limit)
    return slots
