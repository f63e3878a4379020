"""Checkout and Customer Portal sessions: the tenant's side of Stripe billing.

The tenant's Stripe customer is created once (with an idempotency key, so a retried or concurrent
request cannot create a second one) and kept even if the rest of the request fails.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params.checkout import SessionCreateParamsSubscriptionData

from vigilare.auth.models import Tenant
from vigilare.auth.roles import Principal
from vigilare.billing.gateway import StripeGateway
from vigilare.billing.plans import PLANS, Plan
from vigilare.billing.prices import SELF_SERVE_PLANS, price_for_plan
from vigilare.config import Settings
from vigilare.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from vigilare.ids import utcnow
from vigilare.links import billing_url
from vigilare.text import refuse_control_characters

logger = logging.getLogger("vigilare.billing")

# Statuses in which the tenant already pays (or is in a paid plan's trial) through a subscription:
# a second Checkout would start a second subscription, so plan changes go through the portal.
SUBSCRIBED_STATUSES = ("active", "trialing", "past_due")
# Stripe refuses a subscription trial ending sooner than this; shorter remainders are not carried over.
MIN_STRIPE_TRIAL = timedelta(hours=48)


def require_gateway(gateway: StripeGateway | None) -> StripeGateway:
    if gateway is None:
        raise ServiceUnavailable("billing is not configured: VIGILARE_STRIPE_API_KEY is not set")
    return gateway


def check_plan_choice(plan_id: str) -> Plan:
    if plan_id == "enterprise":
        raise BadRequest("plan_id: the Enterprise plan is sold by contract: contact sales")
    if plan_id not in SELF_SERVE_PLANS:
        raise BadRequest(f"plan_id: must be one of {', '.join(SELF_SERVE_PLANS)}")
    return PLANS[plan_id]


def check_redirect_url(field: str, value: str) -> str:
    value = refuse_control_characters(field, value).strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise BadRequest(f"{field}: must be an absolute http(s) URL")
    return value


async def _tenant_for_update(session: AsyncSession, tenant_id: str) -> Tenant:
    # The row lock keeps two checkouts of one tenant from racing to record the customer.
    tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:  # the principal's tenant always exists; this only guards a deleted tenant
        raise NotFound("tenant not found")
    return tenant


async def _ensure_customer(
    session: AsyncSession, gateway: StripeGateway, tenant: Tenant, principal: Principal
) -> str:
    if tenant.stripe_customer_id:
        return tenant.stripe_customer_id
    customer = await gateway.client.v1.customers.create_async(
        params={"email": principal.email, "name": tenant.name, "metadata": {"tenant_id": tenant.id}},
        options={"idempotency_key": f"vigilare-customer-{tenant.id}"},
    )
    tenant.stripe_customer_id = customer.id
    # Keep the customer id even if creating the session fails: the next try reuses it.
    session.info["commit_even_on_error"] = True
    return customer.id


def _carried_over_trial_end(tenant: Tenant, now: datetime) -> int | None:
    """The end of the tenant's free trial, so subscribing early does not cut the trial short."""
    if tenant.status != "trialing" or tenant.trial_ends_at is None:
        return None
    if tenant.trial_ends_at - now < MIN_STRIPE_TRIAL:
        return None
    return int(tenant.trial_ends_at.timestamp())


async def start_checkout(
    session: AsyncSession,
    gateway: StripeGateway | None,
    settings: Settings,
    principal: Principal,
    plan_id: str,
    success_url: str,
    cancel_url: str,
) -> str:
    """A subscription-mode Checkout Session for the plan; returns the URL to send the owner to."""
    plan = check_plan_choice(plan_id)
    success_url = check_redirect_url("success_url", success_url)
    cancel_url = check_redirect_url("cancel_url", cancel_url)
    stripe_api = require_gateway(gateway)
    price = price_for_plan(settings, plan.id)
    tenant = await _tenant_for_update(session, principal.tenant_id)
    if tenant.stripe_subscription_id and tenant.status in SUBSCRIBED_STATUSES:
        raise Conflict(
            "the tenant already has a subscription: change the plan or payment details in the "
            "billing portal (GET /billing/portal)"
        )
    metadata = {"tenant_id": tenant.id, "plan_id": plan.id}
    subscription_data: SessionCreateParamsSubscriptionData = {"metadata": metadata}
    trial_end = _carried_over_trial_end(tenant, utcnow())
    if trial_end is not None:
        subscription_data["trial_end"] = trial_end
    try:
        customer_id = await _ensure_customer(session, stripe_api, tenant, principal)
        checkout = await stripe_api.client.v1.checkout.sessions.create_async(
            params={
                "mode": "subscription",
                "customer": customer_id,
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": tenant.id,
                "metadata": metadata,
                "subscription_data": subscription_data,
            }
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a checkout for tenant %s: %s", tenant.id, exc)
        raise ServiceUnavailable(
            "the payment provider could not start the checkout; try again later"
        ) from exc
    if not checkout.url:
        raise ServiceUnavailable("the payment provider returned no checkout URL; try again later")
    return checkout.url


async def open_portal(
    session: AsyncSession,
    gateway: StripeGateway | None,
    settings: Settings,
    principal: Principal,
    return_url: str | None,
) -> str:
    """A Customer Portal session URL where the owner manages plan, payment method and invoices."""
    stripe_api = require_gateway(gateway)
    return_url = check_redirect_url("return_url", return_url) if return_url else billing_url(settings)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    if not tenant.stripe_customer_id:
        raise Conflict("the tenant has no Stripe customer yet: subscribe first with POST /billing/checkout")
    try:
        portal = await stripe_api.client.v1.billing_portal.sessions.create_async(
            params={"customer": tenant.stripe_customer_id, "return_url": return_url}
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe refused a portal session for tenant %s: %s", tenant.id, exc)
        raise ServiceUnavailable("the payment provider could not open the portal; try again later") from exc
    return portal.url
