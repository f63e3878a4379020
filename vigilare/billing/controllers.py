"""Plans, Stripe Checkout and Customer Portal, and the Stripe webhook."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, HeaderParameter, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.guards import requires_role
from vigilare.auth.roles import OWNER, Principal
from vigilare.billing import service, webhooks
from vigilare.billing.gateway import StripeGateway
from vigilare.billing.plans import PLANS
from vigilare.billing.schemas import (
    CheckoutIn,
    CheckoutOut,
    PlanOut,
    PlansOut,
    PortalOut,
    WebhookReceivedOut,
)
from vigilare.config import Settings
from vigilare.errors import answers


class BillingController(Controller):
    path = "/billing"
    tags = ["Billing"]

    @get("/plans", summary="List available plans", opt=answers(public=True, no_database=True))
    async def plans(self) -> PlansOut:
        return PlansOut(
            plans=[
                PlanOut(
                    id=p.id,
                    name=p.name,
                    price_usd_month=p.price_usd_month,
                    account_limit=p.account_limit,
                    scan_interval_minutes=p.scan_interval_minutes,
                    features=list(p.features),
                )
                for p in PLANS.values()
            ]
        )

    @post(
        "/checkout",
        status_code=200,
        summary="Create a Stripe checkout session",
        guards=[requires_role(OWNER)],
        opt=answers(409),
    )
    async def checkout(
        self,
        data: JSONBody[CheckoutIn],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        stripe: NamedDependency[StripeGateway | None],
        settings: NamedDependency[Settings],
    ) -> CheckoutOut:
        url = await service.start_checkout(
            db_session,
            stripe,
            settings,
            principal,
            data.plan_id,
            data.success_url,
            data.cancel_url,
        )
        return CheckoutOut(checkout_url=url)

    @get(
        "/portal",
        summary="Get Stripe customer portal URL",
        guards=[requires_role(OWNER)],
        opt=answers(409),
    )
    async def portal(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        stripe: NamedDependency[StripeGateway | None],
        settings: NamedDependency[Settings],
        return_url: FromQuery[str | None] = None,
    ) -> PortalOut:
        url = await service.open_portal(db_session, stripe, settings, principal, return_url)
        return PortalOut(portal_url=url)


class StripeWebhookController(Controller):
    path = "/webhooks"
    tags = ["Webhooks"]

    @post(
        "/stripe",
        status_code=200,
        summary="Receive Stripe events (signed with the webhook secret)",
        opt={"public": True},
        security=[],
    )
    async def stripe_event(
        self,
        request: Request,
        unscoped_db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        stripe_signature: Annotated[
            str | None,
            HeaderParameter(
                name="Stripe-Signature",
                required=True,
                description="Stripe's signature of the raw body (t=<timestamp>,v1=<HMAC-SHA256>)",
            ),
        ] = None,
    ) -> WebhookReceivedOut:
        # The signature covers the exact bytes Stripe sent: read them raw, never re-serialised.
        payload = await request.body()
        event = webhooks.verify_signature(settings, payload, stripe_signature)
        stored = await webhooks.store_event(unscoped_db_session, event)
        return WebhookReceivedOut(received=True, duplicate=not stored)
