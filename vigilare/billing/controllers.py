"""Plans, Stripe Checkout and Customer Portal, and the Stripe webhook."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.api.state import AppServices
from vigilare.auth.roles import OWNER, Principal
from vigilare.billing import service, webhooks
from vigilare.billing.plans import PLANS
from vigilare.billing.schemas import (
    CheckoutIn,
    CheckoutOut,
    PlanOut,
    PlansOut,
    PortalOut,
    WebhookReceivedOut,
)


class BillingController(Controller):
    path = "/billing"
    tags = ["Billing"]

    @get("/plans", summary="List available plans", opt={"public": True})
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

    @post("/checkout", status_code=200, summary="Create a Stripe checkout session", opt={"role": OWNER})
    async def checkout(
        self,
        data: JSONBody[CheckoutIn],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        app_services: NamedDependency[AppServices],
    ) -> CheckoutOut:
        url = await service.start_checkout(
            db_session,
            app_services.stripe,
            app_services.settings,
            principal,
            data.plan_id,
            data.success_url,
            data.cancel_url,
        )
        return CheckoutOut(checkout_url=url)

    @get("/portal", summary="Get Stripe customer portal URL", opt={"role": OWNER})
    async def portal(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        app_services: NamedDependency[AppServices],
        return_url: FromQuery[str | None] = None,
    ) -> PortalOut:
        url = await service.open_portal(
            db_session, app_services.stripe, app_services.settings, principal, return_url
        )
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
        db_session: NamedDependency[AsyncSession],
        app_services: NamedDependency[AppServices],
    ) -> WebhookReceivedOut:
        # The signature covers the exact bytes Stripe sent: read them raw, never re-serialised.
        payload = await request.body()
        event = webhooks.verify_signature(
            app_services.settings, payload, request.headers.get("stripe-signature")
        )
        stored = await webhooks.store_event(db_session, event)
        return WebhookReceivedOut(received=True, duplicate=not stored)
