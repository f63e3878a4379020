from __future__ import annotations

import msgspec


class PlanOut(msgspec.Struct):
    id: str
    name: str
    price_usd_month: int | None
    account_limit: int | None
    scan_interval_minutes: int
    features: list[str]


class PlansOut(msgspec.Struct):
    plans: list[PlanOut]
