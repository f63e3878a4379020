from __future__ import annotations

from litestar import Controller, get

from vigilare.billing.plans import PLANS
from vigilare.billing.schemas import PlanOut, PlansOut


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
