"""Shared fixtures: a PostgreSQL database per test run, Redis isolation, the API, a local SMTP server.

PostgreSQL and Redis are the real servers on 127.0.0.1 (see TESTING.md); override their addresses
with VIGILARE_TEST_PG_ADMIN_URL and VIGILARE_TEST_REDIS_URL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text

from tests.support.smtp import SmtpSink
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare.db.engine import create_engine
from vigilare.db.migrate import upgrade_to_head
from vigilare.db.models import metadata

PG_ADMIN_URL = os.environ.get("VIGILARE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("VIGILARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A fresh database for this test run (per xdist worker), migrated once, dropped at the end."""
    name = f"vigilare_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    await asyncio.to_thread(upgrade_to_head, url)
    yield url
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def queue_name() -> str:
    return f"vigilare-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis_flush(queue_name: str) -> AsyncIterator[None]:
    yield
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{queue_name}*")]
        keys += [key async for key in redis.scan_iter(match="arq:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    finally:
        await engine.dispose()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "secret_key": "test-secret-key-" + "x" * 32,
        "rate_limit_per_minute": 0,
        "public_url": "https://vigilare.test",
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


@pytest.fixture
async def settings(tmp_path: Path, pg_url: str, queue_name: str) -> AsyncIterator[Settings]:
    yield make_settings(tmp_path, database_url=pg_url, queue_name=queue_name)
    await _truncate(pg_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API on PostgreSQL with jobs run in process."""
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
