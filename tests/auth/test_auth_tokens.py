"""Only a valid id token of a current user is accepted as the Bearer credential."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from tests.support.api import bearer, login, signup
from vigilare.crypto import derive_key
from vigilare.ids import utcnow


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _resign(claims: dict, key: bytes, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.fixture
async def tokens(client):
    await signup(client, "tess@example.com")
    return await login(client, "tess@example.com")


async def test_the_id_token_is_accepted(client, tokens):
    assert (await client.get("/me", headers=bearer(tokens))).status_code == 200
    claims = _claims(tokens["id_token"])
    assert {"iss", "aud", "exp", "jti", "sub", "tenant_id", "role", "token_use"} <= claims.keys()
    assert claims["token_use"] == "id"


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_other_tokens_are_not_bearer_credentials(client, tokens, kind):
    response = await client.get("/me", headers={"Authorization": f"Bearer {tokens[kind]}"})
    assert response.status_code == 401
    assert "error" in response.json()


async def test_missing_or_malformed_header_is_401(client):
    for header in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer x.y.z"},
    ):
        assert (await client.get("/me", headers=header)).status_code == 401


def _forgeries(token: str, secret: str) -> dict[str, str]:
    claims = _claims(token)
    key = derive_key(secret, "jwt-v1")
    header, payload, _signature = token.split(".")
    unsigned = jwt.encode(claims, None, algorithm="none")
    none_header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    return {
        "alg none": unsigned,
        "alg none, original payload": f"{none_header}.{payload}.",
        "other algorithm": _resign(claims, key, "HS512"),
        "bad signature": f"{header}.{payload}.{'A' * 43}",
        "other key": _resign(claims, b"k" * 32),
        "expired": _resign({**claims, "exp": utcnow() - timedelta(seconds=5)}, key),
        "wrong audience": _resign({**claims, "aud": "someone-else"}, key),
        "wrong issuer": _resign({**claims, "iss": "evil"}, key),
        "no expiry": _resign({k: v for k, v in claims.items() if k != "exp"}, key),
    }


@pytest.mark.parametrize(
    "forgery",
    [
        "alg none",
        "alg none, original payload",
        "other algorithm",
        "bad signature",
        "other key",
        "expired",
        "wrong audience",
        "wrong issuer",
        "no expiry",
    ],
)
async def test_forged_or_stale_tokens_are_rejected(client, settings, tokens, forgery):
    token = _forgeries(tokens["id_token"], settings.secret_key)[forgery]
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, forgery


async def test_a_removed_users_token_is_rejected(client):
    await signup(client, "boss@example.com")
    owner = bearer(await login(client, "boss@example.com"))
    from tests.support.team import add_member

    member_tokens = await add_member(client, owner, "leaver@example.com", "member")
    assert (await client.get("/me", headers=bearer(member_tokens))).status_code == 200
    user_id = (await client.get("/me", headers=bearer(member_tokens))).json()["user"]["user_id"]
    assert (await client.delete(f"/users/{user_id}", headers=owner)).status_code == 204
    assert (await client.get("/me", headers=bearer(member_tokens))).status_code == 401
    refreshed = await client.post("/auth/refresh", json={"refresh_token": member_tokens["refresh_token"]})
    assert refreshed.status_code == 401


async def test_a_role_change_invalidates_tokens(client):
    await signup(client, "chief@example.com")
    owner = bearer(await login(client, "chief@example.com"))
    from tests.support.team import add_member

    member_tokens = await add_member(client, owner, "mover@example.com", "member")
    me = (await client.get("/me", headers=bearer(member_tokens))).json()
    changed = await client.patch(f"/users/{me['user']['user_id']}", json={"role": "admin"}, headers=owner)
    assert changed.status_code == 200 and changed.json()["role"] == "admin"
    assert (await client.get("/me", headers=bearer(member_tokens))).status_code == 401
    assert (
        await client.post("/auth/refresh", json={"refresh_token": member_tokens["refresh_token"]})
    ).status_code == 401
    fresh = await login(client, "mover@example.com")
    assert (await client.get("/me", headers=bearer(fresh))).json()["user"]["role"] == "admin"
