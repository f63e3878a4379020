"""/openapi.json says what the API does: error bodies, security, statuses, headers; /docs runs offline."""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import DEFAULT_PASSWORD

METHODS = ("get", "post", "put", "patch", "delete")
PUBLIC_OPERATIONS = {
    ("post", "/auth/signup"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/accept-invite"),
    ("get", "/billing/plans"),
    ("post", "/webhooks/stripe"),
    ("get", "/webhooks/slack/install"),
    ("post", "/ingest/aws-events"),
    ("get", "/exports/{export_id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_error_answer_is_documented_as_an_error_string(client):
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["schemas"]["Error"] == {
        "type": "object",
        "properties": {"error": {"type": "string", "description": "What went wrong, for a person"}},
        "required": ["error"],
        "description": "Every error answer of the API",
    }
    checked = 0
    for method, path, operation in operations(schema):
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                media = answer["content"]["application/json"]["schema"]
                assert media == {"$ref": "#/components/schemas/Error"}, (method, path, status)
                checked += 1
        if (method, path) not in {("get", "/healthz"), ("get", "/readyz")}:
            assert "429" in operation["responses"], (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert checked > 150
    # Litestar's own {status_code, detail, extra} error body is documented nowhere.
    text = str(schema)
    assert "'detail'" not in text and not re.search(r"[^_]status_code", text)


async def test_only_routes_that_need_a_token_declare_security(client):
    schema = (await client.get("/openapi.json")).json()
    assert "security" not in schema
    for method, path, operation in operations(schema):
        if (method, path) in PUBLIC_OPERATIONS:
            assert "security" not in operation, (method, path)
            assert "401" not in operation["responses"] or path in {
                "/auth/login",
                "/auth/refresh",
                "/ingest/aws-events",
            }, (method, path)
        else:
            assert operation["security"] == [{"BearerToken": []}], (method, path)
            assert {"401", "429"} <= set(operation["responses"]), (method, path)


async def test_statuses_the_api_answers_are_documented(client):
    schema = (await client.get("/openapi.json")).json()
    responses = {(m, p): set(op["responses"]) for m, p, op in operations(schema)}
    assert {"400", "401", "404", "409", "422"} <= responses[("post", "/accounts/{account_id}/verify")]
    assert "409" in responses[("post", "/accounts")] and "403" in responses[("post", "/accounts")]
    assert "409" in responses[("post", "/users/invite")]
    assert {"403", "404"} <= responses[("delete", "/users/{user_id}")]
    assert {"401", "409", "413", "429"} <= responses[("post", "/ingest/aws-events")]
    assert "404" not in responses[("get", "/accounts")]
    assert responses[("get", "/healthz")] == {"200"}
    # A guard above viewer can refuse; a viewer route has no role to refuse.
    assert "403" in responses[("delete", "/accounts/{account_id}")]
    assert "403" not in responses[("get", "/accounts/{account_id}/signals")]


async def test_stripe_signature_is_a_declared_header(client):
    schema = (await client.get("/openapi.json")).json()
    parameters = schema["paths"]["/webhooks/stripe"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [("Stripe-Signature", "header", True)]


async def test_unknown_body_fields_are_ignored_everywhere(client):
    """One rule for every body, as the README documents it: an unknown field is ignored."""
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    for method, path, operation in operations(schema):
        body = operation.get("requestBody")
        if body is None:
            continue
        reference = body["content"]["application/json"]["schema"].get("$ref", "")
        if reference:
            assert components[reference.rsplit("/", 1)[-1]].get("additionalProperties", True) is not False, (
                method,
                path,
            )
    signed_up = await client.post(
        "/auth/signup",
        json={"email": "extra@fields.test", "password": DEFAULT_PASSWORD, "name": "X", "referrer": "ad"},
    )
    assert signed_up.status_code == 201, signed_up.text
    login = await client.post(
        "/auth/login", json={"email": "extra@fields.test", "password": DEFAULT_PASSWORD, "remember": True}
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['id_token']}"}
    renamed = await client.patch("/me", json={"name": "Y", "avatar": "x.png"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json() == {"name": "Y"}


async def test_options_lists_every_method_of_the_path(client):
    for path, allowed in (
        ("/accounts", "GET, OPTIONS, POST"),
        ("/me", "GET, OPTIONS, PATCH"),
        ("/users/01HZZZZZZZZZZZZZZZZZZZZZZZ", "DELETE, OPTIONS, PATCH"),
        ("/alert-rules/01HZZZZZZZZZZZZZZZZZZZZZZZ", "DELETE, OPTIONS, PATCH"),
    ):
        answer = await client.options(path)
        assert answer.status_code == 204 and answer.headers["allow"] == allowed, (path, answer.headers)


async def test_docs_are_served_by_the_service_itself(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert "http://" not in page.text and "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for source in sources:
        if source == "/openapi.json":
            continue
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 20, source
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"] and b"SwaggerUIBundle" in bundle.content
    init = (await client.get("/docs/init.js")).text
    assert '"/openapi.json"' in init
