"""Billing fixtures: the API with Stripe configured and Stripe's HTTP API mocked with respx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
import respx
from litestar.testing import AsyncTestClient

from tests.support.billing import PRICES, STRIPE_API_BASE, STRIPE_KEY, WEBHOOK_SECRET
from vigilare.api.app import create_app
from vigilare.config import Settings


@pytest.fixture
def billing_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings,
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_price_solo=PRICES["solo"],
        stripe_price_team=PRICES["team"],
        stripe_price_agency=PRICES["agency"],
        stripe_api_base=STRIPE_API_BASE,
    )


@pytest.fixture
async def billing_client(billing_settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(billing_settings)) as test_client:
        yield test_client


@pytest.fixture
def stripe_api() -> Iterator[respx.MockRouter]:
    """Stripe's API: any request the tests did not route fails the test."""
    with respx.mock(base_url=STRIPE_API_BASE, assert_all_called=False) as router:
        yield router
