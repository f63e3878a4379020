"""A real `vigilare serve` on PostgreSQL for the ingest tests, and accounts with push set up.

The server is started once per test module (jobs in its own process, AWS in the sandbox); each test
signs up its own tenant and connects its own AWS account, so tests never share state. The module's
rows are removed when it ends.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures.app import _truncate
from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID, TEST_REGIONS
from tests.support.db import app_role_url, db_session
from tests.support.process import ServerProcess, serve
from tests.support.waiting import eventually
from vigilare.accounts.models import AwsAccount
from vigilare.ingest.models import IngestEvent
from vigilare_sandbox import Sandbox
from vigilare_sandbox.eventbridge import ApiDestination
from vigilare_sandbox.seed_events import set_support_plan
from vigilare_sandbox.state import SupportPlan

SECRET_KEY = "ingest-test-secret-key-" + "x" * 32
INGEST_RATE_LIMIT = 20
_accounts = itertools.count(1)


def server_env(pg_url: str, sandbox: Sandbox, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "VIGILARE_DATABASE_URL": pg_url,
        "VIGILARE_DATABASE_APP_URL": app_role_url(pg_url),
        "VIGILARE_DATA_DIR": str(data_dir),
        "VIGILARE_SECRET_KEY": SECRET_KEY,
        "VIGILARE_AWS_ENDPOINT_URL": sandbox.endpoint_url,
        "VIGILARE_SENTINEL_ACCOUNT_ID": SENTINEL_ACCOUNT_ID,
        "VIGILARE_SCAN_REGIONS": ",".join(TEST_REGIONS),
        "VIGILARE_RATE_LIMIT_PER_MINUTE": "0",
        "VIGILARE_INGEST_RATE_LIMIT_PER_MINUTE": str(INGEST_RATE_LIMIT),
        **extra,
    }


@pytest.fixture(scope="module")
def ingest_server(
    pg_url: str, sandbox_session: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`vigilare serve` with jobs in process (no Redis): the embedded default's executor."""
    env = server_env(pg_url, sandbox_session, tmp_path_factory.mktemp("ingest-serve"))
    with serve(env) as server:
        yield server
    asyncio.run(_truncate(pg_url))


@pytest.fixture
async def http(ingest_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ingest_server.base_url, timeout=30) as client:
        yield client


def next_account_id() -> str:
    """A fresh 12-digit account id per test (the server outlives single tests)."""
    return f"{310000000000 + next(_accounts) * 1000 + uuid.uuid4().int % 1000}"


@dataclass
class PushedAccount:
    """A connected, verified and scanned account with push set up, and its tenant's owner."""

    aws_account_id: str
    headers: dict[str, str]
    setup: dict[str, Any]
    destination: ApiDestination

    async def details(self, http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.get(f"/accounts/{self.aws_account_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def signals(self, http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
        return await all_signals(http, self.headers, self.aws_account_id, **params)

    async def deliver(self, http: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
        """POST the event exactly as the EventBridge API destination does."""
        return await self.destination.deliver_async(http, event)


async def push_account(
    http: httpx.AsyncClient, sandbox: Sandbox, *, plan: SupportPlan = SupportPlan.BUSINESS
) -> PushedAccount:
    aws_account_id = next_account_id()
    set_support_plan(sandbox, aws_account_id, plan)
    headers = await owner_headers(http, f"owner-{aws_account_id}@acme.test")
    verified = await connect_and_verify(http, headers, sandbox, aws_account_id)
    scan = await wait_for_scan(
        http, headers, aws_account_id, verified["first_scan_execution_arn"], timeout=120
    )
    assert scan["status"] in ("succeeded", "partial"), scan
    response = await http.post(f"/accounts/{aws_account_id}/push-setup", headers=headers)
    assert response.status_code == 200, response.text
    setup = dict(response.json())
    destination = ApiDestination(
        endpoint=str(http.base_url).rstrip("/") + "/ingest/aws-events",
        header_name=setup["header_name"],
        secret=setup["secret"],
    )
    return PushedAccount(aws_account_id, headers, setup, destination)


async def processed_event(
    database_url: str, aws_account_id: str, event_id: str, timeout: float = 30
) -> IngestEvent:
    """The stored event once its job has processed it."""

    async def processed() -> IngestEvent | None:
        rows = [row for row in await stored_events(database_url, aws_account_id) if row.event_id == event_id]
        return rows[0] if rows and rows[0].processed_at is not None else None

    return await eventually(processed, timeout=timeout)


async def open_signal(account: PushedAccount, http: httpx.AsyncClient, kind: str) -> dict[str, Any]:
    """The account's one open signal of ``kind``, once a processed event has opened it."""

    async def found() -> dict[str, Any] | None:
        signals = [s for s in await account.signals(http) if s["kind"] == kind and s["resolved_at"] is None]
        assert len(signals) <= 1, signals
        return signals[0] if signals else None

    return await eventually(found, timeout=30)


async def stored_events(database_url: str, aws_account_id: str) -> list[IngestEvent]:
    async with db_session(database_url) as session:
        return list(
            await session.scalars(
                select(IngestEvent)
                .join(AwsAccount, AwsAccount.id == IngestEvent.account_id)
                .where(AwsAccount.aws_account_id == aws_account_id)
                .order_by(IngestEvent.received_at)
            )
        )
