"""Spacing requests to APIs with a low per-account-and-region rate (CloudTrail LookupEvents: 2/s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RequestSpacer:
    """Lets requests start at most ``rate_per_second`` times a second, evenly spaced.

    One spacer per account and region: a scan owns its account (never two at once), so a spacer
    made for one collector run in one region is the account-and-region limiter. Even spacing, not a
    burst bucket, so that no one-second window ever holds more than the rate.
    """

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.interval = 1.0 / rate_per_second
        self._clock = clock
        self._next_start: float | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next request may start (immediately for the first one)."""
        async with self._lock:
            now = self._clock()
            if self._next_start is not None and now < self._next_start:
                await asyncio.sleep(self._next_start - now)
                now = self._clock()
            self._next_start = now + self.interval
