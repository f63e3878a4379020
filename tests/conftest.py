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
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text

from tests.support.smtp import SmtpSink
from vigilare.api.app import create_app
from vigilare.aws.clients import close_shared_clients
from vigilare.config import Settings
from vigilare.db.engine import create_engine
from vigilare.db.migrate import upgrade_to_head
from vigilare.db.models import metadata
from vigilare_sandbox import Sandbox

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


@pytest.fixture(scope="session", autouse=True)
async def shared_aws_clients() -> AsyncIterator[None]:
    """Scans called directly from tests share AWS clients on the tests' event loop: close them."""
    yield
    await close_shared_clients()


@pytest.fixture(scope="session")
def queue_name() -> str:
    return f"vigilare-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis_flush(queue_name: str) -> AsyncIterator[None]:
    yield
    redis = Redis.from_url(REDIS_URL)
    try:
        # Only this run's keys: other runs (and workers) may share this Redis. arq's own job keys
        # expire by themselves.
        keys = [key async for key in redis.scan_iter(match=f"{queue_name}*")]
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


# Vigilare's own AWS identity in tests: moto's default account, which customer roles trust.
SENTINEL_ACCOUNT_ID = "123456789012"
TEST_REGIONS = "us-east-1,eu-west-1,ap-southeast-2"
_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/vigilare-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/vigilare-test-aws-credentials",
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
}


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Sandbox]:
    """moto's server plus the stand-in for the APIs moto lacks, behind one endpoint."""
    previous = {name: os.environ.get(name) for name in _AWS_ENVIRONMENT}
    os.environ.update(_AWS_ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)
    sandbox = Sandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def sandbox(sandbox_session: Sandbox) -> Sandbox:
    sandbox_session.reset()
    sandbox_session.latency_ms = 0
    return sandbox_session


@pytest.fixture
async def aws_settings(settings: Settings, sandbox: Sandbox) -> Settings:
    return msgspec.structs.replace(
        settings,
        aws_endpoint_url=sandbox.endpoint_url,
        sentinel_account_id=SENTINEL_ACCOUNT_ID,
        # Every region works against the sandbox, but each costs moto a warm-up after every reset.
        scan_regions=TEST_REGIONS,
    )


@pytest.fixture
async def aws_client(aws_settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API on PostgreSQL, jobs in process, AWS in the sandbox."""
    async with AsyncTestClient(app=create_app(aws_settings)) as test_client:
        yield test_client


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
