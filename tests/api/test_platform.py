"""Errors, operations endpoints, the API-wide rate limit, and authentication on every route."""

from __future__ import annotations

import msgspec
from litestar.testing import AsyncTestClient

from tests.support.api import owner_headers
from vigilare.api.app import create_app


async def test_unknown_path_and_wrong_method_are_json_errors(client):
    missing = await client.get("/no/such/path")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}
    wrong = await client.delete("/billing/plans")
    assert wrong.status_code == 405 and "error" in wrong.json()


async def test_plans_are_public_and_complete(client):
    response = await client.get("/billing/plans")
    assert response.status_code == 200
    plans = {p["id"]: p for p in response.json()["plans"]}
    assert list(plans) == ["solo", "team", "agency", "enterprise"]
    assert (
        plans["solo"]["price_usd_month"],
        plans["solo"]["account_limit"],
        plans["solo"]["scan_interval_minutes"],
    ) == (29, 1, 15)
    assert (
        plans["team"]["price_usd_month"],
        plans["team"]["account_limit"],
        plans["team"]["scan_interval_minutes"],
    ) == (99, 10, 5)
    assert (plans["agency"]["price_usd_month"], plans["agency"]["account_limit"]) == (299, 50)
    assert plans["enterprise"]["price_usd_month"] is None and plans["enterprise"]["account_limit"] is None
    assert all(p["features"] for p in plans.values())


async def test_health_readiness_openapi_and_docs(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    schema = (await client.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    assert "/auth/signup" in schema["paths"] and "/users/{user_id}" in schema["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


async def test_every_non_public_route_requires_a_token(client):
    app = client.app
    checked = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("public") or route.path.startswith("/schema"):
                continue
            if route.path.startswith("/app"):
                continue  # console pages send a browser to log in instead (tests/console)
            path = route.path.replace("{user_id:str}", "01HZZZZZZZZZZZZZZZZZZZZZZZ")
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                response = await client.request(method, path, json={})
                assert response.status_code == 401, (method, path, response.text)
                checked += 1
    assert checked >= 6


async def test_rate_limit_per_client(settings):
    limited = msgspec.structs.replace(settings, rate_limit_per_minute=5)
    async with AsyncTestClient(app=create_app(limited)) as client:
        statuses = [(await client.get("/billing/plans")).status_code for _ in range(6)]
        assert statuses[:5] == [200] * 5
        blocked = await client.get("/billing/plans")
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert "rate limit" in blocked.json()["error"]
        # Health checks stay answerable for the load balancer.
        assert (await client.get("/healthz")).status_code == 200


async def test_tenant_isolation_of_user_endpoints(client):
    alice = await owner_headers(client, "alice@tenant-a.test")
    bob = await owner_headers(client, "bob@tenant-b.test")
    bob_id = (await client.get("/me", headers=bob)).json()["user"]["user_id"]
    assert (await client.patch(f"/users/{bob_id}", json={"role": "viewer"}, headers=alice)).status_code == 404
    assert (await client.delete(f"/users/{bob_id}", headers=alice)).status_code == 404
    listed = (await client.get("/users", headers=alice)).json()
    assert [u["email"] for u in listed["users"]] == ["alice@tenant-a.test"] and listed["total"] == 1
    assert (await client.get("/me", headers=bob)).status_code == 200
