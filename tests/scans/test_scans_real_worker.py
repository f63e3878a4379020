"""The production path: API enqueueing to Redis, `vigilare worker` processes running scans, and a
worker killed with SIGKILL mid-scan whose scan another worker finishes without duplicate signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.process import vigilare_env
from tests.support.services import REDIS_URL
from vigilare.api.app import create_app
from vigilare_sandbox.seed_aws import create_public_bucket, create_quarantined_user

ACCOUNT = "210987654321"


def _worker_env(settings: Any) -> dict[str, str]:
    env = {
        "VIGILARE_DATABASE_URL": settings.database_url,
        "VIGILARE_DATABASE_APP_URL": settings.database_app_url,
        "VIGILARE_REDIS_URL": settings.redis_url,
        "VIGILARE_QUEUE_NAME": settings.queue_name,
        "VIGILARE_SECRET_KEY": settings.secret_key,
        "VIGILARE_AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        "VIGILARE_SCAN_REGIONS": settings.scan_regions,
        "VIGILARE_SCAN_LEASE_SECONDS": str(settings.scan_lease_seconds),
        "VIGILARE_SCHEDULER_TICK_SECONDS": str(settings.scheduler_tick_seconds),
        "VIGILARE_DATA_DIR": settings.data_dir,
    }
    return vigilare_env({**{k: v for k, v in os.environ.items() if k.startswith("AWS_")}, **env})


def _start_worker(settings: Any) -> subprocess.Popen[bytes]:
    # One worker process, the signalled one itself (tests/jobs/test_jobs_worker_processes.py runs
    # several under a supervisor): its 3-second lease is renewed by the process that runs the scan.
    return subprocess.Popen(
        [sys.executable, "-m", "vigilare", "worker", "--processes", "1"],
        env=_worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_status(client, headers, scan_id: str, wanted: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        scan = (await client.get(f"/accounts/{ACCOUNT}/scans/{scan_id}", headers=headers)).json()
        if scan["status"] in wanted:
            return scan
        assert time.monotonic() < deadline, f"scan is {scan['status']}, wanted {wanted}"
        await asyncio.sleep(0.1)


@pytest.fixture
async def real_settings(aws_settings, redis_flush):
    # A lease a run can renew on a machine whose cores are busy (one that cannot renew in time
    # stops itself and is recovered: another attempt).
    return msgspec.structs.replace(
        aws_settings, redis_url=REDIS_URL, scan_lease_seconds=10, scheduler_tick_seconds=1
    )


async def test_worker_process_runs_the_scan(real_settings, sandbox):
    create_public_bucket(sandbox, ACCOUNT, "worker-bucket")
    worker = _start_worker(real_settings)
    try:
        async with AsyncTestClient(app=create_app(real_settings)) as client:
            headers = await owner_headers(client)
            verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
            scan = await wait_for_scan(
                client, headers, ACCOUNT, verified["first_scan_execution_arn"], timeout=90
            )
            assert scan["status"] in ("succeeded", "partial") and scan["attempts"] == 1
            assert any("worker-bucket" in s["resource"] for s in await all_signals(client, headers, ACCOUNT))
    finally:
        worker.terminate()
        worker.wait(timeout=20)


async def test_a_worker_killed_mid_scan_does_not_lose_or_duplicate_it(real_settings, sandbox):
    create_quarantined_user(sandbox, ACCOUNT, "leaky")
    create_public_bucket(sandbox, ACCOUNT, "killed-bucket")
    first = _start_worker(real_settings)
    second = None
    try:
        async with AsyncTestClient(app=create_app(real_settings)) as client:
            headers = await owner_headers(client)
            sandbox.latency_ms = 250  # every AWS call is slow: the scan is surely in flight when we kill
            verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
            scan_id = verified["first_scan_execution_arn"]
            await _wait_status(client, headers, scan_id, {"running"})
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            sandbox.latency_ms = 0
            killed_at = time.monotonic()
            second = _start_worker(real_settings)
            scan = await _wait_status(
                client, headers, scan_id, {"succeeded", "partial", "failed"}, timeout=90
            )
            recovered_in = time.monotonic() - killed_at
            assert scan["status"] in ("succeeded", "partial"), scan
            assert scan["attempts"] == 2
            assert recovered_in < 60
            signals = await all_signals(client, headers, ACCOUNT)
            keys = [(s["scenario"], s["kind"], s["region"], s["resource"]) for s in signals]
            assert len(keys) == len(set(keys)) and any("killed-bucket" in k[3] for k in keys)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
