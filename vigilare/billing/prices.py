"""Which Stripe price sells which plan: configuration, read both ways."""

from __future__ import annotations

from vigilare.config import Settings
from vigilare.errors import ServiceUnavailable

# Plans a customer buys through Checkout; enterprise is sold by contract.
SELF_SERVE_PLANS = ("solo", "team", "agency")


def configured_prices(settings: Settings) -> dict[str, str]:
    """Plan id -> Stripe price id, for the plans whose price is configured."""
    prices = {
        "solo": settings.stripe_price_solo,
        "team": settings.stripe_price_team,
        "agency": settings.stripe_price_agency,
    }
    return {plan_id: price for plan_id, price in prices.items() if price}


def price_for_plan(settings: Settings, plan_id: str) -> str:
    price = configured_prices(settings).get(plan_id)
    if price is None:
        variable = f"VIGILARE_STRIPE_PRICE_{plan_id.upper()}"
        raise ServiceUnavailable(f"billing is not configured: {variable} is not set")
    return price


def plan_for_price(settings: Settings, price_id: str | None) -> str | None:
    if not price_id:
        return None
    for plan_id, price in configured_prices(settings).items():
        if price == price_id:
            return plan_id
    return None
