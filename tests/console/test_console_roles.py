"""Each console page and action is guarded by the API's role for the same action, refused with the
API's words to every role below it, and runs only tenant-scoped queries."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import event

from tests.support.api import bearer, login, signup
from tests.support.console import csrf_token, log_in_as, text_of
from tests.support.team import add_member
from vigilare.auth.guards import RoleGuard
from vigilare.auth.roles import ROLES, VIEWER
from vigilare.db.tenancy import CROSS_TENANT_KEY, VigilareSession, scoped_tenant

UNKNOWN_ID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
ACCOUNT = "123456789012"
ACCOUNT_PATH = "/accounts/{account_id:str}"
# The API route of each console action: the console must require the same role.
SAME_AS_API = {
    ("POST", "/app/logout"): ("POST", "/auth/logout"),
    ("GET", "/app/accounts/connect"): ("POST", "/accounts"),
    ("POST", "/app/accounts/connect"): ("POST", "/accounts"),
    ("GET", "/app/accounts/{aws_account_id:str}/setup"): ("POST", f"{ACCOUNT_PATH}/verify"),
    ("POST", "/app/accounts/{aws_account_id:str}/verify"): ("POST", f"{ACCOUNT_PATH}/verify"),
    ("POST", "/app/accounts/{aws_account_id:str}/disconnect"): ("DELETE", ACCOUNT_PATH),
    ("POST", "/app/accounts/{aws_account_id:str}/scan"): ("POST", f"{ACCOUNT_PATH}/scan"),
    ("GET", "/app/accounts/{aws_account_id:str}/signals.csv"): ("GET", f"{ACCOUNT_PATH}/export"),
    ("POST", "/app/accounts/{aws_account_id:str}/panic"): ("POST", f"{ACCOUNT_PATH}/panic"),
    ("POST", "/app/alerts/{alert_id:str}/ack"): ("POST", "/alerts/{alert_id:str}/ack"),
    ("GET", "/app/alert-rules/new"): ("POST", "/alert-rules"),
    ("POST", "/app/alert-rules/new"): ("POST", "/alert-rules"),
    ("GET", "/app/alert-rules/{rule_id:str}"): ("PATCH", "/alert-rules/{rule_id:str}"),
    ("POST", "/app/alert-rules/{rule_id:str}"): ("PATCH", "/alert-rules/{rule_id:str}"),
    ("POST", "/app/alert-rules/{rule_id:str}/enabled"): ("PATCH", "/alert-rules/{rule_id:str}"),
    ("POST", "/app/alert-rules/{rule_id:str}/delete"): ("DELETE", "/alert-rules/{rule_id:str}"),
    ("POST", "/app/settings/integrations/slack"): ("GET", "/integrations/slack/oauth-start"),
    ("POST", "/app/settings/team/invite"): ("POST", "/users/invite"),
    ("POST", "/app/settings/team/{user_id:str}/role"): ("PATCH", "/users/{user_id:str}"),
    ("POST", "/app/settings/team/{user_id:str}/remove"): ("DELETE", "/users/{user_id:str}"),
    ("POST", "/app/settings/billing/checkout"): ("POST", "/billing/checkout"),
    ("POST", "/app/settings/billing/portal"): ("GET", "/billing/portal"),
}


def _minimums(app: Litestar) -> dict[tuple[str, str], str]:
    """(method, path) -> the role its guard requires, for every guarded route of the app."""
    found = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
            if guards and isinstance(guards[0], RoleGuard):
                for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                    found[(method, route.path)] = guards[0].minimum
    return found


def _console_routes(app: Litestar) -> list[tuple[str, str, str]]:
    return sorted((m, p, role) for (m, p), role in _minimums(app).items() if p.startswith("/app"))


def _url(path: str) -> str:
    path = path.replace("{aws_account_id:str}", ACCOUNT)
    for name in ("scan_id", "user_id", "rule_id", "alert_id"):
        path = path.replace(f"{{{name}:str}}", UNKNOWN_ID)
    assert "{" not in path, path
    return path


def test_every_console_action_requires_the_role_the_api_requires_for_it(console):
    minimums = _minimums(console.app)
    console_routes = _console_routes(console.app)
    assert len(console_routes) >= 30
    for method, path, minimum in console_routes:
        api_route = SAME_AS_API.get((method, path))
        if api_route is None:
            assert method == "GET" and minimum == VIEWER, f"{method} {path}: a read, for every role"
        else:
            assert minimum == minimums[api_route], (method, path, api_route)
    assert SAME_AS_API.keys() <= {(m, p) for m, p, _ in console_routes}


async def test_every_console_route_sends_a_browser_without_a_session_to_log_in(console):
    token = await csrf_token(console, "/app/login")
    for method, path, _minimum in _console_routes(console.app):
        if method == "GET":
            response = await console.get(_url(path), follow_redirects=False)
            expected = "/app/login?next=" + quote(_url(path), safe="")
        else:
            response = await console.post(_url(path), data={"_csrf_token": token}, follow_redirects=False)
            expected = "/app/login"
        assert (response.status_code, response.headers["location"]) == (303, expected), (method, path)


@pytest.fixture
async def browser_sessions(console) -> dict[str, httpx.Cookies]:
    """A browser session (cookies) for each role of one tenant."""
    await signup(console, "owner@roles.test")
    owner = bearer(await login(console, "owner@roles.test"))
    for role in ("admin", "member", "viewer"):
        await add_member(console, owner, f"{role}@roles.test", role)
    return {role: await log_in_as(console, f"{role}@roles.test") for role in ROLES}


async def _request(console: Any, cookies: httpx.Cookies, method: str, path: str) -> Any:
    console.cookies = httpx.Cookies(cookies)
    if method == "GET":
        return await console.get(_url(path), follow_redirects=False)
    token = await csrf_token(console, "/app/accounts")
    return await console.post(_url(path), data={"_csrf_token": token}, follow_redirects=False)


async def test_each_console_route_refuses_every_role_below_its_guard_with_the_apis_words(
    console, browser_sessions
):
    checked = 0
    for (method, path, minimum), role in itertools.product(_console_routes(console.app), ROLES):
        if ROLES.index(role) >= ROLES.index(minimum):
            continue
        response = await _request(console, browser_sessions[role], method, path)
        assert response.status_code == 403, (method, path, role, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        said = text_of(response.text)
        assert f"this action requires the {minimum} role or higher (you are {role})" in said, (method, path)
        checked += 1
    assert checked >= 40


async def test_each_console_route_lets_its_role_and_above_through(console, browser_sessions):
    for method, path, minimum in _console_routes(console.app):
        if path == "/app/logout":
            continue  # would end the session the routes after it use
        for role in ROLES[ROLES.index(minimum) :]:
            response = await _request(console, browser_sessions[role], method, path)
            assert response.status_code < 500, (method, path, role, response.text[:300])
            refused = response.status_code == 403 and "role or higher" in text_of(response.text)
            assert not refused, (method, path, role)
            assert not (response.status_code == 303 and "/app/login" in response.headers["location"])


async def test_pages_show_only_the_buttons_of_the_callers_role(console, browser_sessions):
    console.cookies = httpx.Cookies(browser_sessions["viewer"])
    viewer_pages = " ".join(
        [(await console.get(p)).text for p in ("/app/accounts", "/app/alert-rules", "/app/settings/team")]
    )
    for hidden in ("Connect an account", "New alert rule", "Invite a teammate", "Change role", ">Remove<"):
        assert hidden not in viewer_pages, hidden
    console.cookies = httpx.Cookies(browser_sessions["admin"])
    admin_team = (await console.get("/app/settings/team")).text
    assert "Invite a teammate" in admin_team and ">Remove<" in admin_team and "Change role" not in admin_team
    console.cookies = httpx.Cookies(browser_sessions["owner"])
    owner_team = (await console.get("/app/settings/team")).text
    assert "Change role" in owner_team


async def test_every_query_of_a_console_page_is_tenant_scoped(console, browser_sessions):
    me = (await console.get("/me", headers=bearer(await login(console, "viewer@roles.test")))).json()
    tenant_id = me["tenant"]["tenant_id"]
    executed: list[str | None] = []

    def remember(state: Any) -> None:
        # The app runs its jobs in process, periodic ones included (outbox relay, recovery sweeps), on
        # the explicit cross-tenant path, at any moment: they are not the page's. Which modules may open
        # that path at all is pinned by tests/db/test_row_level_security.py.
        if not state.session.info.get(CROSS_TENANT_KEY):
            executed.append(scoped_tenant(state.session))

    event.listen(VigilareSession, "do_orm_execute", remember)
    try:
        for method, path, _minimum in _console_routes(console.app):
            if method != "GET":
                continue
            executed.clear()
            response = await _request(console, browser_sessions["owner"], method, path)
            assert response.status_code < 500, (path, response.text[:300])
            assert executed and set(executed) == {tenant_id}, (path, set(executed))
    finally:
        event.remove(VigilareSession, "do_orm_execute", remember)
