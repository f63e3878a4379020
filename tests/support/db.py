"""Direct database access from a test (the API test client runs on its own event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.models import Tenant
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


async def set_tenant(database_url: str, tenant_id: str, **values: Any) -> None:
    async with db_session(database_url) as session:
        await session.execute(update(Tenant).where(Tenant.id == tenant_id).values(**values))
