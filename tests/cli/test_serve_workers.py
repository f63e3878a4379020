"""`vigilare serve --workers 2`: two API processes on one port, whose limits hold across both."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx

from tests.support.process import ServerProcess, run_cli, serve
from tests.support.services import REDIS_URL

PASSWORD = "correct-horse-battery"


def worker_processes(server: ServerProcess) -> list[int]:
    """The serving processes uvicorn started under `vigilare serve` (its supervisor)."""
    deadline = time.monotonic() + 30
    while True:
        found = subprocess.run(
            ["ps", "-ww", "--ppid", str(server.process.pid), "-o", "pid=,args="],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        workers = [int(line.split()[0]) for line in found if "spawn_main" in line]
        if len(workers) >= 2 or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


def fresh_connection_get(url: str, **kwargs: object) -> httpx.Response:
    # A new connection per request, so the kernel spreads them over both processes' accepts.
    with httpx.Client(timeout=10) as http:
        return http.get(url, **kwargs)  # type: ignore[arg-type]


def test_two_processes_share_the_rate_limit_and_login_throttling(pg_url, tmp_path: Path, queue_name):
    env = {
        "VIGILARE_DATABASE_URL": pg_url,
        "VIGILARE_REDIS_URL": REDIS_URL,
        "VIGILARE_QUEUE_NAME": f"{queue_name}-{uuid.uuid4().hex[:6]}",
        "VIGILARE_SECRET_KEY": "workers-" + "k" * 40,
        "VIGILARE_DATA_DIR": str(tmp_path / "data"),
        "VIGILARE_RATE_LIMIT_PER_MINUTE": "12",
        "VIGILARE_LOGIN_MAX_FAILURES": "3",
    }
    with serve(env, "--workers", "2", "--no-access-log") as server:
        assert len(worker_processes(server)) == 2, server.text()
        statuses = [fresh_connection_get(f"{server.base_url}/billing/plans").status_code for _ in range(20)]
        # One window shared by both processes: 12 answers in all, never 12 per process.
        assert statuses.count(200) == 12 and statuses.count(429) == 8, statuses

    env["VIGILARE_RATE_LIMIT_PER_MINUTE"] = "0"
    env["VIGILARE_QUEUE_NAME"] = f"{queue_name}-{uuid.uuid4().hex[:6]}"
    with serve(env, "--workers", "2", "--no-access-log") as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            created = http.post(
                "/auth/signup", json={"email": "owner@workers.test", "password": PASSWORD, "name": "W"}
            )
            assert created.status_code == 201, created.text
        answers = []
        for _ in range(6):
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                answers.append(
                    http.post(
                        "/auth/login", json={"email": "owner@workers.test", "password": "wrong-password"}
                    )
                )
        # max_failures=3 per (email, address) pair across both processes: the 4th attempt is refused.
        assert [a.status_code for a in answers] == [401, 401, 401, 429, 429, 429], [a.text for a in answers]
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers[3:])


def test_several_processes_need_redis_and_postgres(tmp_path: Path, pg_url):
    result = run_cli(
        ["serve", "--workers", "2"], {"VIGILARE_DATA_DIR": str(tmp_path), "VIGILARE_DATABASE_URL": pg_url}
    )
    assert result.returncode == 2
    assert "VIGILARE_REDIS_URL" in result.stderr
    result = run_cli(
        ["serve", "--workers", "2"], {"VIGILARE_DATA_DIR": str(tmp_path), "VIGILARE_REDIS_URL": REDIS_URL}
    )
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr
