"""What runs before a route's guards: the API-wide rate limit, then authentication.

Order matters and is the one clients see: a flood is refused (429) before any token is looked at,
and the caller is known (401 otherwise) before the route's role guard decides (403).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from vigilare.api.state import AppServices
from vigilare.auth.service import (
    authenticate,
    authenticate_read,
    bearer_claims,
    caller_check,
    caller_refused,
    checked_caller,
)
from vigilare.config import Settings
from vigilare.db.reads import TENANT_READ, CheckRefused, supports_tenant_reads, tenant_read
from vigilare.errors import RateLimited

# Load balancers poll these; they must answer even when a client floods the API.
RATE_LIMIT_EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
# Routes marked ``opt={"public": True}`` are served without a token.
PUBLIC = "public"
# Where the authenticated request's session waits for the route (``vigilare.api.deps``).
REQUEST_SESSION = "vigilare.session"
# Routes marked ``opt={TENANT_READ: True}`` only read (the hot listings): on PostgreSQL their
# caller is authenticated, and their page read, in a ``TenantRead`` (``vigilare.db.reads``) that
# waits for the route here instead of a session.
REQUEST_READ = "vigilare.read"
# Routes marked ``opt={"own_rate_limit": True}`` limit themselves, not per client address: the
# push ingest route, which EventBridge calls from AWS's shared addresses for every customer alike,
# limits per account and counts refused keys per client.
OWN_RATE_LIMIT = "own_rate_limit"


def services_of(scope: Scope) -> AppServices:
    found: AppServices = scope["litestar_app"].state["services"]
    return found


def client_address(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> str:
    """The client's address: the peer's, or behind our proxies, the one they saw.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``; whatever
    is further left was written by the client and proves nothing. With ``trusted_proxy_hops``
    proxies of ours, the client is the entry that many places from the right. A shorter list
    did not come through them all, so the peer address is used.
    """
    peer = connection.client.host if connection.client else "unknown"
    if not settings.trust_forwarded_for:
        return peer
    # Every X-Forwarded-For header counts, in order, as one list (RFC 9110 field combination).
    entries = [
        entry.strip()
        for header in connection.headers.getall("x-forwarded-for", [])
        for entry in header.split(",")
    ]
    if len(entries) < settings.trusted_proxy_hops:
        return peer
    return entries[-settings.trusted_proxy_hops] or peer


class RateLimitMiddleware(ASGIMiddleware):
    """A fixed window per client, shared by every API process when Redis is configured."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = OWN_RATE_LIMIT

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        services = services_of(scope)
        limit = services.settings.rate_limit_per_minute
        # The path as ``connection.url.path`` has it, without building the connection for nothing.
        if limit > 0 and scope.get("root_path", "") + scope["path"] not in RATE_LIMIT_EXEMPT:
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
            client = client_address(connection, services.settings)
            count, retry_after = await services.counter.hit(f"api:{client}", 60)
            if count > limit:
                raise RateLimited("rate limit exceeded; slow down", retry_after=retry_after)
        await next_app(scope, receive, send)


def allowed_methods(app: Any, path_template: str) -> list[str]:
    """Every method the route table answers on ``path_template``, OPTIONS included."""
    methods = {"OPTIONS"}
    for route in app.routes:
        if path_template in (route.path, getattr(route, "path_format", None)):
            methods.update(getattr(route, "methods", ()))
    return sorted(methods)


async def answer_options(scope: Scope, send: Send) -> None:
    """204 with ``Allow`` listing every method of the path.

    Litestar's own OPTIONS answer lists only the methods of the controller that registered the path
    first (``/accounts`` answered ``OPTIONS, POST``, without ``GET``); this reads the route table.
    """
    allow = ", ".join(allowed_methods(scope["litestar_app"], scope.get("path_template", scope["path"])))
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 204,
        "headers": [(b"allow", allow.encode()), (b"content-length", b"0")],
    }
    body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
    await send(start)
    await send(body)


class AuthenticationMiddleware(ASGIMiddleware):
    """Authenticates the Bearer id token once per request and sets ``scope["user"]`` to the caller.

    Public routes (``opt={"public": True}``) are let through without a token; OPTIONS is answered
    here, without one (:func:`answer_options`).
    The user is read in the request's own session, scoped to the token's tenant from its first
    statement: the route's ``db_session`` is that session (one connection, one transaction per
    request), and it is closed once the answer has been sent. A ``tenant_read`` route on PostgreSQL
    gets the same checks in a ``TenantRead`` of the token's tenant instead, made in the round trip
    that begins it (``caller_check``), committed once the answer has been sent.
    """

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = PUBLIC

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") == "OPTIONS":
            await answer_options(scope, send)
            return
        services = services_of(scope)
        authorization = ASGIConnection(scope).headers.get("authorization", "")
        route = scope.get("route_handler")
        if route is not None and route.opt.get(TENANT_READ) and supports_tenant_reads(services.engine):
            claims = bearer_claims(services.issuer, authorization)
            # The caller is checked in the round trip that begins the read (``caller_check``).
            check = caller_check(claims)
            try:
                async with tenant_read(services.engine, claims.tenant_id, check=check) as read:
                    scope["user"] = checked_caller(claims) if check else await authenticate_read(read, claims)
                    scope[REQUEST_READ] = read  # type: ignore[literal-required]
                    try:
                        await next_app(scope, receive, send)
                    finally:
                        scope.pop(REQUEST_READ, None)  # type: ignore[misc]
            except CheckRefused as refused:  # raised as the read begins, never by the route
                raise caller_refused(refused) from None
            return
        async with services.session_factory() as session:
            scope["user"] = await authenticate(session, services.issuer, authorization)
            scope[REQUEST_SESSION] = session  # type: ignore[literal-required]
            try:
                await next_app(scope, receive, send)
            finally:
                scope.pop(REQUEST_SESSION, None)  # type: ignore[misc]
