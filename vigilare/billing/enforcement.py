"""What a tenant's plan and billing status allow right now."""

from __future__ import annotations

from datetime import datetime, timedelta

from vigilare.auth.models import Tenant
from vigilare.billing.plans import PLANS, get_plan
from vigilare.errors import Forbidden

PAST_DUE_GRACE = timedelta(days=7)


# The only statuses under which scans may stop (``scanning_allowed`` is True for any other): the
# scheduler reads just these tenants to learn which ones get no scans.
STATUSES_THAT_MAY_STOP_SCANS = ("canceled", "trialing", "past_due")


def scanning_allowed(tenant: Tenant, now: datetime) -> bool:
    """Scans stop for a canceled tenant, an expired trial, or past due beyond the grace period."""
    if tenant.status == "canceled":
        return False
    if tenant.status == "trialing":
        return tenant.trial_ends_at is None or tenant.trial_ends_at > now
    if tenant.status == "past_due":
        since = tenant.past_due_since or now
        return now - since <= PAST_DUE_GRACE
    return True


def scanning_blocked_reason(tenant: Tenant, now: datetime) -> str | None:
    if scanning_allowed(tenant, now):
        return None
    if tenant.status == "canceled":
        return "the subscription is canceled: scans are paused until a plan is active again"
    if tenant.status == "trialing":
        return "the free trial has ended: choose a plan to resume scans"
    return "payment is past due beyond the 7-day grace period: settle the invoice to resume scans"


def require_csv_export(tenant: Tenant) -> None:
    """CSV export is a Team, Agency and Enterprise feature; other plans get a 403 saying so."""
    plan = get_plan(tenant.plan)
    if plan.csv_export:
        return
    including = ", ".join(p.name for p in PLANS.values() if p.csv_export)
    raise Forbidden(f"CSV export is not included in the {plan.name} plan: upgrade to one of {including}")
