"""POST /billing/checkout and GET /billing/portal against a respx stand-in for Stripe's API."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import owner_headers
from tests.support.billing import (
    PRICES,
    STRIPE_KEY,
    form,
    stripe_object,
    tenant_id_of,
)
from tests.support.db import get_tenant, update_tenant
from tests.support.team import add_member

CHECKOUT_URL = "https://checkout.stripe.com/c/pay/cs_test_abc"
PORTAL_URL = "https://billing.stripe.com/p/session/test_abc"
URLS = {"success_url": "https://app.example.com/billing/ok", "cancel_url": "https://app.example.com/billing"}


def route_checkout(stripe_api, customer_id: str = "cus_new123"):
    customers = stripe_api.post("/v1/customers").mock(
        return_value=stripe_object(id=customer_id, object="customer")
    )
    sessions = stripe_api.post("/v1/checkout/sessions").mock(
        return_value=stripe_object(id="cs_test_abc", object="checkout.session", url=CHECKOUT_URL)
    )
    return customers, sessions


async def test_checkout_creates_the_customer_and_a_subscription_session(billing_client, stripe_api, settings):
    headers = await owner_headers(billing_client)
    tenant_id = await tenant_id_of(billing_client, headers)
    customers, sessions = route_checkout(stripe_api)

    response = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "team", **URLS}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"checkout_url": CHECKOUT_URL}
    assert customers.call_count == 1
    customer_request = customers.calls.last.request
    assert customer_request.headers["Authorization"] == f"Bearer {STRIPE_KEY}"
    assert customer_request.headers["Idempotency-Key"] == f"vigilare-customer-{tenant_id}"
    sent_customer = form(customer_request)
    assert sent_customer["email"] == "owner@acme.test"
    assert sent_customer["metadata[tenant_id]"] == tenant_id
    assert sent_customer["name"]  # the tenant's name
    params = form(sessions.calls.last.request)
    assert params["mode"] == "subscription"
    assert params["customer"] == "cus_new123"
    assert params["line_items[0][price]"] == PRICES["team"]
    assert params["line_items[0][quantity]"] == "1"
    assert params["success_url"] == URLS["success_url"]
    assert params["cancel_url"] == URLS["cancel_url"]
    assert params["client_reference_id"] == tenant_id
    assert params["metadata[plan_id]"] == "team"
    assert params["subscription_data[metadata][tenant_id]"] == tenant_id
    # A fresh tenant is in its 14-day trial: subscribing now does not cut the trial short.
    tenant = await get_tenant(settings, tenant_id)
    assert tenant.trial_ends_at is not None
    assert params["subscription_data[trial_end]"] == str(int(tenant.trial_ends_at.timestamp()))
    assert tenant.stripe_customer_id == "cus_new123"


async def test_a_second_checkout_reuses_the_customer(billing_client, stripe_api):
    headers = await owner_headers(billing_client)
    customers, sessions = route_checkout(stripe_api)
    for plan_id in ("solo", "agency"):
        response = await billing_client.post(
            "/billing/checkout", headers=headers, json={"plan_id": plan_id, **URLS}
        )
        assert response.status_code == 200, response.text
    assert customers.call_count == 1
    assert sessions.call_count == 2
    assert form(sessions.calls[1].request)["customer"] == "cus_new123"
    assert form(sessions.calls[1].request)["line_items[0][price]"] == PRICES["agency"]


async def test_an_expired_trial_is_not_carried_into_the_subscription(billing_client, stripe_api, settings):
    headers = await owner_headers(billing_client)
    tenant_id = await tenant_id_of(billing_client, headers)
    await update_tenant(settings, tenant_id, trial_ends_at=None, status="canceled")
    _, sessions = route_checkout(stripe_api)
    response = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "solo", **URLS}
    )
    assert response.status_code == 200, response.text
    assert "subscription_data[trial_end]" not in form(sessions.calls.last.request)


async def test_the_customer_is_kept_when_stripe_refuses_the_session(billing_client, stripe_api, settings):
    headers = await owner_headers(billing_client)
    tenant_id = await tenant_id_of(billing_client, headers)
    customers = stripe_api.post("/v1/customers").mock(
        return_value=stripe_object(id="cus_kept", object="customer")
    )
    stripe_api.post("/v1/checkout/sessions").mock(
        return_value=httpx.Response(
            400, json={"error": {"type": "invalid_request_error", "message": "No such price"}}
        )
    )
    response = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "team", **URLS}
    )
    assert response.status_code == 503
    assert "could not start the checkout" in response.json()["error"]
    assert (await get_tenant(settings, tenant_id)).stripe_customer_id == "cus_kept"

    stripe_api.post("/v1/checkout/sessions").mock(
        return_value=stripe_object(id="cs_test_abc", object="checkout.session", url=CHECKOUT_URL)
    )
    retried = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "team", **URLS}
    )
    assert retried.status_code == 200, retried.text
    assert customers.call_count == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"plan_id": "enterprise"}, "plan_id: the Enterprise plan is sold by contract: contact sales"),
        ({"plan_id": "platinum"}, "plan_id: must be one of solo, team, agency"),
        ({"plan_id": "team", "success_url": "/billing/ok"}, "success_url: must be an absolute http(s) URL"),
        ({"plan_id": "team", "success_url": "javascript:alert(1)"}, "success_url: must be an absolute"),
        ({"plan_id": "team", "cancel_url": "ftp://files.example.com/x"}, "cancel_url: must be an absolute"),
        ({"plan_id": "team", "cancel_url": "https:///no-host"}, "cancel_url: must be an absolute"),
    ],
)
async def test_checkout_refuses_bad_input_without_calling_stripe(billing_client, stripe_api, body, message):
    headers = await owner_headers(billing_client)
    customers, sessions = route_checkout(stripe_api)
    response = await billing_client.post("/billing/checkout", headers=headers, json={**URLS, **body})
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert customers.call_count == sessions.call_count == 0


CONTROL_CHARACTERS = pytest.mark.parametrize(
    "control", ["\t", "\r\n", "\x00", "\x1b", "\x7f", "\x85"], ids=["tab", "crlf", "nul", "esc", "del", "nel"]
)


@CONTROL_CHARACTERS
@pytest.mark.parametrize("field", ["success_url", "cancel_url"])
@pytest.mark.parametrize("where", ["inside", "at the end"])
async def test_checkout_urls_with_control_characters_are_refused(
    billing_client, stripe_api, control, field, where
):
    headers = await owner_headers(billing_client)
    customers, sessions = route_checkout(stripe_api)
    url = (
        URLS[field].replace("/billing", f"/bil{control}ling") if where == "inside" else URLS[field] + control
    )
    response = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "team", **URLS, field: url}
    )
    assert response.status_code == 400
    assert response.json()["error"] == f"{field}: must not contain control characters (tab, CR, LF, ...)"
    assert customers.call_count == sessions.call_count == 0


@CONTROL_CHARACTERS
async def test_a_portal_return_url_with_control_characters_is_refused(
    billing_client, stripe_api, settings, control
):
    headers = await owner_headers(billing_client)
    await update_tenant(settings, await tenant_id_of(billing_client, headers), stripe_customer_id="cus_ctl")
    portal = stripe_api.post("/v1/billing_portal/sessions")
    response = await billing_client.get(
        "/billing/portal",
        headers=headers,
        params={"return_url": f"https://app.example.com/set{control}tings"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "return_url: must not contain control characters (tab, CR, LF, ...)"
    assert portal.call_count == 0


async def test_checkout_needs_all_fields(billing_client):
    headers = await owner_headers(billing_client)
    response = await billing_client.post("/billing/checkout", headers=headers, json={"plan_id": "team"})
    assert response.status_code == 400
    assert "success_url" in response.json()["error"]


async def test_a_subscribed_tenant_changes_plans_in_the_portal(billing_client, stripe_api, settings):
    headers = await owner_headers(billing_client)
    tenant_id = await tenant_id_of(billing_client, headers)
    await update_tenant(
        settings, tenant_id, status="active", stripe_customer_id="cus_1", stripe_subscription_id="sub_1"
    )
    customers, sessions = route_checkout(stripe_api)
    response = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "team", **URLS}
    )
    assert response.status_code == 409
    assert "billing portal" in response.json()["error"]
    assert customers.call_count == sessions.call_count == 0


async def test_billing_without_stripe_configured_is_a_clear_error(client):
    """The default settings have no VIGILARE_STRIPE_API_KEY."""
    headers = await owner_headers(client)
    checkout = await client.post("/billing/checkout", headers=headers, json={"plan_id": "team", **URLS})
    portal = await client.get("/billing/portal", headers=headers)
    for response in (checkout, portal):
        assert response.status_code == 503
        assert response.json()["error"].startswith("billing is not configured")


async def test_a_plan_without_a_configured_price_is_a_clear_error(billing_settings, stripe_api):
    import msgspec
    from litestar.testing import AsyncTestClient

    from vigilare.api.app import create_app

    settings = msgspec.structs.replace(billing_settings, stripe_price_agency="")
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        headers = await owner_headers(test_client)
        customers, _ = route_checkout(stripe_api)
        response = await test_client.post(
            "/billing/checkout", headers=headers, json={"plan_id": "agency", **URLS}
        )
    assert response.status_code == 503
    assert response.json()["error"] == "billing is not configured: VIGILARE_STRIPE_PRICE_AGENCY is not set"
    assert customers.call_count == 0


async def test_portal_needs_a_stripe_customer(billing_client, stripe_api):
    headers = await owner_headers(billing_client)
    portal = stripe_api.post("/v1/billing_portal/sessions")
    response = await billing_client.get("/billing/portal", headers=headers)
    assert response.status_code == 409
    assert "no Stripe customer yet" in response.json()["error"]
    assert portal.call_count == 0


@pytest.mark.parametrize(
    ("query", "expected_return_url"),
    [
        ({}, "https://vigilare.test/app/settings/billing"),
        ({"return_url": "https://app.example.com/settings"}, None),
    ],
)
async def test_portal_session_for_the_tenants_customer(
    billing_client, stripe_api, settings, query, expected_return_url
):
    headers = await owner_headers(billing_client)
    await update_tenant(
        settings, await tenant_id_of(billing_client, headers), stripe_customer_id="cus_portal"
    )
    portal = stripe_api.post("/v1/billing_portal/sessions").mock(
        return_value=stripe_object(id="bps_1", object="billing_portal.session", url=PORTAL_URL)
    )
    response = await billing_client.get("/billing/portal", headers=headers, params=query)
    assert response.status_code == 200, response.text
    assert response.json() == {"portal_url": PORTAL_URL}
    assert form(portal.calls.last.request) == {
        "customer": "cus_portal",
        "return_url": expected_return_url or query["return_url"],
    }


async def test_portal_refuses_a_relative_return_url(billing_client, stripe_api, settings):
    headers = await owner_headers(billing_client)
    await update_tenant(
        settings, await tenant_id_of(billing_client, headers), stripe_customer_id="cus_portal"
    )
    response = await billing_client.get(
        "/billing/portal", headers=headers, params={"return_url": "/settings"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "return_url: must be an absolute http(s) URL"


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
async def test_only_the_owner_manages_billing(billing_client, stripe_api, settings, role):
    owner = await owner_headers(billing_client)
    await update_tenant(settings, await tenant_id_of(billing_client, owner), stripe_customer_id="cus_owner")
    customers, sessions = route_checkout(stripe_api)
    portal = stripe_api.post("/v1/billing_portal/sessions")
    tokens = await add_member(billing_client, owner, f"{role}@acme.test", role)
    headers = {"Authorization": f"Bearer {tokens['id_token']}"}

    checkout = await billing_client.post(
        "/billing/checkout", headers=headers, json={"plan_id": "team", **URLS}
    )
    portal_response = await billing_client.get("/billing/portal", headers=headers)

    for response in (checkout, portal_response):
        assert response.status_code == 403, response.text
    assert customers.call_count == sessions.call_count == portal.call_count == 0


async def test_stripe_ids_are_never_returned(billing_client, stripe_api, settings):
    headers = await owner_headers(billing_client)
    await update_tenant(
        settings,
        await tenant_id_of(billing_client, headers),
        stripe_customer_id="cus_secret123",
        stripe_subscription_id="sub_secret123",
        status="active",
    )
    me = await billing_client.get("/me", headers=headers)
    assert me.status_code == 200
    assert "cus_" not in me.text and "sub_" not in me.text
