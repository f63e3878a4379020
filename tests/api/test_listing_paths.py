"""The hot listings answer the same through either path.

``GET /accounts``, ``GET /accounts/{id}/signals`` and ``GET /alerts`` read through a ``TenantRead``
(hand-written SQL on the driver's connection, ``vigilare.db.reads``) on PostgreSQL, and through the
ORM session elsewhere (SQLite). Both are asked here, on the same rows, with every filter and a page
boundary: the answers, ``next_token`` included, must be identical. On SQLite the listings answer too.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.fixtures.app import make_settings
from tests.support.api import bearer, login, signup
from tests.support.db import db_session, update_tenant
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.api import middleware
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare.crypto import SecretBox
from vigilare.ids import new_id, utcnow
from vigilare.signals.models import Signal

BUSY, QUIET = "111111111111", "222222222222"


async def _seed(client: Any, settings: Settings) -> dict[str, str]:
    """A tenant with two tagged accounts, seven signals of every shape and five alerts with deliveries."""
    tenant_id = (await signup(client, "paths@acme.test"))["tenant_id"]
    headers = bearer(await login(client, "paths@acme.test"))
    await update_tenant(settings, tenant_id, plan="agency")  # room for two accounts
    for aws_account_id, tags in ((BUSY, ["prod", "eu"]), (QUIET, [])):
        created = await client.post(
            "/accounts", headers=headers, json={"aws_account_id": aws_account_id, "tags": tags}
        )
        assert created.status_code == 201, created.text
    now = utcnow().replace(microsecond=123456)
    whole = now.replace(microsecond=0)  # written without a fraction of a second
    box = SecretBox(settings.secret_key)
    async with db_session(settings.database_url) as session:
        from sqlalchemy import select

        from vigilare.accounts.models import AwsAccount

        busy = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == BUSY))
        assert busy is not None
        busy.current_srs, busy.last_scan_at = 42, whole
        for index in range(7):
            # Pairs share a time (the id breaks the tie); the last three in whole seconds.
            detected = (now if index < 4 else whole) - timedelta(minutes=index // 2)
            session.add(
                Signal(
                    id=new_id(),
                    tenant_id=tenant_id,
                    account_id=busy.id,
                    fingerprint=f"fp-{index}",
                    scenario=("iam", "billing")[index % 2],
                    kind="finding",
                    severity=("CRITICAL", "HIGH", "LOW")[index % 3],
                    title=f"Finding {index}",
                    description="" if index == 3 else f"About {index}",
                    region="us-east-1" if index % 2 else "",
                    resource="",
                    remediation="Fix it" if index == 1 else "",
                    details={"index": index},
                    detected_at=detected,
                    last_seen_at=detected + timedelta(seconds=index),
                    resolved_at=detected + timedelta(hours=1) if index % 3 == 0 else None,
                    detected_by="event" if index == 2 else "scan",
                )
            )
        rule = AlertRule(
            id=new_id(),
            tenant_id=tenant_id,
            name="On-call",
            channels=[{"type": "email", "to": ["a@acme.test"]}],
        )
        session.add(rule)
        await session.flush()
        for index in range(5):
            alert = Alert(
                id=new_id(),
                tenant_id=tenant_id,
                rule_id=rule.id if index != 4 else None,
                rule_name="On-call",
                account_id=busy.id,
                aws_account_id=BUSY if index % 2 else QUIET,
                srs_at_trigger=None if index == 2 else 30 + index,
                scenarios_triggered=["iam", "billing"][: index % 3],
                signal_ids=[new_id()] if index else [],
                signals=[],
                fired_at=(now if index < 4 else whole) - timedelta(minutes=index // 2),
                acknowledged_at=now if index % 2 else None,
                acknowledged_by="someone" if index % 2 else None,
            )
            session.add(alert)
            await session.flush()
            for channel, status in (
                ({"type": "email", "to": ["oncall@acme.test"]}, "delivered"),
                ({"type": "pagerduty", "routing_key_encrypted": box.encrypt("R" * 32)}, "failed"),
            )[: index % 3]:
                session.add(
                    AlertDelivery(
                        id=new_id(),
                        tenant_id=tenant_id,
                        alert_id=alert.id,
                        event="trigger",
                        channel=channel,
                        channel_type=channel["type"],
                        status=status,
                        attempts=index,
                        last_error="HTTP 400" if status == "failed" else None,
                        last_status_code=400 if status == "failed" else None,
                        created_at=now,
                        last_attempt_at=now,
                        delivered_at=whole if status == "delivered" else None,
                    )
                )
    return headers


QUERIES = [
    "/accounts",
    "/accounts?tag=prod",
    "/accounts?tag=none",
    f"/accounts/{BUSY}/signals",
    f"/accounts/{BUSY}/signals?limit=3",
    f"/accounts/{BUSY}/signals?severity=HIGH",
    f"/accounts/{BUSY}/signals?scenario=iam&limit=2",
    f"/accounts/{QUIET}/signals",
    "/accounts/333333333333/signals",
    "/accounts/not-an-id/signals",
    f"/accounts/{BUSY}/signals?next_token=forged",
    f"/accounts/{BUSY}/signals?since=yesterday",
    "/alerts",
    "/alerts?limit=2",
    "/alerts?acknowledged=true",
    "/alerts?acknowledged=false&limit=1",
    f"/alerts?account_id={BUSY}&limit=1",
    "/alerts?next_token=forged",
]


async def _walk(client: Any, headers: dict[str, str], query: str) -> list[tuple[int, Any]]:
    """The query's answer, then every page its next_token leads to."""
    answers = []
    while True:
        response = await client.get(query, headers=headers)
        answers.append((response.status_code, response.json()))
        token = response.json().get("next_token") if response.status_code == 200 else None
        if not token:
            return answers
        query = f"{query}{'&' if '?' in query else '?'}next_token={token}"


async def test_the_tenant_read_and_the_orm_session_answer_the_same(client, settings, monkeypatch):
    headers = await _seed(client, settings)
    fast = {query: await _walk(client, headers, query) for query in QUERIES}
    monkeypatch.setattr(middleware, "supports_tenant_reads", lambda engine: False)  # the ORM path
    orm = {query: await _walk(client, headers, query) for query in QUERIES}
    for query in QUERIES:
        assert fast[query] == orm[query], query
    # The walk covered real pages and every kind of answer.
    assert len(fast[f"/accounts/{BUSY}/signals?limit=3"]) == 3
    assert len(fast["/alerts?limit=2"]) == 3
    assert {status for answers in fast.values() for status, _ in answers} == {200, 400, 404}
    # Timestamps with and without a fraction of a second (the tenant read has PostgreSQL write them).
    written = re.findall(r'"(\d{4}-\d\d-\d\dT[0-9:.]+\+00:00)"', json.dumps(fast))
    assert {len(stamp) for stamp in written} == {
        len("2026-01-01T00:00:00+00:00"),
        len("2026-01-01T00:00:00.123456+00:00"),
    }
    since = (await client.get(f"/accounts/{BUSY}/signals", headers=headers)).json()["signals"][3][
        "detected_at"
    ]
    monkeypatch.undo()
    later = await client.get(f"/accounts/{BUSY}/signals", headers=headers, params={"since": since})
    # Signals are detected in pairs a minute apart: the 4th is the second pair's, so the first pair.
    assert [s["detected_at"] > since for s in later.json()["signals"]] == [True] * 2


@pytest.fixture
async def sqlite_client(tmp_path: Path) -> Any:
    settings = make_settings(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'vigilare.db'}")
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def test_the_listings_answer_on_sqlite_through_the_orm(sqlite_client):
    await signup(sqlite_client, "lite@acme.test")
    headers = bearer(await login(sqlite_client, "lite@acme.test"))
    created = await sqlite_client.post(
        "/accounts", headers=headers, json={"aws_account_id": BUSY, "tags": ["a"]}
    )
    assert created.status_code == 201, created.text
    accounts = await sqlite_client.get("/accounts?tag=a", headers=headers)
    assert [a["aws_account_id"] for a in accounts.json()["accounts"]] == [BUSY]
    signals = await sqlite_client.get(f"/accounts/{BUSY}/signals", headers=headers)
    assert signals.json() == {"signals": [], "count": 0, "next_token": None}
    assert (await sqlite_client.get(f"/accounts/{QUIET}/signals", headers=headers)).status_code == 404
    alerts = await sqlite_client.get("/alerts", headers=headers)
    assert alerts.json() == {"alerts": [], "count": 0, "next_token": None}
    await sqlite_client.post("/auth/logout", headers=headers)
    assert (await sqlite_client.get("/accounts", headers=headers)).status_code == 401
