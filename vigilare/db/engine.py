"""Engine and session factory for the configured database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from vigilare.db.tenancy import VigilareSession, cross_tenant, tenant_scope

SessionFactory = async_sessionmaker[AsyncSession]
# Anything that opens a session: the factory itself, or ``TenantSessions`` for one tenant's rows.
SessionOpener = Callable[[], AsyncSession]


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(database_url, **kwargs)


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
