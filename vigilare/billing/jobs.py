"""Jobs of the billing domain: applying stored Stripe events to tenants."""

from __future__ import annotations

import logging

from sqlalchemy import select

from vigilare.billing.models import StripeEvent
from vigilare.billing.stripe_events import apply_event
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, job

logger = logging.getLogger("vigilare.billing")


@job("process_stripe_event")
async def process_stripe_event(ctx: JobContext, event_id: str) -> str | None:
    """Apply a stored event once: a second run finds it processed and does nothing."""
    async with ctx.unit_of_work(cross_tenant=True) as session:
        event = await session.scalar(select(StripeEvent).where(StripeEvent.id == event_id).with_for_update())
        if event is None or event.processed_at is not None:
            return None
        tenant_id, outcome = await apply_event(session, ctx.settings, event.payload)
        event.tenant_id, event.outcome, event.processed_at = tenant_id, outcome, utcnow()
    logger.info("Stripe event %s (%s): %s", event_id, event.type, outcome)
    return outcome
