"""Errors in the console are pages: what went wrong and what to do, never a trace or raw JSON.

A request without a live session goes to the login page (and comes back after it); a refusal keeps
the API's status code and says the API's reason; anything unexpected is logged and answered with
a 500 page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException

from vigilare.api.console.pages import PageAnswer, redirect, render, settings_of
from vigilare.api.console.session import cleared_session_cookies
from vigilare.api.errors import OUTAGE_RETRY_AFTER
from vigilare.errors import VigilareError
from vigilare.links import CONSOLE
from vigilare.outages import unavailable_dependency

logger = logging.getLogger("vigilare.api.console")

# Routes outside /app that browsers land on (the Slack install callback): opt={BROWSER_LANDING: True}.
BROWSER_LANDING = "browser_landing"

_TITLES = {
    400: "That request could not be used",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not available here",
    409: "Not possible right now",
    422: "That did not work",
    429: "Slow down",
    503: "Temporarily unavailable",
}
_ADVICE = {
    400: "Go back, check what you entered and try again.",
    403: "If you need this, ask an admin or the owner of your team.",
    404: "Check the address, or start again from your accounts.",
    405: "Use the buttons on the page rather than typing the address.",
    409: "Reload the page to see the current state, then try again.",
    429: "Wait a moment, then try again.",
    503: "Try again in a few minutes.",
}


def is_console_path(path: str) -> bool:
    return path == CONSOLE or path.startswith(f"{CONSOLE}/")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A console request, or a browser on a route it lands on from elsewhere (Slack's redirect)."""
    if is_console_path(request.url.path):
        return True
    handler = request.scope.get("route_handler")
    landing = handler is not None and bool(handler.opt.get(BROWSER_LANDING))
    return landing and "text/html" in request.headers.get("accept", "")


def _status_and_message(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, VigilareError):
        return exc.status_code, exc.message
    if isinstance(exc, PermissionDeniedException) and "CSRF" in (exc.detail or ""):
        return 403, (
            "This form could not be accepted: it expired, or it was sent from another site. "
            "Reload the page and submit it again."
        )
    if isinstance(exc, HTTPException):
        status = exc.status_code
        if status == 404:
            return 404, "There is no page at this address."
        if status == 405:
            return 405, "This address does not answer that kind of request."
        if status >= 500:
            return status, "Something went wrong on our side."
        return status, exc.detail or _TITLES.get(status, "That request could not be used")
    reason = unavailable_dependency(exc)
    if reason is not None:
        return 503, reason[0].upper() + reason[1:] + "."
    return 500, "Something went wrong on our side."


def login_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """To the login page, coming back to this page afterwards (for a page, not a form's action)."""
    target = "/login"
    if request.method == "GET" and is_console_path(request.url.path):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"/login?next={quote(here, safe='')}"
    return redirect(request, target, cookies=cleared_session_cookies(settings_of(request)))


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, PageAnswer):
        return exc.response
    if isinstance(exc, NotAuthorizedException) or (isinstance(exc, VigilareError) and exc.status_code == 401):
        return login_redirect(request)
    status, message = _status_and_message(exc)
    if status == 503 and not isinstance(exc, VigilareError | HTTPException):
        logger.warning("%s %s answered 503: %r", request.method, request.url.path, exc)
    elif status >= 500:
        logger.error("error on %s %s", request.method, request.url.path, exc_info=exc)
    advice = _ADVICE.get(status, "Try again in a minute. If it keeps happening, contact support.")
    headers = {}
    retry_after = getattr(exc, "headers", None) or {}
    if isinstance(retry_after, dict) and "Retry-After" in retry_after:
        headers["Retry-After"] = retry_after["Retry-After"]
    elif status == 503:
        headers["Retry-After"] = OUTAGE_RETRY_AFTER
    page = render(
        request,
        "error.html",
        status_code=status,
        title=_TITLES.get(status, "Something went wrong"),
        message=message,
        advice=advice,
        status=status,
    )
    page.headers.update(headers)
    return page


Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def pages_for_browsers(handlers: dict[Any, Handler]) -> dict[Any, Handler]:
    """The app's exception handlers, answering console and browser-landing requests with pages."""

    def wrap(api_handler: Handler) -> Handler:
        def handle(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
            if wants_page(request):
                return error_page(request, exc)
            return api_handler(request, exc)

        return handle

    return {key: wrap(handler) for key, handler in handlers.items()}
