"""The console in process: the app on PostgreSQL, spoken to over https as a browser would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from vigilare.api.app import create_app
from vigilare.config import Settings


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """Its public URL is https, so its cookies are Secure: the client speaks https too."""
    async with AsyncTestClient(app=create_app(settings), base_url="https://vigilare.local") as client:
        yield client
