"""The hot listings authenticate in their own read (``vigilare.db.reads``) and refuse what every route
refuses: a logged-out or revoked login, a removed user, a changed role, a forged or expired token.

``GET /accounts``, ``GET /accounts/{id}/signals`` and ``GET /alerts`` read through a ``TenantRead``
on PostgreSQL, not the ORM session the other routes use; each check here runs on all three, and
both ways a listing checks its caller: in the round trip that begins its read (``caller_check``, the
database function of migration 0014), and in a statement of its own (the way taken for ids that are
not safe as SQL literals).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.auth.test_auth_tokens import _forgeries
from tests.support.api import bearer, login, signup
from tests.support.team import add_member
from vigilare.api import middleware
from vigilare.auth import tokens as tokens_module

LISTINGS = ("/accounts", "/accounts/123456789012/signals", "/alerts")


@pytest.fixture(autouse=True, params=["checked as the read begins", "checked in its own statement"])
def caller_path(request: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "checked in its own statement":
        monkeypatch.setattr(middleware, "caller_check", lambda _claims: None)


async def _answers(client: Any, headers: dict[str, str]) -> list[tuple[int, Any]]:
    answers = []
    for path in LISTINGS:
        response = await client.get(path, headers=headers)
        answers.append((response.status_code, response.json()))
    return answers


async def _with_account(client: Any, email: str) -> dict[str, Any]:
    await signup(client, email)
    tokens = await login(client, email)
    created = await client.post("/accounts", headers=bearer(tokens), json={"aws_account_id": "123456789012"})
    assert created.status_code == 201, created.text
    return tokens


async def test_the_listings_answer_a_current_login(client):
    tokens = await _with_account(client, "lena@example.com")
    statuses = [status for status, _body in await _answers(client, bearer(tokens))]
    assert statuses == [200, 200, 200]


async def test_logout_ends_the_listings_for_that_login_on_the_next_request(client):
    tokens = await _with_account(client, "olga@example.com")
    elsewhere = await login(client, "olga@example.com")
    assert [s for s, _ in await _answers(client, bearer(tokens))] == [200, 200, 200]
    assert (await client.post("/auth/logout", headers=bearer(tokens))).status_code == 200
    ended = {"error": "this login has ended (logged out or revoked); log in again"}
    assert await _answers(client, bearer(tokens)) == [(401, ended)] * 3
    assert [s for s, _ in await _answers(client, bearer(elsewhere))] == [200, 200, 200]


async def test_refresh_token_reuse_ends_the_listings_for_the_whole_login(client):
    first = await _with_account(client, "petra@example.com")
    second = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert [s for s, _ in await _answers(client, bearer(second))] == [200, 200, 200]
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    for tokens in (first, second):
        assert [s for s, _ in await _answers(client, bearer(tokens))] == [401, 401, 401]


async def test_a_removed_user_or_a_changed_role_ends_the_listings(client):
    owner_tokens = await _with_account(client, "quinn@example.com")
    owner = bearer(owner_tokens)
    leaver = await add_member(client, owner, "leaver@example.com", "viewer")
    mover = await add_member(client, owner, "mover@example.com", "viewer")
    for member in (leaver, mover):
        assert [s for s, _ in await _answers(client, bearer(member))] == [200, 200, 200]
    leaver_id = (await client.get("/me", headers=bearer(leaver))).json()["user"]["user_id"]
    mover_id = (await client.get("/me", headers=bearer(mover))).json()["user"]["user_id"]
    assert (await client.delete(f"/users/{leaver_id}", headers=owner)).status_code == 204
    assert (
        await client.patch(f"/users/{mover_id}", json={"role": "member"}, headers=owner)
    ).status_code == 200
    stale = {"error": "token no longer valid"}
    assert await _answers(client, bearer(leaver)) == [(401, stale)] * 3
    assert await _answers(client, bearer(mover)) == [(401, stale)] * 3


@pytest.mark.parametrize(
    "forgery",
    ["alg none", "other algorithm", "bad signature", "other key", "expired", "wrong audience", "no expiry"],
)
async def test_forged_tokens_are_refused_even_after_the_genuine_one_was_verified(client, settings, forgery):
    tokens = await _with_account(client, "rosa@example.com")
    assert [s for s, _ in await _answers(client, bearer(tokens))] == [200, 200, 200]  # verified, kept
    forged = _forgeries(tokens["id_token"], settings.secret_key)[forgery]
    assert [s for s, _ in await _answers(client, {"Authorization": f"Bearer {forged}"})] == [401] * 3


async def test_a_verified_token_is_refused_once_it_expires(client, monkeypatch):
    tokens = await _with_account(client, "sara@example.com")
    assert [s for s, _ in await _answers(client, bearer(tokens))] == [200, 200, 200]
    in_two_hours = time.time() + 2 * 3600
    monkeypatch.setattr(tokens_module, "unix_now", lambda: in_two_hours)
    monkeypatch.setattr("jwt.api_jwt.datetime", _Clock(in_two_hours))
    assert await _answers(client, bearer(tokens)) == [(401, {"error": "token expired"})] * 3


async def test_no_token_or_a_malformed_header_is_refused_like_everywhere(client):
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        me = await client.get("/me", headers=headers)
        assert await _answers(client, headers) == [(401, me.json())] * 3


class _Clock:
    """``jwt.api_jwt.datetime`` at a fixed time: PyJWT's own expiry check sees the future too."""

    def __init__(self, at: float) -> None:
        import datetime as real

        self._real = real.datetime
        self._at = real.datetime.fromtimestamp(at, tz=real.UTC)

    def now(self, tz: Any = None) -> Any:
        return self._at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_a_listings_caller_is_not_handed_to_handlers() -> None:
    """A caller checked where the read began carries its role and ids only (``checked_caller``: no
    email or name): the ``principal`` dependency refuses it, so no handler can read the blanks."""
    from litestar import Request

    from vigilare.api.deps import provide_principal
    from vigilare.api.middleware import REQUEST_READ
    from vigilare.auth.service import checked_caller
    from vigilare.auth.tokens import Claims

    claims = Claims(user_id="U1", tenant_id="T1", role="viewer", token_version=1, family_id="F1", jti="J1")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "root_path": "",
        "path": "/alerts",
        "query_string": b"",
        "headers": [],
        "user": checked_caller(claims),
    }
    assert await provide_principal(Request(scope)) == checked_caller(claims)  # type: ignore[arg-type]
    scope[REQUEST_READ] = object()
    with pytest.raises(RuntimeError, match="listing"):
        await provide_principal(Request(scope))  # type: ignore[arg-type]
