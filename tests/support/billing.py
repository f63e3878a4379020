"""Helpers for billing tests: Stripe's wire format, signed webhook deliveries, stored Stripe events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
from sqlalchemy import select

from tests.support.db import cross_tenant_factory
from vigilare.billing.models import StripeEvent
from vigilare.config import Settings
from vigilare.db.engine import create_engine

STRIPE_API_BASE = "https://api.stripe.test"
STRIPE_KEY = "sk_test_vigilare_" + "k" * 24
WEBHOOK_SECRET = "whsec_test_" + "s" * 32
PRICES = {"solo": "price_solo_test", "team": "price_team_test", "agency": "price_agency_test"}


def form(request: httpx.Request) -> dict[str, str]:
    """The form-encoded parameters the stripe library sent, e.g. {"line_items[0][price]": "price_x"}."""
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def stripe_object(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json=fields)


# --- webhooks ---------------------------------------------------------------------------------


def stripe_event(event_type: str, obj: dict[str, Any], created: int, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }


def subscription(
    customer: str, status: str, price: str, sub_id: str = "sub_1", **extra: Any
) -> dict[str, Any]:
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": price, "object": "price"}}]},
        "metadata": {},
        **extra,
    }


def invoice(customer: str, sub_id: str = "sub_1", amount_paid: int = 9900) -> dict[str, Any]:
    return {
        "id": f"in_{uuid.uuid4().hex[:12]}",
        "object": "invoice",
        "customer": customer,
        "subscription": sub_id,
        "amount_paid": amount_paid,
    }


def checkout_session(customer: str, plan_id: str, sub_id: str = "sub_1", paid: bool = True) -> dict:
    return {
        "id": f"cs_test_{uuid.uuid4().hex[:12]}",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": customer,
        "subscription": sub_id,
        "payment_status": "paid" if paid else "no_payment_required",
        "metadata": {"plan_id": plan_id},
    }


def sign(body: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp))


async def deliver(
    client: Any, event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> httpx.Response:
    """POST an event to the webhook exactly as Stripe does: raw JSON body, signed header, no Bearer."""
    body = json.dumps(event, separators=(",", ":"))
    return await client.post(
        "/webhooks/stripe",
        content=body.encode(),
        headers={"Stripe-Signature": sign(body, secret, timestamp), "Content-Type": "application/json"},
    )


# --- direct database access (the test client runs the app on another event loop) ------------


async def stored_events(settings: Settings) -> list[StripeEvent]:
    engine = create_engine(settings.database_url)
    try:
        async with cross_tenant_factory(engine)() as session:
            return list(await session.scalars(select(StripeEvent).order_by(StripeEvent.received_at)))
    finally:
        await engine.dispose()


async def wait_processed(settings: Settings, event_id: str, timeout: float = 10) -> StripeEvent:
    deadline = time.monotonic() + timeout
    while True:
        for event in await stored_events(settings):
            if event.id == event_id and event.processed_at is not None:
                return event
        assert time.monotonic() < deadline, f"event {event_id} not processed"
        await asyncio.sleep(0.05)


async def deliver_and_wait(client: Any, settings: Settings, event: dict[str, Any]) -> StripeEvent:
    response = await deliver(client, event)
    assert response.status_code == 200, response.text
    return await wait_processed(settings, event["id"])


async def tenant_id_of(client: Any, headers: dict[str, str]) -> str:
    me = await client.get("/me", headers=headers)
    assert me.status_code == 200, me.text
    return str(me.json()["tenant"]["tenant_id"])
