"""HTTP metrics and the API's ``/metrics``.

Requests are counted by route *template* (``/accounts/{account_id:str}/scans``), never by raw path:
the label's values are the routes the app has, whatever paths clients send. A request that matches
no route counts as ``(unmatched)``.

``/metrics`` is served on the API's port. With ``VIGILARE_METRICS_TOKEN`` set it needs
``Authorization: Bearer <token>`` (401 otherwise); without a token it is open in development and
not served in production (404), where the token is how Prometheus scrapes it. It holds no tenant
data either way (see ``vigilare.metrics``).
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from vigilare import metrics
from vigilare.api.errors import error_response
from vigilare.api.state import AppServices

UNMATCHED = "(unmatched)"


class HttpMetricsMiddleware(ASGIMiddleware):
    """Counts each routed request by method, route template and status, and times it."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        status = 500

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await next_app(scope, receive, send_counting)
        except Exception as exc:
            # The error handler outside this middleware answers; the status is the error's.
            status = int(getattr(exc, "status_code", 500))
            raise
        finally:
            route = scope.get("path_template") or UNMATCHED
            metrics.HTTP_REQUESTS.labels(scope.get("method", ""), route, str(status)).inc()
            metrics.HTTP_DURATION.labels(route).observe(time.perf_counter() - started)


async def count_unrouted(exc: Exception, scope: Scope) -> None:
    """``after_exception`` hook: a request no route matched (404, 405) never reaches middleware."""
    if scope.get("type") != ScopeType.HTTP or scope.get("route_handler") is not None:
        return
    status = int(getattr(exc, "status_code", 500))
    metrics.HTTP_REQUESTS.labels(scope.get("method", ""), UNMATCHED, str(status)).inc()


@get("/metrics", tags=["Operations"], opt={"public": True}, include_in_schema=False)
async def metrics_endpoint(
    request: Request[Any, Any, Any], app_services: NamedDependency[AppServices]
) -> Response[Any]:
    settings = app_services.settings
    token = settings.metrics_token
    if not token and settings.env == "production":
        return error_response(404, "not found")
    if not metrics.token_matches(request.headers.get("authorization"), token):
        return error_response(401, "a valid metrics token is required")
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
