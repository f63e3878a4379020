"""The fault-injection stack: one `vigilare serve`, two `vigilare worker` processes, PostgreSQL and Redis
of the test's own (tests/support/private_services.py), the AWS stand-in with 20 accounts and a slow
SMTP server; and a probe that keeps asking the API while a fault is injected.

The timings are the production ones scaled down: a 15 s lease, a 5 s scheduler tick and a 40 s scan
timeout (240 s in production), so every scan must end within lease + tick + scan timeout = 60 s of
the fault (of the dependency's return, for an outage).
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from botocore.exceptions import ClientError

from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID
from tests.support.net import free_port
from tests.support.private_services import PrivatePostgres, PrivateRedis
from tests.support.process import ServerProcess, run_cli, settings_env, start_server, start_worker, stop
from tests.support.smtp import SmtpSink
from vigilare.config import Settings
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import register_customer_role
from vigilare_sandbox.seed_aws import client_for, create_quarantined_user

LEASE_SECONDS = 15
TICK_SECONDS = 5
SCAN_TIMEOUT_SECONDS = 60
# The bound: a scan ends within lease + tick + scan timeout of the fault.
SCAN_BOUND_SECONDS = LEASE_SECONDS + TICK_SECONDS + SCAN_TIMEOUT_SECONDS
ACCOUNT_COUNT = 20
ACCOUNTS = [f"4{index:011d}" for index in range(1, ACCOUNT_COUNT + 1)]
ALERT_EMAIL = "oncall@acme.test"
EXPOSED_USER = "leaky"
# A request that has no answer within this long hangs.
PROBE_TIMEOUT_SECONDS = 10.0
UNFINISHED = ("queued", "running")


@dataclass
class Answer:
    at: float  # asked
    answered: float
    path: str
    outcome: int | str  # the status code, or "timeout" / "no connection"


@dataclass
class Probe:
    """Asks ``/me`` (a request that needs only PostgreSQL) and ``/readyz`` four times a second."""

    base_url: str
    headers: dict[str, str]
    answers: list[Answer] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _ask(self, client: httpx.AsyncClient, path: str) -> None:
        started = time.monotonic()
        try:
            response = await client.get(path, headers=self.headers)
            outcome: int | str = response.status_code
            if response.status_code >= 500:
                assert "error" in response.json(), response.text
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError:
            outcome = "no connection"
        self.answers.append(Answer(started, time.monotonic(), path, outcome))

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=PROBE_TIMEOUT_SECONDS) as client:
            while True:
                await asyncio.gather(self._ask(client, "/me"), self._ask(client, "/readyz"))
                await asyncio.sleep(0.25)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def between(self, start: float, end: float, path: str) -> list[int | str]:
        """What ``path`` answered to requests asked and answered between ``start`` and ``end``."""
        return [a.outcome for a in self.answers if a.path == path and start <= a.at and a.answered <= end]


class FaultStack:
    """Everything the fault tests run; every process and server here belongs to one test."""

    def __init__(self, root: Path, sandbox: Sandbox, smtp: SmtpSink, aws_latency_ms: float) -> None:
        self.root = root
        self.aws_latency_ms = aws_latency_ms
        self.sandbox = sandbox
        self.smtp = smtp
        self.pg = PrivatePostgres()
        self.redis = PrivateRedis()
        self.api: ServerProcess | None = None
        self.api_port = free_port()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.headers: dict[str, str] = {}
        self.api_logs: list[str] = []
        # What the last check saw, and when each step happened: a failing test's report.
        self.state = ""
        self.started = time.monotonic()
        self.timeline: list[str] = []

    def mark(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    # processes ------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The configuration of every process of the stack (passed to them as VIGILARE_* variables)."""
        return Settings.from_env(
            {},
            database_url=self.pg.url("vigilare"),
            redis_url=self.redis.url,
            queue_name="vigilare-faults",
            secret_key="fault-test-secret-" + "k" * 32,
            data_dir=str(self.root / "data"),
            public_url="https://vigilare.test",
            aws_endpoint_url=self.sandbox.endpoint_url,
            sentinel_account_id=SENTINEL_ACCOUNT_ID,
            scan_regions="us-east-1",
            scan_lease_seconds=LEASE_SECONDS,
            scheduler_tick_seconds=TICK_SECONDS,
            scan_timeout_seconds=SCAN_TIMEOUT_SECONDS,
            smtp_host="127.0.0.1",
            smtp_port=self.smtp.port,
            smtp_starttls=False,
            alert_retry_base_seconds=1.0,
            # The limiter stays on (it is what failed while Redis was down), far above the probe's pace.
            rate_limit_per_minute=100_000,
        )

    @property
    def env(self) -> dict[str, str]:
        return settings_env(self.settings)

    async def start(self) -> None:
        self.pg.start()
        admin = await asyncpg.connect(self.pg.admin_url)
        try:
            await admin.execute('CREATE DATABASE "vigilare"')
        finally:
            await admin.close()
        migrated = await asyncio.to_thread(run_cli, ["migrate"], self.env)
        assert migrated.returncode == 0, migrated.stderr
        self.redis.start()
        await self.start_api()
        for _ in range(2):
            self.start_worker()
        self.mark("PostgreSQL, Redis, the API and two workers started")

    async def start_api(self) -> None:
        self.api = await asyncio.to_thread(start_server, self.env, port=self.api_port)

    def kill_api(self) -> None:
        assert self.api is not None
        self.api.process.send_signal(signal.SIGKILL)
        self.api.process.wait(timeout=10)
        self.api_logs.append(self.api.text())

    def start_worker(self) -> None:
        self.workers.append(start_worker(self.settings, self.root / f"worker-{len(self.workers)}.log"))

    def kill_worker(self, index: int = 0) -> None:
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(timeout=10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def client(self, timeout: float = PROBE_TIMEOUT_SECONDS) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    def logs(self) -> str:
        """The tail of every process's output, for a failing test's report."""
        parts = ["== timeline", *self.timeline, f"== last state: {self.state}"]
        if self.api is not None:
            parts.append("== vigilare serve\n" + (("".join(self.api_logs)) + self.api.text())[-6000:])
        for index in range(len(self.workers)):
            log = self.root / f"worker-{index}.log"
            if log.exists():
                parts.append(f"== vigilare worker {index}\n" + log.read_text(errors="replace")[-6000:])
        parts.append("== postgres\n" + self.pg.log_text()[-2000:])
        return "\n".join(parts)

    async def close(self) -> None:
        if self.api is not None:
            await asyncio.to_thread(stop, self.api.process)
        for worker in self.workers:
            await asyncio.to_thread(stop, worker)
        self.redis.close()
        self.pg.close()

    # the tenant and its accounts ---------------------------------------------------------------

    async def onboard(self) -> None:
        """A tenant on the Agency plan with an email alert rule, and the 20 accounts connected and
        verified at once: their first scans start together."""
        async with self.client(timeout=60) as client:
            self.headers = await owner_headers(client)
            await self.sql("UPDATE tenants SET plan = 'agency'")
            rule = await client.post(
                "/alert-rules",
                headers=self.headers,
                json={"name": "Everything", "channels": [{"type": "email", "to": [ALERT_EMAIL]}]},
            )
            assert rule.status_code == 201, rule.text
            created = await asyncio.gather(
                *(
                    client.post("/accounts", headers=self.headers, json={"aws_account_id": a})
                    for a in ACCOUNTS
                )
            )
            for account, response in zip(ACCOUNTS, created, strict=True):
                assert response.status_code == 201, response.text
                body = response.json()
                await asyncio.to_thread(
                    customer_role, self.sandbox, account, body["role_name"], body["external_id"]
                )
            self.mark("accounts created, their roles in AWS")
            self.sandbox.latency_ms = self.aws_latency_ms
            verifying = asyncio.Semaphore(4)

            async def verify(account: str) -> None:
                async with verifying:
                    response = await client.post(f"/accounts/{account}/verify", headers=self.headers)
                assert response.status_code == 200, response.text

            await asyncio.gather(*(verify(account) for account in ACCOUNTS))

    # the database, read directly -------------------------------------------------------------

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.pg.url("vigilare").replace("+asyncpg", ""), timeout=5)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    async def scans(self) -> list[asyncpg.Record]:
        return await self.sql(
            "SELECT id, account_id, trigger, status, attempts, error, queued_at, started_at, finished_at "
            "FROM scans"
        )

    async def count(self, query: str, *args: Any) -> int:
        rows = await self.sql(query, *args)
        return int(rows[0][0])


def seed_accounts(sandbox: Sandbox) -> None:
    """Each of the 20 accounts with an access key AWS quarantined (a critical signal, so an alert).

    Seeding costs moto a second or two per account: done once per test session and sandbox, again
    only if another test has reset the sandbox since.
    """
    sandbox.latency_ms = 0
    try:
        client_for(sandbox, ACCOUNTS[-1], "iam").get_user(UserName=EXPOSED_USER)
        return
    except ClientError:
        pass
    for account in ACCOUNTS:
        create_quarantined_user(sandbox, account, EXPOSED_USER)


def customer_role(sandbox: Sandbox, account: str, role_name: str, external_id: str) -> None:
    """The account's audit role as onboarding asks for it, trusting this test's external id."""
    try:
        register_customer_role(sandbox, account, role_name, external_id, SENTINEL_ACCOUNT_ID)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = f"arn:aws:iam::{account}:role/{role_name}"
        sandbox.register_guarded_role(arn, external_id, SENTINEL_ACCOUNT_ID)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float, what: str, stack: FaultStack
) -> float:
    """Poll ``condition`` (errors count as not yet) until it holds; return the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if await condition():
                stack.mark(what)
                return time.monotonic() - started
        except (OSError, asyncpg.PostgresError, httpx.HTTPError):
            pass
        if time.monotonic() - started > timeout:
            stack.mark(f"{what}: not within {timeout:.0f}s")
            raise AssertionError(f"{what}: not within {timeout:.0f}s\n{stack.logs()}")
        await asyncio.sleep(0.25)


def alert_ids_in_emails(smtp: SmtpSink) -> list[str]:
    """The alert id of every alert email received (one per notification sent)."""
    found = []
    for _recipients, message in smtp.messages:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        match = re.search(r"Alert id: (\w+)", text)
        assert match, text
        found.append(match.group(1))
    return found
