"""The production path: `vigilare serve` on PostgreSQL and Redis, `vigilare worker` processes, and a
worker killed with SIGKILL between storing an event and processing it: the event is processed
once another worker runs, exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.fixtures.app import _truncate
from tests.ingest.conftest import processed_event, push_account, server_env, stored_events
from tests.ingest.ingest_support import load_event
from tests.support.process import ServerProcess, serve, vigilare_env
from tests.support.services import REDIS_URL
from vigilare_sandbox import Sandbox
from vigilare_sandbox.state import SupportPlan

QUEUE = f"vigilare-ingest-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def production_env(
    pg_url: str, sandbox_session: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    return server_env(
        pg_url,
        sandbox_session,
        tmp_path_factory.mktemp("ingest-production"),
        VIGILARE_REDIS_URL=REDIS_URL,
        VIGILARE_QUEUE_NAME=QUEUE,
        VIGILARE_SCHEDULER_TICK_SECONDS="1",
        VIGILARE_INGEST_RETRY_SECONDS="2",
    )


@pytest.fixture(scope="module")
def production_server(production_env: dict[str, str], pg_url: str) -> Iterator[ServerProcess]:
    with serve(production_env) as server:
        yield server
    asyncio.run(_truncate(pg_url))
    asyncio.run(_forget_queue())


async def _forget_queue() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{QUEUE}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
async def http(production_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=production_server.base_url, timeout=30) as client:
        yield client


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k.startswith("MOTO_")}
    return subprocess.Popen(
        [sys.executable, "-m", "vigilare", "worker"],
        env=vigilare_env({**aws, **env}),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def _asyncpg_url(pg_url: str) -> str:
    return pg_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _wait_for_lock_waiter(connection: asyncpg.Connection, timeout: float = 30) -> None:
    """Until another backend waits for a row lock: the worker's job is inside the processing."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if waiting:
            return
        assert time.monotonic() < deadline, "no worker job is waiting for the account"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_between_store_and_process_loses_nothing(
    http, sandbox, pg_url, production_env, tmp_path
):
    log = tmp_path / "workers.log"
    first = _start_worker(production_env, log)
    second = None
    try:
        account = await push_account(http, sandbox, plan=SupportPlan.BASIC)
        # Hold the account's row: the worker's job stores nothing until we let go, so it is surely
        # between the store and the processing when it dies.
        holder = await asyncpg.connect(_asyncpg_url(pg_url))
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute(
                "SELECT 1 FROM aws_accounts WHERE aws_account_id = $1 FOR NO KEY UPDATE",
                account.aws_account_id,
            )
            event = load_event("health_risk_credentials_exposed", account.aws_account_id)
            answer = await account.deliver(http, event)
            assert answer.status_code == 202
            await _wait_for_lock_waiter(holder)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            await transaction.rollback()
        finally:
            await holder.close()
        (row,) = await stored_events(pg_url, account.aws_account_id)
        assert row.processed_at is None

        killed_at = time.monotonic()
        second = _start_worker(production_env, log)
        row = await processed_event(pg_url, account.aws_account_id, event["id"], timeout=60)
        assert time.monotonic() - killed_at < 60
        assert row.recoveries >= 1 and "1 opened" in row.outcome
        abuse = await account.signals(http, scenario="abuse")
        assert [(s["kind"], s["detected_by"], s["resolved_at"]) for s in abuse] == [
            ("health_risk_event", "event", None)
        ]
        assert (await account.details(http))["current_srs"] <= 10
        # Recovery may queue the job more than once; it is applied once.
        await asyncio.sleep(3)
        assert len(await account.signals(http, scenario="abuse")) == 1
        assert len(await stored_events(pg_url, account.aws_account_id)) == 1
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


async def test_a_burst_for_one_account_is_applied_in_one_pass(
    http, sandbox, pg_url, production_env, tmp_path
):
    worker = _start_worker(production_env, tmp_path / "worker.log")
    try:
        account = await push_account(http, sandbox)
        rule = await http.post(
            "/alert-rules",
            headers=account.headers,
            json={
                "name": "Threats",
                "min_severity": "HIGH",
                "channels": [{"type": "email", "to": ["a@acme.test"]}],
            },
        )
        assert rule.status_code == 201, rule.text
        holder = await asyncpg.connect(_asyncpg_url(pg_url))
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute(
                "SELECT 1 FROM aws_accounts WHERE aws_account_id = $1 FOR NO KEY UPDATE",
                account.aws_account_id,
            )
            burst = []
            for n in range(5):
                event = load_event("guardduty_finding", account.aws_account_id, id=f"burst-{n}")
                event["detail"]["id"] = event["detail"]["arn"] = f"finding-{n}"
                assert (await account.deliver(http, event)).status_code == 202
                burst.append(event["id"])
            await _wait_for_lock_waiter(holder)
            await transaction.rollback()
        finally:
            await holder.close()
        rows = [await processed_event(pg_url, account.aws_account_id, event_id) for event_id in burst]
        # The first job applied the waiting ones with it: one transaction, one score, one alert.
        assert len({row.processed_at for row in rows}) == 1
        threat = [
            s for s in await account.signals(http, scenario="threat") if s["kind"] == "guardduty_finding"
        ]
        assert len(threat) == 5
        alerts = (await http.get("/alerts", headers=account.headers)).json()["alerts"]
        assert [sorted(a["signal_ids"]) for a in alerts if "threat" in a["scenarios_triggered"]] == [
            sorted(s["signal_id"] for s in threat)
        ]
    finally:
        worker.terminate()
        worker.wait(timeout=20)
