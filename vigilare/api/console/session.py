"""Browser sessions: the tokens of a login, kept in HttpOnly cookies.

The console issues exactly the tokens the API issues (``vigilare.auth.service``), so a browser
session has the same lifetime and revocation rules: the id token authenticates each page for an
hour; then the refresh token is exchanged once (rotation) for a new set, and a refresh token
presented twice ends the whole login. Logging out revokes the login's refresh tokens; a role
change or removal ends every session of the user at its next page.

Both cookies are HttpOnly, SameSite=Lax (an emailed link still opens the page logged in; a form
posted from another site arrives without them), limited to ``/app`` and Secure when the public
URL is https.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from vigilare.api.deps import request_transaction
from vigilare.api.middleware import PUBLIC, services_of
from vigilare.api.state import AppServices
from vigilare.auth.roles import Principal
from vigilare.auth.service import authenticate, refresh
from vigilare.auth.tokens import REFRESH_TTL, TokenSet
from vigilare.config import Settings
from vigilare.errors import Unauthorized
from vigilare.links import CONSOLE

ID_COOKIE = "vigilare_session"
REFRESH_COOKIE = "vigilare_refresh"
SAME_SITE: Literal["lax"] = "lax"


class NotLoggedIn(Unauthorized):
    """A console page was asked for without a live session: the browser is sent to the login page."""

    def __init__(self) -> None:
        super().__init__("log in to continue")


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


def _cookie(settings: Settings, key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path=CONSOLE,
        httponly=True,
        secure=secure_cookies(settings),
        samesite=SAME_SITE,
    )


def session_cookies(settings: Settings, tokens: TokenSet) -> list[Cookie]:
    """The cookies that carry a login: the id token for an hour, the refresh token for its 30 days."""
    return [
        _cookie(settings, ID_COOKIE, tokens.id_token, tokens.expires_in),
        _cookie(settings, REFRESH_COOKIE, tokens.refresh_token, int(REFRESH_TTL.total_seconds())),
    ]


def cleared_session_cookies(settings: Settings) -> list[Cookie]:
    return [_cookie(settings, ID_COOKIE, "", 0), _cookie(settings, REFRESH_COOKIE, "", 0)]


async def _principal(services: AppServices, id_token: str) -> Principal | None:
    try:
        async with services.session_factory() as session:
            return await authenticate(session, services.issuer, f"Bearer {id_token}")
    except Unauthorized:
        return None


async def resume_session(
    services: AppServices, cookies: dict[str, str]
) -> tuple[Principal | None, TokenSet | None]:
    """The caller of a console request, and the new tokens when the id token had to be renewed."""
    id_token = cookies.get(ID_COOKIE)
    if id_token:
        principal = await _principal(services, id_token)
        if principal is not None:
            return principal, None
    refresh_token = cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        return None, None
    try:
        # The API's refresh, in a transaction of its own: rotation, reuse detection and revocation
        # are committed whatever the page does next.
        async with request_transaction(services, None) as session:
            tokens = await refresh(session, services.issuer, refresh_token)
    except Unauthorized:
        return None, None
    return await _principal(services, tokens.id_token), tokens


def send_with_cookies(send: Send, cookies: list[Cookie]) -> Send:
    """``send``, adding ``cookies`` to the response's headers."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableScopeHeaders.from_message(message)
            for cookie in cookies:
                headers.add("set-cookie", cookie.to_header(header=""))
        await send(message)

    return wrapped


class ConsoleSessionMiddleware(ASGIMiddleware):
    """Sets ``scope["user"]`` to the caller from the session cookies, renewing them when due.

    The console's counterpart of the API's ``AuthenticationMiddleware``: what runs after it (the
    route's role guard, the tenant-scoped ``db_session``) is the same. Public pages (log in, sign up,
    accept an invitation) are let through without a session.
    """

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = PUBLIC

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        services = services_of(scope)
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        principal, renewed = await resume_session(services, connection.cookies)
        if principal is None:
            raise NotLoggedIn()
        scope["user"] = principal
        if renewed is not None:
            send = send_with_cookies(send, session_cookies(services.settings, renewed))
        await next_app(scope, receive, send)
