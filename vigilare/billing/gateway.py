"""The Stripe API client of a process: the official library's async API over httpx.

Created at start-up when billing is configured and closed at shutdown; code that needs Stripe
receives it (``None`` means billing is not configured) and never builds its own.
"""

from __future__ import annotations

import stripe

from vigilare.config import Settings

STRIPE_TIMEOUT_SECONDS = 20
# The library retries connection errors and 409/5xx answers with the same idempotency key.
STRIPE_NETWORK_RETRIES = 2


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        self._http = stripe.HTTPXClient(timeout=STRIPE_TIMEOUT_SECONDS)
        self.client = stripe.StripeClient(
            settings.stripe_api_key,
            base_addresses={"api": settings.stripe_api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=STRIPE_NETWORK_RETRIES,
        )

    async def close(self) -> None:
        await self._http.close_async()


def open_stripe_gateway(settings: Settings) -> StripeGateway | None:
    """The gateway, or None when ``VIGILARE_STRIPE_API_KEY`` is not set (billing disabled)."""
    if not settings.stripe_api_key:
        return None
    return StripeGateway(settings)
