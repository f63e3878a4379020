from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from tests.support.api import DEFAULT_PASSWORD, app_client, bearer, login, running_app, signup
from vigilare.api.app import create_app
from vigilare.db.tenancy import VigilareSession


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


async def test_signing_up_with_a_taken_email_answers_like_a_new_account_and_tells_its_owner(
    settings, smtp_sink
):
    configured = msgspec.structs.replace(settings, **smtp_sink.smtp_settings())
    async with AsyncTestClient(app=create_app(configured)) as client:
        first = await signup(client, "bob@example.com", name="Bob")
        again = await client.post(
            "/auth/signup", json={"email": "BOB@example.com ", "password": "mallorys-password", "name": "M"}
        )
        fresh = await client.post(
            "/auth/signup", json={"email": "new@example.com", "password": DEFAULT_PASSWORD, "name": "New"}
        )
        assert again.status_code == fresh.status_code == 201
        assert again.headers["content-type"] == fresh.headers["content-type"]
        assert sorted(again.json()) == sorted(fresh.json()) == ["message", "tenant_id", "user_id"]
        assert again.json()["message"] == fresh.json()["message"]
        assert again.json()["user_id"] != first["user_id"] and again.json()["tenant_id"] != first["tenant_id"]
        # Nothing about the existing account changed: its own password still opens it, and only it.
        me = (await client.get("/me", headers=bearer(await login(client, "bob@example.com")))).json()
        assert (me["user"]["user_id"], me["user"]["name"]) == (first["user_id"], "Bob")
        refused = await client.post(
            "/auth/login", json={"email": "bob@example.com", "password": "mallorys-password"}
        )
        assert refused.status_code == 401
        # The owner of the address, and only they, learn that someone tried.
        [(recipients, message)] = smtp_sink.wait_for(1)
        assert recipients == ["bob@example.com"]
        assert message["Subject"] == "Someone tried to sign up to Vigilare with your email"
        assert "No account was created" in message.get_content()


async def test_concurrent_sign_ups_with_one_email_all_answer_alike_and_make_one_account(settings):
    # Six password tries below: keep login throttling out of the way.
    relaxed = msgspec.structs.replace(settings, login_max_failures=20)
    async with running_app(relaxed) as app, app_client(app) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    "/auth/signup",
                    json={"email": "race@example.com", "password": f"password-{n}", "name": "R"},
                )
                for n in range(6)
            )
        )
        assert [answer.status_code for answer in answers] == [201] * 6
        logins = [
            await http.post("/auth/login", json={"email": "race@example.com", "password": f"password-{n}"})
            for n in range(6)
        ]
    assert sorted(login.status_code for login in logins) == [200, 401, 401, 401, 401, 401]


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


async def test_logout_ends_the_id_token_of_that_login_on_the_next_request(client):
    await signup(client, "hank@example.com")
    tokens = await login(client, "hank@example.com")
    elsewhere = await login(client, "hank@example.com")  # another device: another login
    assert (await client.get("/me", headers=bearer(tokens))).status_code == 200
    assert (await client.post("/auth/logout", headers=bearer(tokens))).status_code == 200
    after = await client.get("/me", headers=bearer(tokens))
    assert after.status_code == 401 and "error" in after.json()
    assert (await client.get("/me", headers=bearer(elsewhere))).status_code == 200


async def test_refresh_token_reuse_ends_every_id_token_of_the_login(client):
    await signup(client, "iris@example.com")
    first = await login(client, "iris@example.com")
    second = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    elsewhere = await login(client, "iris@example.com")
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    for tokens in (first, second):  # the thief's and the user's: the whole login is over
        response = await client.get("/me", headers=bearer(tokens))
        assert response.status_code == 401 and "error" in response.json()
    assert (await client.get("/me", headers=bearer(elsewhere))).status_code == 200


async def test_authentication_reads_the_database_once_per_request(client):
    """Revocation is checked in the caller's lookup itself: no extra query per request."""
    await signup(client, "jack@example.com")
    headers = bearer(await login(client, "jack@example.com"))
    statements: list[tuple[object, str]] = []

    def remember(state: Any) -> None:
        statements.append((state.session, str(state.statement)))

    event.listen(VigilareSession, "do_orm_execute", remember)
    try:
        assert (await client.get("/me", headers=headers)).status_code == 200
    finally:
        event.remove(VigilareSession, "do_orm_execute", remember)
    # The first statement of the request is the lookup: the user and whether its login has ended,
    # together. The handler's own statements follow in the same session (one per request).
    first = statements[0][1]
    assert "FROM users" in first and "refresh_tokens" in first
    assert [sql for _session, sql in statements if "refresh_tokens" in sql] == [first]
    assert {session for session, _sql in statements} == {statements[0][0]}


async def test_profile_rename(client):
    await signup(client, "gina@example.com")
    headers = bearer(await login(client, "gina@example.com"))
    response = await client.patch("/me", json={"name": "Gina Smith"}, headers=headers)
    assert response.status_code == 200 and response.json() == {"name": "Gina Smith"}
    assert (await client.get("/me", headers=headers)).json()["user"]["name"] == "Gina Smith"
    assert (await client.patch("/me", json={"name": ""}, headers=headers)).status_code == 400


@pytest.mark.parametrize(
    "control", ["\r\n", "\n", "\t", "\x00", "\x7f", "\u2028"], ids=["crlf", "lf", "tab", "nul", "del", "ls"]
)
async def test_names_are_a_single_line(client, control):
    name = f"Acme{control}Bcc: evil@attacker.test"
    signed_up = await client.post(
        "/auth/signup", json={"email": "tenant@names.test", "password": DEFAULT_PASSWORD, "name": name}
    )
    assert signed_up.status_code == 400 and signed_up.json()["error"].startswith(
        "name: must be a single line"
    )
    await signup(client, "tenant@names.test", name="Acme")
    headers = bearer(await login(client, "tenant@names.test"))
    renamed = await client.patch("/me", json={"name": name}, headers=headers)
    assert renamed.status_code == 400 and renamed.json()["error"].startswith("name: must be a single line")
    invited = await client.post(
        "/users/invite", json={"email": "new@names.test", "name": name}, headers=headers
    )
    assert invited.status_code == 400 and invited.json()["error"].startswith("name: must be a single line")
    me = (await client.get("/me", headers=headers)).json()
    assert me["user"]["name"] == me["tenant"]["name"] == "Acme"
