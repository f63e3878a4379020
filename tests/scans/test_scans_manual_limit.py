"""The manual scan limit per account and hour holds under concurrent requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import func, select

from tests.fixtures.app import make_settings
from tests.support.api import DEFAULT_PASSWORD, app_client, running_app
from tests.support.db import db_session
from tests.support.services import REDIS_URL
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.billing.plans import PLANS
from vigilare.config import Settings
from vigilare.ids import new_id, utcnow
from vigilare.scans.models import Scan

AWS_ACCOUNT_ID = "123412341234"


async def _scan_concurrently(settings: Settings, requests: int) -> tuple[list[int], int]:
    """Sign up, add an active account, send ``requests`` manual scans at once; return the answers
    and how many manual scans were stored."""
    async with running_app(settings) as app, app_client(app) as http:
        created = await http.post(
            "/auth/signup", json={"email": "racer@scans.test", "password": DEFAULT_PASSWORD, "name": "R"}
        )
        tenant_id = created.json()["tenant_id"]
        async with db_session(settings.database_url) as session:
            session.add(
                AwsAccount(
                    id=new_id(),
                    tenant_id=tenant_id,
                    aws_account_id=AWS_ACCOUNT_ID,
                    external_id="ext-" + new_id(),
                    role_name="VigilareAudit",
                    status=ACTIVE,
                    connected_at=utcnow(),
                )
            )
        tokens = await http.post(
            "/auth/login", json={"email": "racer@scans.test", "password": DEFAULT_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {tokens.json()['id_token']}"}
        answers = await asyncio.gather(
            *(http.post(f"/accounts/{AWS_ACCOUNT_ID}/scan", headers=headers) for _ in range(requests))
        )
    async with db_session(settings.database_url) as session:
        stored = await session.scalar(select(func.count()).select_from(Scan).where(Scan.trigger == "manual"))
    return [answer.status_code for answer in answers], int(stored or 0)


async def test_concurrent_manual_scans_cannot_exceed_the_hourly_limit_on_postgresql(settings, redis_flush):
    # Jobs go to the queue on Redis and stay there: only the API's decisions are under test.
    queued_only = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    allowed = PLANS["solo"].manual_scans_per_hour
    statuses, stored = await _scan_concurrently(queued_only, allowed * 3)
    assert statuses.count(202) == allowed == stored, statuses
    assert statuses.count(429) == allowed * 2, statuses


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """The embedded default: a SQLite file, migrated by the API at start-up."""
    settings = make_settings(tmp_path)
    Path(settings.data_dir).mkdir(parents=True)
    return settings


async def test_concurrent_manual_scans_cannot_exceed_the_hourly_limit_on_sqlite(sqlite_settings, redis_flush):
    queued_only = msgspec.structs.replace(sqlite_settings, redis_url=REDIS_URL)
    allowed = PLANS["solo"].manual_scans_per_hour
    statuses, stored = await _scan_concurrently(queued_only, allowed * 3)
    assert statuses.count(202) == allowed == stored, statuses
    assert statuses.count(429) == allowed * 2, statuses
