"""`vigilare worker --processes 2` as an operator runs it: two worker processes under a supervisor,
both taking jobs, the scheduler's tick once per period across them, and one /metrics (the
supervisor's metrics port) adding up the samples of both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.support.accounts import connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.net import free_port
from tests.support.process import vigilare_env
from tests.support.services import REDIS_URL
from tests.support.waiting import eventually
from vigilare.api.app import create_app
from vigilare.jobs.periodic import PeriodicRun
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNT = "210987654321"


@pytest.fixture
async def real_settings(aws_settings, redis_flush):
    return msgspec.structs.replace(aws_settings, redis_url=REDIS_URL, scheduler_tick_seconds=1)


def _start(settings, metrics_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        "VIGILARE_DATABASE_URL": settings.database_url,
        "VIGILARE_REDIS_URL": settings.redis_url,
        "VIGILARE_QUEUE_NAME": settings.queue_name,
        "VIGILARE_SECRET_KEY": settings.secret_key,
        "VIGILARE_AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        "VIGILARE_SCAN_REGIONS": settings.scan_regions,
        "VIGILARE_SCHEDULER_TICK_SECONDS": "1",
        "VIGILARE_DATA_DIR": settings.data_dir,
        # Ours, so the test can read each process's own samples after they stop.
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "vigilare", "worker", "--processes", "2", "--metrics-port", str(port)],
        env=vigilare_env({**aws, **env}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _per_process(metrics_dir: Path, sample: str, **labels: str) -> Counter[str]:
    """A counter's value in each process's own file (counter_<pid>.db)."""
    found: Counter[str] = Counter()
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, key_labels, _help = json.loads(key)
            if name == sample and all(key_labels.get(k) == v for k, v in labels.items()):
                found[path.stem.removeprefix("counter_")] += value
    return found


def _value(body: str, sample: str, **labels: str) -> float:
    for family in text_string_to_metric_families(body):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def test_two_worker_processes_share_the_work_and_the_tick(real_settings, sandbox, db, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    create_public_bucket(sandbox, ACCOUNT, "processes-bucket")
    supervisor = _start(real_settings, metrics_dir, port)
    try:
        async with AsyncTestClient(app=create_app(real_settings)) as client:
            headers = await owner_headers(client)
            verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
            scan = await wait_for_scan(
                client, headers, ACCOUNT, verified["first_scan_execution_arn"], timeout=90
            )
            assert scan["status"] in ("succeeded", "partial")

        async def scraped() -> str | None:
            try:
                async with httpx.AsyncClient() as http:
                    body = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
            except httpx.HTTPError:
                return None
            ran = _value(body, "vigilare_periodic_runs_total", job="schedule_scans", result="ran")
            return body if ran >= 6 else None  # six ticks of one second at least

        body = await eventually(scraped, timeout=60)
        assert _value(body, "vigilare_scans_total", trigger="verify", outcome=scan["status"]) == 1
        assert (
            _value(body, "vigilare_aws_calls_total", service="sts", operation="AssumeRole", outcome="ok") >= 1
        )
        assert _value(body, "vigilare_jobs_total", job="scan_account", outcome="ok") == 1
        # The scan's own AWS calls, the ticks' time and the processes' memory, added up across both.
        assert _value(body, "vigilare_scan_aws_calls_count", trigger="verify") == 1
        assert _value(body, "vigilare_scan_aws_calls_sum", trigger="verify") >= 1
        assert _value(body, "vigilare_scheduler_tick_seconds_count") >= 6
        assert _value(body, "vigilare_process_resident_memory_bytes") > 20 * 1024 * 1024
        workers = _worker_processes(supervisor.pid)
        assert len(workers) == 2 and all(_alive(pid) for pid in workers), workers
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0

    # After both stopped: every period's tick ran once, in one process or the other...
    async with db() as session:
        slots = await session.scalar(
            select(func.count()).select_from(PeriodicRun).where(PeriodicRun.job == "schedule_scans")
        )
    ran = _per_process(metrics_dir, "vigilare_periodic_runs_total", job="schedule_scans", result="ran")
    assert sum(ran.values()) == slots >= 6
    # ...by the two worker processes, alive from start to end (none restarted), which took every job of
    # the queue (the ticks, the scan) between them. Which of the two takes a given job is arq's polling
    # race (a process whose poll is in phase with the ticks can win all of them), so jobs are counted
    # over both; a job counted in a third pid would mean a worker was restarted.
    worked = _per_process(metrics_dir, "vigilare_jobs_total", outcome="ok")
    assert set(worked) <= {str(pid) for pid in workers}, (worked, workers)
    assert sum(worked.values()) >= slots + 1, worked


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(child) for child in path.read_text().split()} if path.exists() else set()


def _worker_processes(supervisor: int) -> set[int]:
    return {pid for pid in _children(supervisor) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_no_worker_outlives_its_supervisor_killed_with_sigkill(real_settings, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    supervisor = _start(real_settings, metrics_dir, port)
    try:

        async def workers() -> set[int] | None:
            found = {
                pid
                for pid in _children(supervisor.pid)
                if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
            }
            return found if len(found) == 2 else None

        children = await eventually(workers, timeout=60)
    finally:
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(timeout=10)

    async def all_gone() -> bool:
        return not any(_alive(pid) for pid in children)

    assert await eventually(all_gone, timeout=20)
