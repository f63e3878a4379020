"""The console's routes, mounted by the app beside the API's: pages under ``/app``, its stylesheet
and script under ``/app/static``, and ``/`` sending a browser to ``/app/``.

Under ``/app`` a request passes the CSRF check (every form carries the token; the API's JSON routes
are outside this router and stay untouched), then the session middleware, then the route's role
guard: the same ``requires_role(...)`` as the API's route for that action.
"""

from __future__ import annotations

from litestar import Router, get
from litestar.config.csrf import CSRFConfig
from litestar.handlers import HTTPRouteHandler
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from vigilare.api.console.account_pages import AccountPages
from vigilare.api.console.alert_pages import AlertPages, AlertRulePages
from vigilare.api.console.auth_pages import HOME, PUBLIC, AuthPages
from vigilare.api.console.pages import STATIC_DIRECTORY
from vigilare.api.console.session import SAME_SITE, ConsoleSessionMiddleware, secure_cookies
from vigilare.api.console.settings_pages import SettingsPages
from vigilare.config import Settings
from vigilare.crypto import derive_key
from vigilare.links import CONSOLE

CSRF_COOKIE = "vigilare_csrf"
CSRF_HEADER = "x-csrf-token"


@get("/", opt=PUBLIC, include_in_schema=False)
async def root() -> Redirect:
    """A browser opening the service's address lands in the console."""
    return Redirect(path=f"{CONSOLE}/", status_code=302)


@get("/", opt=PUBLIC, include_in_schema=False)
async def console_home() -> Redirect:
    return Redirect(path=HOME, status_code=302)


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=derive_key(settings.secret_key, "console-csrf").hex(),
        cookie_name=CSRF_COOKIE,
        cookie_path=CONSOLE,
        header_name=CSRF_HEADER,
        cookie_secure=secure_cookies(settings),
        # The token reaches forms through the page itself; no script needs to read the cookie.
        cookie_httponly=True,
        cookie_samesite=SAME_SITE,
    )


def console_router(settings: Settings) -> Router:
    """A new router per app: a Litestar router can be registered in one app only."""
    return Router(
        path=CONSOLE,
        route_handlers=[console_home, AuthPages, AccountPages, AlertPages, AlertRulePages, SettingsPages],
        middleware=[
            DefineMiddleware(CSRFMiddleware, config=csrf_config(settings)),
            ConsoleSessionMiddleware(),
        ],
        include_in_schema=False,
    )


def console_routes(settings: Settings) -> list[Router | HTTPRouteHandler]:
    static = create_static_files_router(
        path=f"{CONSOLE}/static",
        directories=[STATIC_DIRECTORY],
        opt=PUBLIC,
        include_in_schema=False,
        name="console-static",
    )
    return [root, console_router(settings), static]
