"""POST /webhooks/stripe: signatures, storing events once, and what each event does to the tenant."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.support.api import owner_headers
from tests.support.billing import (
    PRICES,
    checkout_session,
    deliver,
    deliver_and_wait,
    invoice,
    sign,
    stored_events,
    stripe_event,
    subscription,
    tenant_id_of,
)
from tests.support.db import get_tenant, update_tenant
from vigilare.api.app import create_app

CUSTOMER = "cus_acme"


@pytest.fixture
async def customer(billing_client, settings):
    """An owner whose tenant has a Stripe customer (as after POST /billing/checkout)."""
    headers = await owner_headers(billing_client)
    tenant_id = await tenant_id_of(billing_client, headers)
    await update_tenant(settings, tenant_id, stripe_customer_id=CUSTOMER)
    return headers, tenant_id


def now() -> int:
    return int(time.time())


async def me_tenant(client, headers) -> dict:
    response = await client.get("/me", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["tenant"])


# --- signature ---------------------------------------------------------------------------------


async def test_a_bad_signature_is_refused_and_nothing_is_stored(billing_client, settings, customer):
    event = stripe_event("invoice.paid", invoice(CUSTOMER), now())
    response = await deliver(billing_client, event, secret="whsec_someone_else")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid Stripe-Signature: it does not match the payload"
    assert await stored_events(settings) == []


async def test_a_body_changed_after_signing_is_refused(billing_client, settings, customer):
    body = json.dumps(stripe_event("invoice.paid", invoice(CUSTOMER), now()))
    tampered = body.replace('"amount_paid": 9900', '"amount_paid": 1')
    response = await billing_client.post(
        "/webhooks/stripe", content=tampered.encode(), headers={"Stripe-Signature": sign(body)}
    )
    assert response.status_code == 400
    assert await stored_events(settings) == []


async def test_a_stale_signature_is_refused(billing_client, settings, customer):
    event = stripe_event("invoice.paid", invoice(CUSTOMER), now())
    response = await deliver(billing_client, event, timestamp=now() - 301)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid Stripe-Signature: the signature timestamp is too old"
    assert await stored_events(settings) == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "the header is missing"),
        ({"Stripe-Signature": "garbage"}, "it does not match the payload"),
        ({"Stripe-Signature": f"t={int(time.time())}"}, "it does not match the payload"),
        # Non-ASCII in the header (as Latin-1 bytes): a wrong signature, not a 500.
        (
            {"Stripe-Signature": f"t={int(time.time())},v1={'é' * 64}".encode("latin-1")},
            "it does not match the payload",
        ),
    ],
)
async def test_a_missing_or_malformed_signature_is_refused(billing_client, settings, headers, reason):
    body = json.dumps(stripe_event("invoice.paid", invoice(CUSTOMER), now())).encode()
    response = await billing_client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == f"invalid Stripe-Signature: {reason}"
    assert await stored_events(settings) == []


async def test_a_signed_body_that_is_not_an_event_is_refused(billing_client, settings):
    body = json.dumps({"hello": "world"})
    response = await billing_client.post(
        "/webhooks/stripe", content=body.encode(), headers={"Stripe-Signature": sign(body)}
    )
    assert response.status_code == 400
    assert "not a Stripe event" in response.json()["error"]
    assert await stored_events(settings) == []


async def test_webhooks_without_a_secret_configured_are_refused(client, settings):
    body = json.dumps(stripe_event("invoice.paid", invoice(CUSTOMER), now()))
    response = await client.post(
        "/webhooks/stripe", content=body.encode(), headers={"Stripe-Signature": sign(body)}
    )
    assert response.status_code == 503
    assert response.json()["error"].startswith("billing is not configured")


# --- storing and processing --------------------------------------------------------------------


async def test_checkout_completion_sets_plan_and_status_visible_in_me(billing_client, settings, customer):
    headers, tenant_id = customer
    assert (await me_tenant(billing_client, headers))["status"] == "trialing"

    event = stripe_event("checkout.session.completed", checkout_session(CUSTOMER, "team"), now())
    response = await deliver(billing_client, event)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    stored = await deliver_and_wait(billing_client, settings, event)  # a replay, acknowledged

    assert stored.outcome == "applied"
    assert stored.tenant_id == tenant_id
    assert stored.type == "checkout.session.completed"
    assert stored.payload["id"] == event["id"]
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("team", "active")
    assert (await get_tenant(settings, tenant_id)).stripe_subscription_id == "sub_1"


async def test_a_replayed_event_is_acknowledged_and_ignored(billing_client, settings, customer):
    headers, _ = customer
    t = now()
    failed = stripe_event("invoice.payment_failed", invoice(CUSTOMER), t - 60)
    await deliver_and_wait(billing_client, settings, failed)
    assert (await me_tenant(billing_client, headers))["status"] == "past_due"
    await deliver_and_wait(billing_client, settings, stripe_event("invoice.paid", invoice(CUSTOMER), t))
    assert (await me_tenant(billing_client, headers))["status"] == "active"

    replay = await deliver(billing_client, failed)

    assert replay.status_code == 200
    assert replay.json() == {"received": True, "duplicate": True}
    assert (await me_tenant(billing_client, headers))["status"] == "active"
    assert len(await stored_events(settings)) == 2


async def test_subscription_events_follow_the_subscription_lifecycle(billing_client, settings, customer):
    headers, tenant_id = customer
    t = now() - 1000
    trial_end = t + 7 * 86400

    await deliver_and_wait(
        billing_client,
        settings,
        stripe_event(
            "customer.subscription.created",
            subscription(CUSTOMER, "trialing", PRICES["team"], trial_end=trial_end),
            t,
        ),
    )
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("team", "trialing")
    assert me["trial_ends_at"] == datetime.fromtimestamp(trial_end, UTC).isoformat()

    # The plan comes from the configured price, not from what the event claims elsewhere.
    upgraded = subscription(CUSTOMER, "active", PRICES["agency"], metadata={"plan_id": "solo"})
    await deliver_and_wait(
        billing_client, settings, stripe_event("customer.subscription.updated", upgraded, t + 10)
    )
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("agency", "active")

    await deliver_and_wait(
        billing_client, settings, stripe_event("invoice.payment_failed", invoice(CUSTOMER), t + 20)
    )
    tenant = await get_tenant(settings, tenant_id)
    assert tenant.status == "past_due"
    assert tenant.past_due_since == datetime.fromtimestamp(t + 20, UTC)

    # A retry that fails again keeps the grace period running from the first failure.
    await deliver_and_wait(
        billing_client, settings, stripe_event("invoice.payment_failed", invoice(CUSTOMER), t + 30)
    )
    assert (await get_tenant(settings, tenant_id)).past_due_since == datetime.fromtimestamp(t + 20, UTC)

    await deliver_and_wait(billing_client, settings, stripe_event("invoice.paid", invoice(CUSTOMER), t + 40))
    tenant = await get_tenant(settings, tenant_id)
    assert (tenant.status, tenant.past_due_since) == ("active", None)

    deleted = subscription(CUSTOMER, "canceled", PRICES["agency"])
    await deliver_and_wait(
        billing_client, settings, stripe_event("customer.subscription.deleted", deleted, t + 50)
    )
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("agency", "canceled")

    # A late paid invoice of the ended subscription does not revive it.
    late = await deliver_and_wait(
        billing_client, settings, stripe_event("invoice.paid", invoice(CUSTOMER), t + 60)
    )
    assert late.outcome == "ignored: the subscription is canceled"
    assert (await me_tenant(billing_client, headers))["status"] == "canceled"


async def test_out_of_order_events_do_not_roll_the_tenant_back(billing_client, settings, customer):
    headers, tenant_id = customer
    t = now() - 500
    newer = stripe_event(
        "customer.subscription.updated", subscription(CUSTOMER, "past_due", PRICES["team"]), t + 100
    )
    older = stripe_event("customer.subscription.updated", subscription(CUSTOMER, "active", PRICES["solo"]), t)

    await deliver_and_wait(billing_client, settings, newer)
    stale = await deliver_and_wait(billing_client, settings, older)

    assert stale.outcome.startswith("ignored: stale")
    assert stale.tenant_id == tenant_id
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("team", "past_due")
    tenant = await get_tenant(settings, tenant_id)
    assert tenant.billing_state_at == datetime.fromtimestamp(t + 100, UTC)


async def test_a_late_checkout_completion_does_not_override_the_subscription_status(
    billing_client, settings, customer
):
    headers, _ = customer
    t = now()
    trialing = subscription(CUSTOMER, "trialing", PRICES["team"], trial_end=t + 86400 * 10)
    await deliver_and_wait(
        billing_client, settings, stripe_event("customer.subscription.created", trialing, t)
    )
    late = await deliver_and_wait(
        billing_client,
        settings,
        stripe_event("checkout.session.completed", checkout_session(CUSTOMER, "team"), t),
    )
    assert late.outcome == "ignored: the subscription's events already set the state"
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("team", "trialing")


async def test_events_of_another_subscription_leave_the_current_one_alone(billing_client, settings, customer):
    headers, _ = customer
    t = now() - 100
    current = subscription(CUSTOMER, "active", PRICES["team"], sub_id="sub_new")
    await deliver_and_wait(
        billing_client, settings, stripe_event("customer.subscription.created", current, t)
    )

    old = subscription(CUSTOMER, "canceled", PRICES["solo"], sub_id="sub_old")
    deleted = await deliver_and_wait(
        billing_client, settings, stripe_event("customer.subscription.deleted", old, t + 10)
    )
    failed = await deliver_and_wait(
        billing_client, settings, stripe_event("invoice.payment_failed", invoice(CUSTOMER, "sub_old"), t + 20)
    )

    assert deleted.outcome == failed.outcome == "ignored: not the tenant's current subscription"
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("team", "active")


async def test_events_for_unknown_customers_are_recorded_and_ignored(billing_client, settings, customer):
    headers, _ = customer
    event = stripe_event(
        "customer.subscription.deleted", subscription("cus_stranger", "canceled", PRICES["team"]), now()
    )
    stored = await deliver_and_wait(billing_client, settings, event)
    assert (stored.tenant_id, stored.outcome) == (None, "ignored: unknown customer")
    assert (await me_tenant(billing_client, headers))["status"] == "trialing"


async def test_unhandled_event_types_are_recorded_and_ignored(billing_client, settings, customer):
    headers, _ = customer
    event = stripe_event(
        "customer.updated", {"id": CUSTOMER, "object": "customer", "customer": CUSTOMER}, now()
    )
    stored = await deliver_and_wait(billing_client, settings, event)
    assert (stored.tenant_id, stored.outcome) == (None, "ignored: event type not used")
    assert stored.payload["data"]["object"]["id"] == CUSTOMER
    assert (await me_tenant(billing_client, headers))["status"] == "trialing"


@pytest.mark.parametrize("status", ["incomplete", "incomplete_expired"])
async def test_an_unpaid_first_subscription_does_not_activate(billing_client, settings, customer, status):
    headers, _ = customer
    event = stripe_event(
        "customer.subscription.created", subscription(CUSTOMER, status, PRICES["team"]), now()
    )
    stored = await deliver_and_wait(billing_client, settings, event)
    assert stored.outcome == f"ignored: subscription {status}"
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("solo", "trialing")


async def test_an_unconfigured_price_keeps_the_plan(billing_client, settings, customer):
    headers, _ = customer
    event = stripe_event(
        "customer.subscription.updated", subscription(CUSTOMER, "active", "price_unknown"), now()
    )
    stored = await deliver_and_wait(billing_client, settings, event)
    assert stored.outcome == "applied (price not configured: plan kept)"
    me = await me_tenant(billing_client, headers)
    assert (me["plan"], me["status"]) == ("solo", "active")


async def test_the_webhook_needs_no_bearer_token(billing_client, settings, customer):
    event = stripe_event("invoice.paid", invoice(CUSTOMER), now())
    response = await deliver(billing_client, event)
    assert response.status_code == 200, response.text


async def test_webhooks_on_the_embedded_sqlite_default(tmp_path, billing_settings):
    """Storing events once uses SQLite's own insert-or-nothing on the embedded default."""
    settings = msgspec.structs.replace(
        billing_settings, database_url=f"sqlite+aiosqlite:///{tmp_path}/v.db", database_app_url=""
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        headers = await owner_headers(client)
        await update_tenant(settings, await tenant_id_of(client, headers), stripe_customer_id=CUSTOMER)
        event = stripe_event(
            "customer.subscription.created", subscription(CUSTOMER, "active", PRICES["agency"]), now()
        )
        stored = await deliver_and_wait(client, settings, event)
        replay = await deliver(client, event)
        me = await me_tenant(client, headers)
    assert stored.outcome == "applied"
    assert replay.json() == {"received": True, "duplicate": True}
    assert (me["plan"], me["status"]) == ("agency", "active")
    assert len(await stored_events(settings)) == 1
