"""What each Stripe event means for a tenant's plan and billing status.

Stripe may deliver events late, twice or out of order. Every applied event moves the tenant's
``billing_state_at`` to the event's ``created`` time; an event older than that describes a state
that has already been superseded and is recorded as stale instead of rolling the tenant back.
Events of the same second are applied in arrival order (Stripe's timestamps have 1 s resolution).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.models import Tenant
from vigilare.billing.plans import PLANS
from vigilare.billing.prices import plan_for_price
from vigilare.config import Settings

APPLIED = "applied"
UNKNOWN_CUSTOMER = "ignored: unknown customer"
UNHANDLED_TYPE = "ignored: event type not used"
STALE = "ignored: stale (a newer billing state is already applied)"
OTHER_SUBSCRIPTION = "ignored: not the tenant's current subscription"

# Stripe subscription status -> tenant status. "unpaid" (retries exhausted) stays past due, so the
# grace period that began at the first failure still ends scanning; "paused" (a trial that ended
# without a payment method) stops scanning like a cancellation.
SUBSCRIPTION_STATUSES = {
    "active": "active",
    "trialing": "trialing",
    "past_due": "past_due",
    "unpaid": "past_due",
    "canceled": "canceled",
    "paused": "canceled",
}

Obj = dict[str, Any]


def _id_of(value: Any) -> str | None:
    """A Stripe reference: an id string, or an expanded object carrying its id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


def _set_status(tenant: Tenant, status: str, occurred: datetime) -> None:
    if status == "past_due":
        # The 7-day grace period runs from the first failure, not from each retry.
        if tenant.status != "past_due" or tenant.past_due_since is None:
            tenant.past_due_since = occurred
    else:
        tenant.past_due_since = None
    tenant.status = status


def _metadata_plan(obj: Obj) -> str | None:
    metadata = obj.get("metadata")
    plan_id = metadata.get("plan_id") if isinstance(metadata, dict) else None
    return plan_id if isinstance(plan_id, str) and plan_id in PLANS else None


def _subscription_plan(settings: Settings, subscription: Obj) -> str | None:
    """The plan the subscription's price sells (configuration), else the plan named at checkout."""
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    for item in data if isinstance(data, list) else []:
        price = item.get("price") if isinstance(item, dict) else None
        plan_id = plan_for_price(settings, _id_of(price))
        if plan_id is not None:
            return plan_id
    return _metadata_plan(subscription)


def _invoice_subscription(invoice: Obj) -> str | None:
    # Older API versions put it on the invoice; newer ones under parent.subscription_details.
    direct = _id_of(invoice.get("subscription"))
    if direct:
        return direct
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    return _id_of(details.get("subscription")) if isinstance(details, dict) else None


def _is_other_subscription(tenant: Tenant, subscription_id: str | None) -> bool:
    return bool(
        subscription_id and tenant.stripe_subscription_id and subscription_id != tenant.stripe_subscription_id
    )


def checkout_completed(tenant: Tenant, checkout: Obj, occurred: datetime, settings: Settings) -> str:
    if checkout.get("mode") != "subscription":
        return "ignored: not a subscription checkout"
    subscription_id = _id_of(checkout.get("subscription"))
    plan_id = _metadata_plan(checkout)
    if subscription_id and subscription_id == tenant.stripe_subscription_id:
        # The subscription's own events (status, price) are authoritative and already applied.
        return "ignored: the subscription's events already set the state"
    payment_status = checkout.get("payment_status")
    if payment_status == "paid":
        _set_status(tenant, "active", occurred)
    elif payment_status == "no_payment_required":  # the carried-over free trial
        _set_status(tenant, "trialing", occurred)
    else:
        return "ignored: checkout not paid yet"
    tenant.stripe_subscription_id = subscription_id or tenant.stripe_subscription_id
    if plan_id:
        tenant.plan = plan_id
    return APPLIED


def subscription_changed(tenant: Tenant, subscription: Obj, occurred: datetime, settings: Settings) -> str:
    status = SUBSCRIPTION_STATUSES.get(str(subscription.get("status")))
    if status is None:  # incomplete / incomplete_expired: the first payment has not succeeded
        return f"ignored: subscription {subscription.get('status')}"
    subscription_id = _id_of(subscription)
    if status == "canceled" and _is_other_subscription(tenant, subscription_id):
        return OTHER_SUBSCRIPTION
    plan_id = _subscription_plan(settings, subscription)
    tenant.stripe_subscription_id = subscription_id
    if plan_id:
        tenant.plan = plan_id
    _set_status(tenant, status, occurred)
    trial_end = _timestamp(subscription.get("trial_end"))
    if status == "trialing" and trial_end is not None:
        tenant.trial_ends_at = trial_end
    return APPLIED if plan_id else f"{APPLIED} (price not configured: plan kept)"


def subscription_deleted(tenant: Tenant, subscription: Obj, occurred: datetime, settings: Settings) -> str:
    if _is_other_subscription(tenant, _id_of(subscription)):
        return OTHER_SUBSCRIPTION
    _set_status(tenant, "canceled", occurred)
    return APPLIED


def invoice_payment_failed(tenant: Tenant, invoice: Obj, occurred: datetime, settings: Settings) -> str:
    if _is_other_subscription(tenant, _invoice_subscription(invoice)):
        return OTHER_SUBSCRIPTION
    if tenant.status == "canceled":
        return "ignored: the subscription is canceled"
    _set_status(tenant, "past_due", occurred)
    return APPLIED


def invoice_paid(tenant: Tenant, invoice: Obj, occurred: datetime, settings: Settings) -> str:
    if _is_other_subscription(tenant, _invoice_subscription(invoice)):
        return OTHER_SUBSCRIPTION
    if tenant.status == "canceled":
        # A final invoice paid after cancellation does not revive it; a new subscription does.
        return "ignored: the subscription is canceled"
    if tenant.status == "trialing" and not invoice.get("amount_paid"):
        return "ignored: trial invoice"
    _set_status(tenant, "active", occurred)
    return APPLIED


Handler = Callable[[Tenant, Obj, datetime, Settings], str]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_deleted,
    "invoice.payment_failed": invoice_payment_failed,
    "invoice.paid": invoice_paid,
}


async def find_tenant(session: AsyncSession, customer_id: str | None) -> Tenant | None:
    if not customer_id:
        return None
    # Locked: two events of one tenant processed at once apply one after the other.
    return await session.scalar(
        select(Tenant).where(Tenant.stripe_customer_id == customer_id).with_for_update()
    )


async def apply_event(session: AsyncSession, settings: Settings, event: Obj) -> tuple[str | None, str]:
    """Apply one verified event to its tenant; returns (tenant id or None, outcome)."""
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return None, UNHANDLED_TYPE
    obj: Obj = event["data"]["object"]
    tenant = await find_tenant(session, _id_of(obj.get("customer")))
    if tenant is None:
        return None, UNKNOWN_CUSTOMER
    occurred = datetime.fromtimestamp(event["created"], UTC)
    if tenant.billing_state_at is not None and occurred < tenant.billing_state_at:
        return tenant.id, STALE
    outcome = handler(tenant, obj, occurred, settings)
    if outcome.startswith(APPLIED):
        tenant.billing_state_at = occurred
    return tenant.id, outcome
