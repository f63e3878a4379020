"""Fixed-window counters for rate limits, in Redis when configured and in memory otherwise.

Every API process shares the Redis counters, so limits hold across a fleet; the in-memory counter
serves the single-process embedded default.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis


@runtime_checkable
class Counter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one event; return the count in the current window and seconds until it resets.

        Atomic: of concurrent hits, each gets its own count.
        """

    async def undo(self, key: str) -> None:
        """Take back one hit while its window is still open (nothing once it has closed)."""

    async def claim(self, key: str, seconds: float) -> int:
        """Hold ``key`` for ``seconds`` if nobody holds it: 0 when claimed, else whole seconds to wait.

        Atomic: of concurrent claims, exactly one gets the key.
        """

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCounter:
    """Counters of one process. Each operation runs without awaiting, so it is atomic on the loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._clock = clock

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is None or entry[1] <= now:
            self._windows.pop(key, None)
            return None
        return entry

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = self._clock()
        if len(self._windows) > 100_000:  # keep memory bounded under a flood of keys
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        entry = self._current(key, now)
        count, expires = (entry[0] + 1, entry[1]) if entry else (1, now + window_seconds)
        self._windows[key] = (count, expires)
        return count, math.ceil(expires - now)

    async def undo(self, key: str) -> None:
        entry = self._current(key, self._clock())
        if entry is not None:
            self._windows[key] = (max(entry[0] - 1, 0), entry[1])

    async def claim(self, key: str, seconds: float) -> int:
        now = self._clock()
        entry = self._current(key, now)
        if entry is not None:
            return max(math.ceil(entry[1] - now), 1)
        self._windows[key] = (1, now + seconds)
        return 0

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def close(self) -> None:
        self._windows.clear()


# DECR only a key that still exists: a bare DECR after the window closed would create a key
# holding -1 that never expires.
_UNDO = """
if redis.call('exists', KEYS[1]) == 1 then
  return redis.call('decr', KEYS[1])
end
return 0
"""


class RedisCounter:
    """Counters shared by every process through Redis: INCR with an expiry, SET NX for claims."""

    def __init__(self, redis: Redis, prefix: str = "vigilare:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._undo = redis.register_script(_UNDO)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return int(count), max(int(ttl), 1)

    async def undo(self, key: str) -> None:
        await self._undo(keys=[self._prefix + key])

    async def claim(self, key: str, seconds: float) -> int:
        name = self._prefix + key
        if await self._redis.set(name, 1, nx=True, px=max(int(seconds * 1000), 1)):
            return 0
        remaining_ms = await self._redis.pttl(name)
        return max(math.ceil(int(remaining_ms) / 1000), 1)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
