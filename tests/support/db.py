"""Direct database access from a test (the API test client runs on its own event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory


@asynccontextmanager
async def db_session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
            await session.commit()
    finally:
        await engine.dispose()


async def get_tenant(settings: Settings, tenant_id: str) -> Tenant:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
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
