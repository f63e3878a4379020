"""The role table of DESIGN.md for every user-management action, and the owner's protections."""

from __future__ import annotations

import itertools

import pytest

from tests.support.api import bearer, signup
from tests.support.team import add_member

_counter = itertools.count()

ROLES = ["owner", "admin", "member", "viewer"]
# action -> roles allowed to perform it
ALLOWED = {
    "list": {"owner", "admin", "member", "viewer"},
    "invite": {"owner", "admin"},
    "change_role": {"owner"},
    "remove": {"owner", "admin"},
}


async def _victim(client, owner_headers) -> str:
    email = f"victim{next(_counter)}@team.test"
    tokens = await add_member(client, owner_headers, email, "viewer")
    return (await client.get("/me", headers=bearer(tokens))).json()["user"]["user_id"]


@pytest.mark.parametrize(("role", "action"), list(itertools.product(ROLES, ALLOWED)))
async def test_role_table(client, team, role, action):
    headers = team[role]
    if action == "list":
        response = await client.get("/users", headers=headers)
        expected = 200
    elif action == "invite":
        response = await client.post(
            "/users/invite", headers=headers, json={"email": f"new{next(_counter)}@team.test", "name": "New"}
        )
        expected = 201
    elif action == "change_role":
        victim = await _victim(client, team["owner"])
        response = await client.patch(f"/users/{victim}", json={"role": "member"}, headers=headers)
        expected = 200
    else:
        victim = await _victim(client, team["owner"])
        response = await client.delete(f"/users/{victim}", headers=headers)
        expected = 204
    if role in ALLOWED[action]:
        assert response.status_code == expected, response.text
    else:
        assert response.status_code == 403, response.text
        assert "role" in response.json()["error"]


async def test_listing_shows_the_team(client, team):
    body = (await client.get("/users", headers=team["viewer"])).json()
    assert body["total"] == 4
    assert sorted(u["role"] for u in body["users"]) == ["admin", "member", "owner", "viewer"]
    assert {"user_id", "email", "name", "role", "created_at"} <= body["users"][0].keys()


async def test_nobody_removes_themselves_or_the_owner(client, team):
    owner_id = (await client.get("/me", headers=team["owner"])).json()["user"]["user_id"]
    admin_id = (await client.get("/me", headers=team["admin"])).json()["user"]["user_id"]
    for headers, target, reason in (
        (team["owner"], owner_id, "yourself"),
        (team["admin"], admin_id, "yourself"),
        (team["admin"], owner_id, "owner"),
    ):
        response = await client.delete(f"/users/{target}", headers=headers)
        assert response.status_code == 403
        assert reason in response.json()["error"]


async def test_the_owner_role_cannot_change(client, team):
    owner_id = (await client.get("/me", headers=team["owner"])).json()["user"]["user_id"]
    response = await client.patch(f"/users/{owner_id}", json={"role": "admin"}, headers=team["owner"])
    assert response.status_code == 403
    assert "owner" in response.json()["error"]


async def test_roles_are_validated(client, team):
    victim = await _victim(client, team["owner"])
    for role in ("owner", "superuser", ""):
        response = await client.patch(f"/users/{victim}", json={"role": role}, headers=team["owner"])
        assert response.status_code == 400 and "role" in response.json()["error"]
    response = await client.post(
        "/users/invite", json={"email": "x@team.test", "name": "X", "role": "owner"}, headers=team["owner"]
    )
    assert response.status_code == 400 and "role" in response.json()["error"]


async def test_inviting_an_existing_email_is_a_conflict_in_any_tenant(client, team):
    await signup(client, "elsewhere@other.test")
    answers = []
    for email in ("member@team.test", "ELSEWHERE@other.test"):
        response = await client.post(
            "/users/invite", json={"email": email, "name": "Dup"}, headers=team["owner"]
        )
        assert response.status_code == 409
        answers.append(response.json())
    # One refusal for both, which never says that (or where) the address has an account.
    assert answers[0] == answers[1] == {"error": "email: this address cannot be invited"}
    users = (await client.get("/users", headers=team["owner"])).json()["users"]
    assert "elsewhere@other.test" not in {user["email"] for user in users}


async def test_unknown_user_is_404(client, team):
    response = await client.delete("/users/01HZZZZZZZZZZZZZZZZZZZZZZZ", headers=team["owner"])
    assert response.status_code == 404
