"""Engine and session factory for the configured database."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from vigilare.db.tenancy import VigilareSession, cross_tenant, tenant_scope

logger = logging.getLogger("vigilare.db")

SessionFactory = async_sessionmaker[AsyncSession]
# Anything that opens a session: the factory itself, or ``TenantSessions`` for one tenant's rows.
SessionOpener = Callable[[], AsyncSession]

CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0


def json_serializer(value: Any) -> str:
    """JSON columns are written with msgspec (several times faster than the standard library on a
    scan's state and evidence, which every scan writes); what msgspec will not encode (a dict with
    keys other than str or numbers) falls back to ``json.dumps``."""
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return json.dumps(value)


def json_deserializer(text: str | bytes) -> Any:
    return msgspec.json.decode(text)


def create_engine(
    database_url: str, *, pool_size: int = 20, max_overflow: int = 10, **kwargs: Any
) -> AsyncEngine:
    """The engine of ``database_url``; on a server database, a pool of ``pool_size`` connections.

    The pool is sized for the process's concurrency: a connection opened beyond it (overflow) is
    closed when it is returned, and opening one costs several round trips, so a pool smaller than the
    requests in flight opens and closes connections all the time.

    No ping before each checkout (``pool_pre_ping``): that is a round trip on every request. A
    connection the server closed (restart, failover) fails its next statement instead; SQLAlchemy
    then recognises the disconnect and invalidates the whole pool, so that one statement is the only
    one to fail (the API answers it 503) and the next requests get fresh connections. Connections
    are also replaced after ``pool_recycle`` seconds.
    """
    kwargs.setdefault("json_serializer", json_serializer)
    kwargs.setdefault("json_deserializer", json_deserializer)
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_recycle", 1800)
    # Bounded waits, so an unreachable database is an error in seconds (503 to API clients), never
    # a hung request: for a new connection, and for a free one from the pool.
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    connect_args = {"timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=max_overflow, connect_args=connect_args, **kwargs
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a job writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=VigilareSession)


@dataclass(frozen=True)
class TenantSessions:
    """Opens sessions scoped to one tenant, for work that outlives a request's own session."""

    factory: SessionFactory
    tenant_id: str

    def __call__(self) -> AsyncSession:
        session = self.factory()
        tenant_scope(session, self.tenant_id)
        return session


@dataclass(frozen=True)
class CrossTenantSessions:
    """Opens sessions on every tenant's rows: the explicit cross-tenant path (see ``vigilare.db.tenancy``)."""

    factory: SessionFactory

    def __call__(self) -> AsyncSession:
        session = self.factory()
        cross_tenant(session)
        return session


async def owned_tables(engine: AsyncEngine) -> int:
    """How many tables of the schema the engine's login role owns (PostgreSQL; 0 on SQLite).

    The service should own none: connected as the owner, a statement run outside the sessions'
    role switch (a bug, an injection) is not held by row-level security. Logged as a warning at
    start-up, naming the setting that fixes it.
    """
    if engine.dialect.name != "postgresql":
        return 0
    try:
        async with engine.connect() as connection:
            owned = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tableowner = current_user"
                )
            )
    except (OSError, SQLAlchemyError) as exc:
        # Only advice: a worker starting while the database is down must still start.
        logger.info("could not tell who owns the tables (%s: %s)", type(exc).__name__, exc)
        return 0
    count = int(owned or 0)
    if count:
        logger.warning(
            "connected to the database as the owner of its tables: set VIGILARE_DATABASE_APP_URL to the "
            "vigilare_app role (row-level security still holds each session's transactions)"
        )
    return count
