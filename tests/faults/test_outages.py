"""What the service does while Redis or PostgreSQL is down, one part at a time, on servers of the
test's own: the worker waits for Redis and goes on, the API starts without it; requests that need
only PostgreSQL keep working while Redis is down (rate limits count in the process); every request
answers 503 {"error"} while PostgreSQL is down, in bounded time; /readyz says 503 and recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from tests.fixtures.app import make_settings
from tests.support.api import bearer, login, owner_headers, signup
from tests.support.console import log_in_as
from tests.support.private_services import PrivatePostgres, PrivateRedis, missing_tools
from tests.support.process import start_worker, stop
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare.db.migrate import upgrade_to_head
from vigilare.jobs.queue import ArqQueue

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(missing_tools() is not None, reason=str(missing_tools())),
]

# No request may take longer than this while a dependency is down (a hang fails the test).
ANSWER_WITHIN_SECONDS = 8.0


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    """A PostgreSQL of this test's own, with a migrated database named "vigilare"."""
    server = PrivatePostgres()
    try:
        await asyncio.to_thread(server.start)
        admin = await asyncpg.connect(server.admin_url)
        try:
            await admin.execute('CREATE DATABASE "vigilare"')
        finally:
            await admin.close()
        await asyncio.to_thread(upgrade_to_head, server.url("vigilare"))
        yield server
    finally:
        server.close()


async def _timed(call: Any) -> Any:
    started = time.monotonic()
    response = await asyncio.wait_for(call, ANSWER_WITHIN_SECONDS)
    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
    return response


async def test_the_worker_rides_out_a_redis_restart(
    settings: Settings, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker(msgspec.structs.replace(settings, redis_url=private_redis.url), log)
    try:
        redis = Redis.from_url(private_redis.url)
        try:
            health = f"{settings.queue_name}:health-check"
            deadline = time.monotonic() + 60
            while not await redis.exists(health):  # arq's health record: the worker polls Redis
                assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.2)
        finally:
            await redis.aclose()

        private_redis.kill()
        await asyncio.sleep(4)  # several polls, each refused
        assert worker.poll() is None, f"the worker exited while Redis was down:\n{log.read_text()}"
        private_redis.start()  # empty: nothing persisted

        # It takes jobs again: one queued now runs (a scan that does not exist: "nothing to do").
        queue = await ArqQueue.connect(msgspec.structs.replace(settings, redis_url=private_redis.url))
        try:
            job_id = await queue.enqueue("scan_account", "01NOSUCHSCAN00000000000000", job_id="after-outage")
            assert job_id == "after-outage"
            deadline = time.monotonic() + 30
            while await queue.pool.zscore(
                settings.queue_name, job_id
            ) is not None or not await queue.pool.exists(f"arq:result:{job_id}"):
                assert time.monotonic() < deadline, f"the job did not run:\n{log.read_text()}"
                await asyncio.sleep(0.2)
        finally:
            await queue.close()
        assert worker.poll() is None
        assert "Redis answers again" in log.read_text()
    finally:
        stop(worker)


async def test_while_redis_is_down_requests_that_need_only_postgresql_work(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    limited = msgspec.structs.replace(settings, redis_url=private_redis.url, rate_limit_per_minute=40)
    async with AsyncTestClient(app=create_app(limited)) as client:
        headers = await owner_headers(client)
        assert (await client.get("/readyz")).status_code == 200

        private_redis.kill()
        me = await _timed(client.get("/me", headers=headers))
        assert me.status_code == 200, me.text
        ready = await _timed(client.get("/readyz"))
        assert ready.status_code == 503 and "error" in ready.json()
        # A login counts its attempt (the throttle) in the process too.
        assert (
            await _timed(client.post("/auth/login", json={"email": "owner@acme.test", "password": "x" * 12}))
        ).status_code == 401
        # The API-wide limit still holds, counted in this process: 40 a minute, then 429.
        answers = [(await client.get("/me", headers=headers)).status_code for _ in range(45)]
        assert 429 in answers and 500 not in answers, answers

        private_redis.start()
        deadline = time.monotonic() + 15
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "/readyz did not recover"
            await asyncio.sleep(0.2)


async def test_the_api_starts_while_redis_is_down_and_takes_jobs_once_it_is_back(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    private_redis.kill()
    configured = msgspec.structs.replace(settings, redis_url=private_redis.url)
    started = time.monotonic()
    async with AsyncTestClient(app=create_app(configured)) as client:
        assert time.monotonic() - started < ANSWER_WITHIN_SECONDS  # not waiting for Redis
        headers = await owner_headers(client)  # sign-up and login need only PostgreSQL
        assert (await _timed(client.get("/me", headers=headers))).status_code == 200
        ready = await _timed(client.get("/readyz"))
        assert ready.status_code == 503 and ready.json() == {"error": "queue unreachable"}
        # A change that needs a job is committed with it (the outbox), not refused.
        invited = await _timed(
            client.post("/users/invite", json={"email": "early@down.test", "name": "Early"}, headers=headers)
        )
        assert invited.status_code == 201, invited.text

        private_redis.start()
        deadline = time.monotonic() + 15
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "/readyz did not recover"
            await asyncio.sleep(0.2)
        # The API's own queue hands a job to Redis now (an invitation email).
        invited = await _timed(
            client.post("/users/invite", json={"email": "late@down.test", "name": "Late"}, headers=headers)
        )
        assert invited.status_code == 201, invited.text
        redis = Redis.from_url(private_redis.url)
        try:
            assert await redis.zcard(settings.queue_name) >= 1
        finally:
            await redis.aclose()


async def test_while_postgresql_is_down_requests_answer_503(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    server = private_pg
    settings = make_settings(tmp_path, database_url=server.url("vigilare"))
    async with AsyncTestClient(app=create_app(settings), base_url="https://vigilare.local") as client:
        await signup(client, "owner@down.test")
        headers = bearer(await login(client, "owner@down.test"))
        await log_in_as(client, "owner@down.test")
        assert (await client.get("/me", headers=headers)).status_code == 200

        await asyncio.to_thread(server.stop, "fast")
        for path in ("/me", "/accounts", "/alerts"):
            response = await _timed(client.get(path, headers=headers))
            assert response.status_code == 503, (path, response.text)
            assert response.json() == {"error": "the database is unavailable; try again in a few seconds"}
            assert response.headers["retry-after"] == "5"
        login_attempt = await _timed(
            client.post("/auth/login", json={"email": "owner@down.test", "password": "x" * 12})
        )
        assert login_attempt.status_code == 503, login_attempt.text
        ready = await _timed(client.get("/readyz"))
        assert ready.status_code == 503 and ready.json() == {"error": "database unreachable"}
        page = await _timed(client.get("/app/accounts"))
        assert page.status_code == 503 and "Temporarily unavailable" in page.text

        await asyncio.to_thread(server.start)
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/me", headers=headers)).status_code == 200
