"""A manual scan committed while the queue is down still runs: `vigilare serve` and `vigilare worker`
as real processes on a private Redis that the test kills, and the API killed (SIGKILL) before
Redis comes back — nothing in any process's memory is needed for the scan to run."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from tests.support.accounts import connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.private_services import PrivateRedis
from tests.support.process import serve, settings_env, start_worker, stop
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNT = "210987654321"


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


async def test_a_manual_scan_committed_while_redis_is_down_runs_when_it_is_back(
    aws_settings, sandbox, private_redis
):
    settings = msgspec.structs.replace(
        aws_settings,
        redis_url=private_redis.url,
        scan_lease_seconds=10,  # renewed in time by a worker on a busy machine
        scheduler_tick_seconds=1,
        outbox_relay_seconds=0.5,
    )
    create_public_bucket(sandbox, ACCOUNT, "outbox-bucket")
    worker = start_worker(settings)
    try:
        with serve(settings_env(settings)) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                headers = await owner_headers(client)
                verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
                first = await wait_for_scan(
                    client, headers, ACCOUNT, verified["first_scan_execution_arn"], timeout=90
                )
                assert first["status"] in ("succeeded", "partial"), first

                private_redis.kill()
                asked = await client.post(f"/accounts/{ACCOUNT}/scan", headers=headers)
                # Committed, and said so: the queue being down is the outbox's business.
                assert asked.status_code == 202, asked.text
                scan_id = asked.json()["execution_arn"]
                queued = (await client.get(f"/accounts/{ACCOUNT}/scans/{scan_id}", headers=headers)).json()
                assert queued["status"] == "queued"
            server.process.send_signal(signal.SIGKILL)  # the API dies before Redis is back
            server.process.wait(timeout=10)
        stop(worker)

        private_redis.start()  # empty: it never had the scan's job
        back_at = time.monotonic()
        worker = start_worker(settings)
        with serve(settings_env(settings)) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                headers = {"Authorization": headers["Authorization"]}
                scan = await wait_for_scan(client, headers, ACCOUNT, scan_id, timeout=90)
        assert scan["status"] in ("succeeded", "partial"), scan
        assert scan["attempts"] == 1
        waited = time.monotonic() - back_at
        print(f"\nthe scan committed while Redis was down ended {waited:.1f}s after Redis was back")
    finally:
        stop(worker)
