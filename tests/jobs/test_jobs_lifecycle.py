"""Start-up and shutdown hooks: registered by the package that owns a resource, run with the
settings by the API lifespan and by the arq worker, start-up in order (a failure stops the
start-up), shutdown newest first (a failure does not stop the others)."""

from __future__ import annotations

import asyncio
import logging

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.support.services import REDIS_URL
from vigilare import lifecycle
from vigilare.api.app import create_app
from vigilare.aws import clients
from vigilare.config import Settings
from vigilare.jobs.worker import create_worker


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, Settings]]:
    """Only this test's hooks are registered while it runs; returns what they saw."""
    monkeypatch.setattr(lifecycle, "_STARTUP", [])
    monkeypatch.setattr(lifecycle, "_SHUTDOWN", [])
    seen: list[tuple[str, Settings]] = []

    @lifecycle.on_startup
    def first(settings: Settings) -> None:
        seen.append(("start first", settings))

    @lifecycle.on_startup
    async def second(settings: Settings) -> None:
        await asyncio.sleep(0)
        seen.append(("start second", settings))

    @lifecycle.on_shutdown
    async def close_first(settings: Settings) -> None:
        seen.append(("stop first", settings))

    @lifecycle.on_shutdown
    def close_second(settings: Settings) -> None:
        seen.append(("stop second", settings))

    return seen


ORDER = ["start first", "start second", "stop second", "stop first"]


async def test_hooks_run_in_order_with_the_settings(calls, settings):
    async with lifecycle.running(settings):
        assert [name for name, _ in calls] == ORDER[:2]
    assert [name for name, _ in calls] == ORDER
    assert all(seen is settings for _, seen in calls)


async def test_a_failing_start_up_hook_stops_the_start_up_and_shutdown_still_runs(calls, settings):
    @lifecycle.on_startup
    def broken(_settings: Settings) -> None:
        raise RuntimeError("plugin 'acme' failed to load")

    entered = False
    with pytest.raises(RuntimeError, match="acme"):
        async with lifecycle.running(settings):
            entered = True
    assert not entered
    assert [name for name, _ in calls] == ORDER


async def test_a_failing_shutdown_hook_does_not_stop_the_others(calls, settings, caplog):
    @lifecycle.on_shutdown
    def broken(_settings: Settings) -> None:
        raise RuntimeError("cannot close")

    with caplog.at_level(logging.ERROR, logger="vigilare.lifecycle"):
        await lifecycle.shutdown(settings)
    assert [name for name, _ in calls] == ORDER[2:]
    assert "broken" in caplog.text and "cannot close" in caplog.text


async def test_the_api_runs_the_hooks(calls, settings):
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert [name for name, _ in calls] == ORDER[:2]
        assert (await client.get("/readyz")).status_code == 200
    assert [name for name, _ in calls] == ORDER
    assert all(seen == settings for _, seen in calls)


async def test_the_api_does_not_start_when_a_start_up_hook_fails(calls, settings):
    @lifecycle.on_startup
    def broken(_settings: Settings) -> None:
        raise RuntimeError("plugin 'acme' failed to load")

    with pytest.raises(BaseExceptionGroup) as raised:  # the test client's task group wraps it
        async with AsyncTestClient(app=create_app(settings)):
            pass
    assert raised.group_contains(RuntimeError, match="plugin 'acme' failed to load")
    assert [name for name, _ in calls] == ORDER


async def test_the_worker_runs_the_hooks(calls, settings, redis_flush):
    configured = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    worker = create_worker(configured, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
    try:
        await worker.main()
        assert [name for name, _ in calls] == ORDER[:2]
    finally:
        await worker.close()
    assert [name for name, _ in calls] == ORDER
    assert all(seen is configured for _, seen in calls)


async def test_the_worker_does_not_start_when_a_start_up_hook_fails(calls, settings, redis_flush):
    @lifecycle.on_startup
    def broken(_settings: Settings) -> None:
        raise RuntimeError("plugin 'acme' failed to load")

    configured = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    worker = create_worker(configured, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
    try:
        with pytest.raises(RuntimeError, match="acme"):
            await worker.main()
    finally:
        await worker.close()
    assert [name for name, _ in calls] == ORDER


async def test_the_aws_package_closes_its_shared_clients_at_shutdown(settings):
    pool = clients.shared_clients()
    assert clients.shared_clients() is pool
    await lifecycle.shutdown(settings)
    assert clients.shared_clients() is not pool  # the old pool was closed and dropped
