"""Plan enforcement: account limit, scheduled and manual scans by billing status, scan rate, CSV export."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from tests.support.api import owner_headers
from tests.support.billing import (
    PRICES,
    STRIPE_API_BASE,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    deliver_and_wait,
    stripe_event,
    subscription,
    tenant_id_of,
)
from tests.support.db import update_tenant
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.api.app import create_app
from vigilare.auth.models import Tenant
from vigilare.billing.enforcement import require_csv_export, scanning_allowed, scanning_blocked_reason
from vigilare.billing.plans import PLANS
from vigilare.errors import Forbidden
from vigilare.ids import new_id, utcnow
from vigilare.scans.models import Scan
from vigilare.scans.scheduler import interval_for, tick

NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00")

# (status, trial end, past due since) -> may scan, and the reason given when it may not
BILLING_STATES = [
    pytest.param("active", None, None, None, id="active"),
    pytest.param("trialing", NOW + timedelta(days=3), None, None, id="trial-running"),
    pytest.param("trialing", NOW - timedelta(minutes=1), None, "the free trial has ended", id="trial-ended"),
    pytest.param("canceled", None, None, "the subscription is canceled", id="canceled"),
    pytest.param("past_due", None, NOW - timedelta(days=6, hours=23), None, id="past-due-in-grace"),
    pytest.param(
        "past_due", None, NOW - timedelta(days=7, minutes=1), "payment is past due", id="past-due-over"
    ),
]


def tenant(plan: str = "solo", **fields: Any) -> Tenant:
    return Tenant(id=new_id(), name="Acme", plan=plan, **fields)


@pytest.mark.parametrize(("status", "trial_ends_at", "past_due_since", "reason"), BILLING_STATES)
def test_billing_status_decides_whether_scans_run(status, trial_ends_at, past_due_since, reason):
    subject = tenant(status=status, trial_ends_at=trial_ends_at, past_due_since=past_due_since)
    assert scanning_allowed(subject, NOW) is (reason is None)
    blocked = scanning_blocked_reason(subject, NOW)
    assert (blocked is None) if reason is None else (blocked or "").startswith(reason)


@pytest.mark.parametrize("plan_id", sorted(PLANS))
def test_csv_export_only_on_team_agency_and_enterprise(plan_id):
    if plan_id == "solo":
        with pytest.raises(Forbidden) as refused:
            require_csv_export(tenant(plan_id))
        assert refused.value.status_code == 403
        assert refused.value.message == (
            "CSV export is not included in the Solo plan: upgrade to one of Team, Agency, Enterprise"
        )
    else:
        require_csv_export(tenant(plan_id))  # allowed: no error


@pytest.mark.parametrize(
    ("plan_id", "minutes"), [("solo", 15), ("team", 5), ("agency", 5), ("enterprise", 5)]
)
def test_scheduled_scan_interval_follows_the_plan(plan_id, minutes):
    assert interval_for(tenant(plan_id)) == timedelta(minutes=minutes)


# --- against the database and the API ---------------------------------------------------------


async def connect(client: Any, headers: dict[str, str], aws_account_id: str) -> Any:
    return await client.post("/accounts", headers=headers, json={"aws_account_id": aws_account_id})


async def activate(db, aws_account_id: str, next_scan_at: datetime | None = None) -> AwsAccount:
    """Mark a connected account verified (as POST /accounts/{id}/verify would) without touching AWS."""
    async with db() as session:
        await session.execute(
            update(AwsAccount)
            .where(AwsAccount.aws_account_id == aws_account_id)
            .values(status=ACTIVE, verified_at=utcnow(), next_scan_at=next_scan_at)
        )
        await session.commit()
        account = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == aws_account_id))
        assert account is not None
        return account


@pytest.mark.parametrize(("status", "trial_ends_at", "past_due_since", "reason"), BILLING_STATES)
async def test_the_scheduler_skips_tenants_that_may_not_scan(
    client, db, settings, status, trial_ends_at, past_due_since, reason
):
    headers = await owner_headers(client)
    tenant_id = await tenant_id_of(client, headers)
    assert (await connect(client, headers, "111122223333")).status_code == 201
    account = await activate(db, "111122223333", next_scan_at=NOW - timedelta(minutes=1))
    await update_tenant(
        settings, tenant_id, status=status, trial_ends_at=trial_ends_at, past_due_since=past_due_since
    )

    async with db() as session:
        result = await tick(session, NOW)
        await session.commit()
        scans = list(await session.scalars(select(Scan).where(Scan.account_id == account.id)))

    expected = 0 if reason else 1
    assert result.scheduled == expected
    assert len(scans) == expected
    if scans:
        assert scans[0].trigger == "scheduled"


@pytest.mark.parametrize(("status", "trial_ends_at", "past_due_since", "reason"), BILLING_STATES)
async def test_manual_scans_stop_when_scanning_is_not_allowed(
    aws_client, db, aws_settings, status, trial_ends_at, past_due_since, reason
):
    headers = await owner_headers(aws_client)
    tenant_id = await tenant_id_of(aws_client, headers)
    assert (await connect(aws_client, headers, "111122223333")).status_code == 201
    await activate(db, "111122223333")
    # The states are relative to the real clock here: the API checks against now.
    shift = utcnow() - NOW
    await update_tenant(
        aws_settings,
        tenant_id,
        status=status,
        trial_ends_at=trial_ends_at + shift if trial_ends_at else None,
        past_due_since=past_due_since + shift if past_due_since else None,
    )

    response = await aws_client.post("/accounts/111122223333/scan", headers=headers)

    if reason is None:
        assert response.status_code == 202, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"].startswith(reason)
        # Read access stays: the account, its signals and the profile still answer.
        assert (await aws_client.get("/accounts", headers=headers)).status_code == 200
        assert (await aws_client.get("/accounts/111122223333/signals", headers=headers)).status_code == 200
        assert (await aws_client.get("/me", headers=headers)).json()["tenant"]["status"] == status


async def _add_manual_scans(db, account: AwsAccount, count: int) -> None:
    async with db() as session:
        for _ in range(count):
            session.add(
                Scan(
                    id=new_id(),
                    tenant_id=account.tenant_id,
                    account_id=account.id,
                    trigger="manual",
                    status="succeeded",
                    queued_at=utcnow() - timedelta(minutes=10),
                    outcomes={},
                    collection_errors=[],
                    evidence={},
                )
            )
        await session.commit()


@pytest.mark.parametrize(("plan_id", "allowed"), [("solo", False), ("team", True)])
async def test_manual_scan_rate_follows_the_plan(aws_client, db, aws_settings, plan_id, allowed):
    headers = await owner_headers(aws_client)
    tenant_id = await tenant_id_of(aws_client, headers)
    await update_tenant(aws_settings, tenant_id, plan=plan_id, status="active")
    assert (await connect(aws_client, headers, "111122223333")).status_code == 201
    account = await activate(db, "111122223333")
    await _add_manual_scans(db, account, PLANS["solo"].manual_scans_per_hour)

    response = await aws_client.post("/accounts/111122223333/scan", headers=headers)

    if allowed:
        assert response.status_code == 202, response.text
    else:
        assert response.status_code == 429
        assert response.json()["error"] == (
            "manual scan limit reached: the Solo plan allows 4 manual scans per account per hour"
        )
        assert 0 < int(response.headers["Retry-After"]) <= 3600


async def test_a_downgrade_keeps_existing_accounts_and_blocks_new_ones(billing_client, settings):
    headers = await owner_headers(billing_client)
    tenant_id = await tenant_id_of(billing_client, headers)
    await update_tenant(settings, tenant_id, stripe_customer_id="cus_downgrade")
    t = int(utcnow().timestamp()) - 100
    team = subscription("cus_downgrade", "active", PRICES["team"])
    await deliver_and_wait(billing_client, settings, stripe_event("customer.subscription.updated", team, t))
    ids = ["111100000001", "111100000002", "111100000003"]
    for aws_account_id in ids:
        assert (await connect(billing_client, headers, aws_account_id)).status_code == 201

    solo = subscription("cus_downgrade", "active", PRICES["solo"])
    await deliver_and_wait(
        billing_client, settings, stripe_event("customer.subscription.updated", solo, t + 10)
    )
    assert (await billing_client.get("/me", headers=headers)).json()["tenant"]["plan"] == "solo"

    listed = await billing_client.get("/accounts", headers=headers)
    assert listed.status_code == 200
    assert sorted(a["aws_account_id"] for a in listed.json()["accounts"]) == ids
    over = await connect(billing_client, headers, "111100000004")
    assert over.status_code == 403
    assert over.json()["error"] == (
        "plan limit exceeded: the Solo plan allows 1 connected account; "
        "upgrade or disconnect an account first"
    )
    # Still over the limit after disconnecting one of three; back under it once all are gone.
    assert (await billing_client.delete(f"/accounts/{ids[0]}", headers=headers)).status_code == 200
    assert (await connect(billing_client, headers, "111100000004")).status_code == 403
    for aws_account_id in ids[1:]:
        assert (
            await billing_client.delete(f"/accounts/{aws_account_id}", headers=headers)
        ).status_code == 200
    assert (await connect(billing_client, headers, "111100000004")).status_code == 201


async def test_a_canceled_subscription_stops_manual_scans(aws_settings, db):
    """End to end: Stripe says the subscription ended; the next manual scan is refused."""
    settings = msgspec.structs.replace(
        aws_settings,
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_price_team=PRICES["team"],
        stripe_api_base=STRIPE_API_BASE,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        headers = await owner_headers(client)
        tenant_id = await tenant_id_of(client, headers)
        await update_tenant(settings, tenant_id, stripe_customer_id="cus_cancel")
        assert (await connect(client, headers, "111122223333")).status_code == 201
        await activate(db, "111122223333")
        ended = subscription("cus_cancel", "canceled", PRICES["team"])
        await deliver_and_wait(
            client, settings, stripe_event("customer.subscription.deleted", ended, int(utcnow().timestamp()))
        )
        response = await client.post("/accounts/111122223333/scan", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == (
        "the subscription is canceled: scans are paused until a plan is active again"
    )
