"""Helpers that act as a customer would through the HTTP API."""

from __future__ import annotations

from typing import Any

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
