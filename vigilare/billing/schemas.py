from __future__ import annotations

from typing import Annotated

import msgspec

RedirectUrl = Annotated[str, msgspec.Meta(max_length=2048)]


class PlanOut(msgspec.Struct):
    id: str
    name: str
    price_usd_month: int | None
    account_limit: int | None
    scan_interval_minutes: int
    features: list[str]


class PlansOut(msgspec.Struct):
    plans: list[PlanOut]


class CheckoutIn(msgspec.Struct):
    plan_id: str
    success_url: RedirectUrl
    cancel_url: RedirectUrl


class CheckoutOut(msgspec.Struct):
    checkout_url: str


class PortalOut(msgspec.Struct):
    portal_url: str


class WebhookReceivedOut(msgspec.Struct):
    received: bool
    # True when this event id was delivered before: acknowledged, not processed again.
    duplicate: bool
