"""Direct database access from a test (the API test client runs on its own event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory, create_engine
from vigilare.db.tenancy import APP_ROLE, CROSS_TENANT_KEY, VigilareSession


def app_role_url(database_url: str) -> str:
    """The same database as the application role the migration creates (trust authentication on
    the test server)."""
    scheme, _, rest = database_url.partition("://")
    return f"{scheme}://{APP_ROLE}@{rest.rpartition('@')[2]}"


def cross_tenant_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that see every tenant (the cross-tenant path), for a test's own reads and writes."""
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=VigilareSession, info={CROSS_TENANT_KEY: True}
    )


@asynccontextmanager
async def db_session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(database_url)
    try:
        async with cross_tenant_factory(engine)() as session:
            yield session
            await session.commit()
    finally:
        await engine.dispose()


async def get_tenant(settings: Settings, tenant_id: str) -> Tenant:
    engine = create_engine(settings.database_url)
    try:
        async with cross_tenant_factory(engine)() as session:
            return await session.get_one(Tenant, tenant_id)
    finally:
        await engine.dispose()


async def update_tenant(settings: Settings, tenant_id: str, **values: Any) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(Tenant).where(Tenant.id == tenant_id).values(**values))
    finally:
        await engine.dispose()
