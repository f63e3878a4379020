"""Spacing requests to APIs with a low per-account-and-region rate (CloudTrail LookupEvents: 2/s)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class RequestSpacer:
    """Lets one request run at a time, each starting at least ``1 / rate_per_second`` after the
    previous one *finished*, so no one-second window at AWS ever holds more than the rate.

    Counting from the end, not the start, matters: a first request that waits for a fresh client or
    credentials reaches AWS late, and a schedule counted from its start would send the next one
    right behind it. One spacer per account and region: a scan owns its account (never two at once),
    so a spacer made for one collector run in one region is the account-and-region limiter.
    """

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.interval = 1.0 / rate_per_second
        self._clock = clock
        self._next_start: float | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with spacer.slot(): await call()``: waits for the request's turn, then runs it."""
        async with self._lock:
            if self._next_start is not None:
                delay = self._next_start - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
            try:
                yield
            finally:
                self._next_start = self._clock() + self.interval


_LOOKUP_SPACERS: weakref.WeakValueDictionary[tuple[str, str], RequestSpacer] = weakref.WeakValueDictionary()


def shared_spacer(account_id: str, region: str, rate_per_second: float) -> RequestSpacer:
    """The one spacer of an account and region while anything holds it: collectors that call the same
    rate-limited API in one scan (CloudTrail LookupEvents for sign-ins and for risky writes) share it,
    so together they stay under the account's rate. Dropped once no collector holds it."""
    spacer = _LOOKUP_SPACERS.get((account_id, region))
    if spacer is None:
        spacer = RequestSpacer(rate_per_second)
        _LOOKUP_SPACERS[(account_id, region)] = spacer
    return spacer
