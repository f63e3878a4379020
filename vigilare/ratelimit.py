"""Fixed-window counters for rate limits, in Redis when configured and in memory otherwise.

Every API process shares the Redis counters, so limits hold across a fleet; the in-memory counter
serves the single-process embedded default. While Redis cannot be reached, ``FallbackCounter``
counts in the process instead (each API process then limits on its own), so a Redis outage slows
nobody down and fails no request that needs only the database.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("vigilare.ratelimit")

T = TypeVar("T")

# How long one Redis command of a counter may take before the process counts alone.
REDIS_TIMEOUT_SECONDS = 1.0
# After a failure, how long the process counts alone before it asks Redis again: one slow or
# refused connection per this period, not one per request.
REDIS_RETRY_AFTER_SECONDS = 2.0


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


def redis_client(url: str) -> Redis:
    """A Redis client for counters: every command bounded, so an outage is noticed, not waited out."""
    return Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )


class FallbackCounter:
    """Redis's shared counters while Redis answers, this process's own counters while it does not.

    A limit keeps holding during an outage, per process instead of fleet-wide; the process goes
    back to Redis by itself once Redis answers again (asked at most every few seconds meanwhile).
    Counts made in the process are not carried over to Redis, nor back.
    """

    def __init__(
        self,
        shared: Counter,
        local: Counter | None = None,
        *,
        retry_after_seconds: float = REDIS_RETRY_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._local = local or MemoryCounter(clock)
        self._retry_after = retry_after_seconds
        self._clock = clock
        self._down_until = 0.0

    @property
    def degraded(self) -> bool:
        """True while the process counts alone (Redis failed lately)."""
        return self._clock() < self._down_until

    async def _either(self, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        if self.degraded:
            return await local()
        try:
            result = await shared()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if not self._down_until:
                logger.warning("rate limits count in this process: Redis is unreachable (%s)", exc)
            self._down_until = self._clock() + self._retry_after
            return await local()
        if self._down_until:
            logger.info("rate limits count in Redis again")
            self._down_until = 0.0
        return result

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        return await self._either(
            lambda: self._shared.hit(key, window_seconds), lambda: self._local.hit(key, window_seconds)
        )

    async def undo(self, key: str) -> None:
        await self._either(lambda: self._shared.undo(key), lambda: self._local.undo(key))

    async def claim(self, key: str, seconds: float) -> int:
        return await self._either(
            lambda: self._shared.claim(key, seconds), lambda: self._local.claim(key, seconds)
        )

    async def reset(self, key: str) -> None:
        await self._either(lambda: self._shared.reset(key), lambda: self._local.reset(key))

    async def close(self) -> None:
        await self._shared.close()
        await self._local.close()
