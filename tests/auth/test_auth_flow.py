from __future__ import annotations

from tests.support.api import DEFAULT_PASSWORD, bearer, login, signup


async def test_signup_creates_owner_on_trial(client):
    created = await signup(client, "  Alice@Example.COM ", name="Acme Inc")
    assert created["message"] == "Account created successfully. You can now log in."
    tokens = await login(client, "alice@example.com")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    me = (await client.get("/me", headers=bearer(tokens))).json()
    assert me["user"]["email"] == "alice@example.com"
    assert me["user"]["role"] == "owner"
    assert me["user"]["user_id"] == created["user_id"]
    assert me["tenant"]["tenant_id"] == created["tenant_id"]
    assert me["tenant"]["plan"] == "solo" and me["tenant"]["status"] == "trialing"
    assert me["tenant"]["trial_ends_at"] > me["tenant"]["created_at"]


async def test_signup_ignores_fields_a_client_may_not_set(client):
    response = await client.post(
        "/auth/signup",
        json={
            "email": "mallory@example.com",
            "password": DEFAULT_PASSWORD,
            "name": "M",
            "role": "viewer",
            "plan": "enterprise",
            "tenant_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "status": "active",
        },
    )
    assert response.status_code == 201
    assert response.json()["tenant_id"] != "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    me = (await client.get("/me", headers=bearer(await login(client, "mallory@example.com")))).json()
    assert me["user"]["role"] == "owner"
    assert (me["tenant"]["plan"], me["tenant"]["status"]) == ("solo", "trialing")


async def test_duplicate_email_is_a_conflict_whatever_its_case(client):
    await signup(client, "bob@example.com")
    response = await client.post(
        "/auth/signup", json={"email": "BOB@example.com ", "password": DEFAULT_PASSWORD, "name": "Bob"}
    )
    assert response.status_code == 409
    assert "already exists" in response.json()["error"]


async def test_signup_validation_names_the_field(client):
    cases = [
        ({"email": "a@b.co", "password": "short", "name": "A"}, "password"),
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD, "name": "A"}, "email"),
        ({"email": "a@b.co", "password": DEFAULT_PASSWORD, "name": ""}, "name"),
        ({"email": "a@b.co", "password": DEFAULT_PASSWORD, "name": "x" * 201}, "name"),
        ({"email": "a@b.co", "password": DEFAULT_PASSWORD, "name": "   "}, "name"),
        ({"email": 5, "password": DEFAULT_PASSWORD, "name": "A"}, "email"),
        ({"password": DEFAULT_PASSWORD, "name": "A"}, "email"),
    ]
    for body, field in cases:
        response = await client.post("/auth/signup", json=body)
        assert response.status_code == 400, body
        assert field in response.json()["error"], (body, response.json())


async def test_malformed_json_is_a_400(client):
    response = await client.post(
        "/auth/signup", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "error" in response.json()


async def test_wrong_password_and_unknown_email_answer_the_same(client):
    await signup(client, "carol@example.com")
    wrong_password = await client.post(
        "/auth/login", json={"email": "carol@example.com", "password": "nope-nope"}
    )
    unknown = await client.post("/auth/login", json={"email": "nobody@example.com", "password": "nope-nope"})
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json()


async def test_repeated_failures_for_one_email_are_throttled(client):
    await signup(client, "dave@example.com")
    for _ in range(5):
        response = await client.post(
            "/auth/login", json={"email": "dave@example.com", "password": "bad-password"}
        )
        assert response.status_code == 401
    throttled = await client.post(
        "/auth/login", json={"email": "dave@example.com", "password": DEFAULT_PASSWORD}
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "error" in throttled.json()


async def test_refresh_rotates_and_reuse_revokes_the_family(client):
    await signup(client, "erin@example.com")
    first = await login(client, "erin@example.com")
    rotated = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/me", headers=bearer(second))).status_code == 200

    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # The reuse revoked the whole family: the legitimately rotated token is dead too.
    after = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_family(client):
    await signup(client, "frank@example.com")
    tokens = await login(client, "frank@example.com")
    response = await client.post("/auth/logout", headers=bearer(tokens))
    assert response.status_code == 200
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


async def test_profile_rename(client):
    await signup(client, "gina@example.com")
    headers = bearer(await login(client, "gina@example.com"))
    response = await client.patch("/me", json={"name": "Gina Smith"}, headers=headers)
    assert response.status_code == 200 and response.json() == {"name": "Gina Smith"}
    assert (await client.get("/me", headers=headers)).json()["user"]["name"] == "Gina Smith"
    assert (await client.patch("/me", json={"name": ""}, headers=headers)).status_code == 400
