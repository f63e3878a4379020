"""Fixed-window counters for rate limits, in Redis when configured and in memory otherwise.

Every API process shares the Redis counters, so limits hold across a fleet; the in-memory counter
serves the single-process embedded default.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis


@runtime_checkable
class Counter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one event; return the count in the current window and seconds until it resets."""

    async def peek(self, key: str) -> tuple[int, int]:
        """The current count and seconds until reset, without counting."""

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCounter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = asyncio.Lock()

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is None or entry[1] <= now:
            self._windows.pop(key, None)
            return None
        return entry

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        async with self._lock:
            now = time.monotonic()
            if len(self._windows) > 100_000:  # keep memory bounded under a flood of keys
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
            entry = self._current(key, now)
            count, expires = (entry[0] + 1, entry[1]) if entry else (1, now + window_seconds)
            self._windows[key] = (count, expires)
            return count, math.ceil(expires - now)

    async def peek(self, key: str) -> tuple[int, int]:
        now = time.monotonic()
        entry = self._current(key, now)
        return (entry[0], math.ceil(entry[1] - now)) if entry else (0, 0)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def close(self) -> None:
        self._windows.clear()


class RedisCounter:
    def __init__(self, redis: Redis, prefix: str = "vigilare:rl:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return int(count), max(int(ttl), 1)

    async def peek(self, key: str) -> tuple[int, int]:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(name)
            pipe.ttl(name)
            value, ttl = await pipe.execute()
        return (int(value), max(int(ttl), 1)) if value is not None else (0, 0)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
