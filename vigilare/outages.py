"""Telling an outage from a bug: is an exception a database or a queue that cannot be reached?

A request that fails because PostgreSQL or Redis is down, restarting, refusing connections or out
of pooled connections may succeed a few seconds later: the API answers 503 with Retry-After, and
a job is run again. Anything else is a bug (a 500, a failed job).
"""

from __future__ import annotations

from types import TracebackType

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

DATABASE_UNAVAILABLE = "the database is unavailable; try again in a few seconds"
# A job that failed on an outage runs again after this many seconds times its attempt, up to the
# longest pause: with the default five tries, about a minute of outage is ridden out.
OUTAGE_RETRY_SECONDS = 3.0
OUTAGE_RETRY_MAX_SECONDS = 30.0
QUEUE_UNAVAILABLE = "the job queue is unavailable; try again in a few seconds"

# asyncpg's own: the server starting up or shutting down, no connection slot left, a connection
# that was closed under it.
_DATABASE_CONNECTION_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)
# Raw socket errors and timeouts count only when the database driver raised them (SQLAlchemy
# passes connect errors through unwrapped); from anywhere else they are not a database outage.
_DATABASE_MODULES = ("asyncpg", "sqlalchemy")


def outage_retry_delay(attempt: int) -> float:
    """How long a job that failed on an outage waits before its next run."""
    return min(OUTAGE_RETRY_SECONDS * attempt, OUTAGE_RETRY_MAX_SECONDS)


def _raised_in(traceback: TracebackType | None, prefixes: tuple[str, ...]) -> bool:
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(prefixes):
            return True
        traceback = traceback.tb_next
    return False


def unavailable_dependency(exc: BaseException) -> str | None:
    """Why the service cannot do this now (the database or the queue is unreachable), or None."""
    current: BaseException | None = exc
    for _ in range(5):  # the exception and what it was raised from
        if current is None:
            return None
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return DATABASE_UNAVAILABLE
        if isinstance(current, (OperationalError, InterfaceError, PoolTimeoutError)):
            return DATABASE_UNAVAILABLE
        if isinstance(current, _DATABASE_CONNECTION_ERRORS):
            return DATABASE_UNAVAILABLE
        if isinstance(current, (RedisConnectionError, RedisTimeoutError)):
            return QUEUE_UNAVAILABLE
        if isinstance(current, (OSError, TimeoutError)) and _raised_in(
            current.__traceback__, _DATABASE_MODULES
        ):
            return DATABASE_UNAVAILABLE
        current = current.__cause__ or current.__context__
    return None
