"""Helpers that act as a customer would through the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar

from vigilare.api.app import create_app
from vigilare.config import Settings

DEFAULT_PASSWORD = "correct-horse-battery"


async def signup(
    client: Any, email: str, name: str = "Owner", password: str = DEFAULT_PASSWORD
) -> dict[str, Any]:
    response = await client.post("/auth/signup", json={"email": email, "password": password, "name": name})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def login(client: Any, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['id_token']}"}


async def owner_headers(client: Any, email: str = "owner@acme.test") -> dict[str, str]:
    await signup(client, email)
    return bearer(await login(client, email))


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Litestar]:
    """The app started on this test's event loop, for requests sent truly at the same time.

    Litestar's ``AsyncTestClient`` hands each request to a portal and waits for it, so
    ``asyncio.gather`` over it still sends one request after another.
    """
    app = create_app(settings)
    async with app.lifespan():
        yield app


def app_client(app: Litestar, address: str = "203.0.113.10") -> httpx.AsyncClient:
    """An HTTP client of ``app`` whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver.local")
