"""Route guards and request dependencies, checked over every route the app serves.

Public routes are listed here by hand; every other route must carry exactly one role guard and get
only tenant-scoped sessions. Every API route is refused (403) to each role below its guard's; the
console's routes (under /app, cookie sessions) have the same matrix in tests/console.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.api import bearer, login, signup
from vigilare.api import middleware
from vigilare.api.app import create_app
from vigilare.api.routes import ACCOUNT_PATH
from vigilare.auth.guards import RoleGuard
from vigilare.auth.roles import ADMIN, MEMBER, OWNER, ROLES, VIEWER
from vigilare.config import Settings
from vigilare.db.reads import TENANT_READ
from vigilare.db.tenancy import VigilareSession, scoped_tenant

PUBLIC_ROUTES = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/accept-invite"),
    ("GET", "/billing/plans"),
    ("POST", "/webhooks/stripe"),
    ("POST", "/ingest/aws-events"),
    ("GET", "/webhooks/slack/install"),
    ("GET", "/exports/{export_id:str}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # Prometheus scrapes it; a token setting guards it (tests/api/test_metrics.py).
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    # The docs page's own script and Swagger UI's files from the installed swagger-ui-py.
    ("GET", "/docs/init.js"),
    ("GET", "/docs/assets/{file_path:path}"),
    # The web console: the way in, its stylesheet and script, and the redirects to it.
    ("GET", "/"),
    ("GET", "/app"),
    ("GET", "/app/login"),
    ("POST", "/app/login"),
    ("GET", "/app/signup"),
    ("POST", "/app/signup"),
    ("GET", "/app/accept-invite"),
    ("POST", "/app/accept-invite"),
    ("GET", "/app/static/{file_path:path}"),
}
# What only an authenticated caller's handler may ask for, and what only a public one may.
AUTHENTICATED_ONLY = {"principal", "db_session", "tenant_sessions"}
PUBLIC_ONLY = {"unscoped_db_session", "app_services"}
UNKNOWN_ID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"


def _routes(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path, handler) for every route of ours: not Litestar's /schema pages nor preflights."""
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                yield method, route.path, handler


def _api_routes(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """The API's routes: every route but the console's pages (tests/console checks those)."""
    for method, path, handler in _routes(app):
        if path != "/" and not path.startswith("/app"):
            yield method, path, handler


def _guards(handler: HTTPRouteHandler) -> list[Any]:
    return [guard for layer in handler.ownership_layers for guard in (layer.guards or [])]


def _parameters(handler: HTTPRouteHandler) -> list[str]:
    return [name for name in inspect.signature(handler.fn).parameters if name != "self"]


def _minimum(handler: HTTPRouteHandler) -> str:
    guards = _guards(handler)
    assert len(guards) == 1 and isinstance(guards[0], RoleGuard), (handler.paths, guards)
    return guards[0].minimum


def _guarded(app: Litestar) -> list[tuple[str, str, str]]:
    """(method, path, minimum role) of every authenticated API route."""
    return sorted(
        (method, path, _minimum(handler))
        for method, path, handler in _api_routes(app)
        if (method, path) not in PUBLIC_ROUTES
    )


def _url(path: str) -> str:
    for name in ("account_id", "scan_id", "user_id", "rule_id", "alert_id"):
        path = path.replace(f"{{{name}:str}}", UNKNOWN_ID)
    assert "{" not in path, path
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    data = tmp_path_factory.mktemp("guards")
    return create_app(Settings.from_env({}, secret_key="test-secret-key-" + "x" * 32, data_dir=str(data)))


def test_every_route_is_public_by_list_or_carries_exactly_one_role_guard(app):
    seen_public = set()
    for method, path, handler in _routes(app):
        guards = _guards(handler)
        if (method, path) in PUBLIC_ROUTES:
            seen_public.add((method, path))
            assert handler.opt.get("public") is True, (method, path)
            assert guards == [], (method, path)
        else:
            assert not handler.opt.get("public"), f"{method} {path} is public but not listed as such"
            assert len(guards) == 1 and isinstance(guards[0], RoleGuard), (method, path, guards)
            assert guards[0].minimum in ROLES
    assert seen_public == PUBLIC_ROUTES


def test_handlers_declare_the_session_of_their_kind(app):
    for method, path, handler in _routes(app):
        declared = set(_parameters(handler))
        if (method, path) in PUBLIC_ROUTES:
            assert not declared & AUTHENTICATED_ONLY, (method, path, declared)
        else:
            assert not declared & PUBLIC_ONLY, (method, path, declared)


def test_handlers_use_every_parameter_they_declare(app):
    for method, path, handler in _routes(app):
        source = textwrap.dedent(inspect.getsource(handler.fn))
        function = ast.parse(source).body[0]
        assert isinstance(function, ast.AsyncFunctionDef | ast.FunctionDef)
        used = {
            node.id
            for statement in function.body
            for node in ast.walk(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        unused = set(_parameters(handler)) - used
        assert not unused, f"{method} {path} declares {sorted(unused)} without using them"


async def test_a_public_route_asking_for_the_scoped_session_fails_closed(client):
    ran = []

    @get("/probe-public-session", opt={"public": True})
    async def probe(db_session: NamedDependency[AsyncSession]) -> str:
        ran.append(db_session)
        return "unscoped"

    client.app.register(probe)
    response = await client.get("/probe-public-session")
    assert response.status_code == 500 and ran == []


class _RecordingFactory:
    """Stands in for the API's session factory: remembers every session a request opened."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.sessions: list[AsyncSession] = []

    def __call__(self, **kwargs: Any) -> AsyncSession:
        session = self.factory(**kwargs)
        self.sessions.append(session)
        return session


async def test_every_query_of_an_authenticated_request_is_tenant_scoped(client, monkeypatch):
    tenant_id = (await signup(client, "scoped@tenant.test"))["tenant_id"]
    headers = bearer(await login(client, "scoped@tenant.test"))
    services = client.app.state["services"]
    recording = _RecordingFactory(services.session_factory)
    services.session_factory = recording  # jobs keep their own reference: only requests are recorded
    executed: list[tuple[Any, str | None]] = []
    # The hot listings (TENANT_READ) read in a TenantRead instead, on PostgreSQL: whose, recorded here.
    reads: list[str] = []
    opened_read = middleware.tenant_read

    @asynccontextmanager
    async def recorded_read(engine: Any, read_tenant: str, *, check: str | None = None) -> AsyncIterator[Any]:
        reads.append(read_tenant)
        # The caller is checked where the read begins (the database function of migration 0014).
        assert check is not None and check.startswith("SELECT vigilare_check_caller(")
        async with opened_read(engine, read_tenant, check=check) as read:
            yield read

    monkeypatch.setattr(middleware, "tenant_read", recorded_read)

    def remember(state: Any) -> None:
        executed.append((state.session, scoped_tenant(state.session)))

    event.listen(VigilareSession, "do_orm_execute", remember)
    try:
        # Logging out ends the caller's login for the routes after it: it goes last.
        routes = sorted(_api_routes(client.app), key=lambda route: route[:2] == ("POST", "/auth/logout"))
        tenant_reads = 0
        for method, path, handler in routes:
            if (method, path) in PUBLIC_ROUTES:
                continue
            recording.sessions.clear()
            executed.clear()
            reads.clear()
            response = await client.request(method, _url(path), headers=headers, json={})
            assert response.status_code != 500, (method, path, response.text)
            if handler.opt.get(TENANT_READ):
                # One read, of the caller's tenant, and no session at all.
                assert reads == [tenant_id] and not recording.sessions, (method, path, reads)
                tenant_reads += 1
                continue
            assert not reads, (method, path)
            opened = {session.sync_session for session in recording.sessions}
            # The caller's lookup opens the request's session; the handler's db_session is that one.
            assert len(opened) >= 1, (method, path)
            assert all(scoped_tenant(session) == tenant_id for session in opened), (method, path)
            ours = [tenant for session, tenant in executed if session in opened]
            assert ours and set(ours) == {tenant_id}, (method, path, ours)
        assert tenant_reads == 3  # the signals, accounts and alerts listings
    finally:
        event.remove(VigilareSession, "do_orm_execute", remember)
        services.session_factory = recording.factory


async def test_each_route_refuses_every_role_below_its_guard(client, team):
    checked = 0
    for (method, path, minimum), role in itertools.product(_guarded(client.app), ROLES):
        if ROLES.index(role) >= ROLES.index(minimum):
            continue
        response = await client.request(method, _url(path), headers=team[role], json={})
        assert response.status_code == 403, (method, path, role, response.text)
        assert response.json() == {
            "error": f"this action requires the {minimum} role or higher (you are {role})"
        }, (method, path, role)
        checked += 1
    assert checked >= 20


async def test_each_route_lets_its_guards_role_and_above_through(client, team):
    for method, path, minimum in _guarded(client.app):
        if (method, path) == ("POST", "/auth/logout"):
            continue  # would end the caller's login for the routes after it
        for role in ROLES[ROLES.index(minimum) :]:
            response = await client.request(method, _url(path), headers=team[role], json={})
            refused_by_role = response.status_code == 403 and "role or higher" in response.json()["error"]
            assert not refused_by_role, (method, path, role, response.text)
            assert response.status_code != 500, (method, path, role, response.text)


def test_guards_follow_the_role_table_of_the_design(app):
    """DESIGN.md, Roles: what each role may do beyond reading; every other route is the viewer's."""
    beyond_reading = {
        ("POST", "/accounts/{account_id:str}/scan"): MEMBER,
        ("POST", "/alerts/{alert_id:str}/ack"): MEMBER,
        ("GET", "/accounts/{account_id:str}/export"): MEMBER,
        ("POST", "/accounts/{account_id:str}/panic"): MEMBER,
        ("POST", "/accounts"): ADMIN,
        ("POST", "/accounts/{account_id:str}/verify"): ADMIN,
        ("POST", "/accounts/{account_id:str}/push-setup"): ADMIN,  # connecting the account's events
        ("DELETE", "/accounts/{account_id:str}"): ADMIN,
        ("POST", "/alert-rules"): ADMIN,
        ("PATCH", "/alert-rules/{rule_id:str}"): ADMIN,
        ("DELETE", "/alert-rules/{rule_id:str}"): ADMIN,
        ("GET", "/integrations/slack/oauth-start"): ADMIN,
        ("POST", "/users/invite"): ADMIN,
        ("DELETE", "/users/{user_id:str}"): ADMIN,
        ("PATCH", "/users/{user_id:str}"): OWNER,
        ("POST", "/billing/checkout"): OWNER,
        ("GET", "/billing/portal"): OWNER,
    }
    guarded = {(method, path): minimum for method, path, minimum in _guarded(app)}
    assert beyond_reading.keys() <= guarded.keys()
    for route, minimum in guarded.items():
        assert minimum == beyond_reading.get(route, VIEWER), route
    # A viewer changes nothing but its own profile and login.
    viewer_writes = {route for route, minimum in guarded.items() if minimum == VIEWER and route[0] != "GET"}
    assert viewer_writes == {("PATCH", "/me"), ("POST", "/auth/logout")}


def test_everything_under_an_account_is_mounted_by_one_router(app):
    """Where /accounts/{account_id}/... is handled: the one router of ``vigilare.api.routes``."""
    owners = set()
    for _method, path, handler in _routes(app):
        if path.startswith(ACCOUNT_PATH):
            mounting = [
                layer for layer in handler.ownership_layers if getattr(layer, "path", None) == ACCOUNT_PATH
            ]
            assert len(mounting) == 1, path
            owners.add(id(mounting[0]))
            owning_domain = handler.fn.__module__.split(".")[1]
            assert owning_domain in {"accounts", "scans", "scoring", "exports", "ingest"}, path
    assert len(owners) == 1


async def test_the_rate_limit_comes_before_authentication_and_the_guard(settings):
    limited = msgspec.structs.replace(settings, rate_limit_per_minute=2)
    async with AsyncTestClient(app=create_app(limited)) as client:
        statuses = [(await client.get("/me")).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
