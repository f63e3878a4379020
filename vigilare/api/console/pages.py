"""Rendering console pages: the template engine, the context every page gets, redirects with a message.

Handlers answer with :func:`render` or :func:`redirect`. When a service refuses an action, the
handler raises :class:`PageAnswer` (through :func:`back_on_error` or :func:`form_error`): the
request's transaction is rolled back exactly as for the API, then the page says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig

from vigilare.api.console.charts import history_chart, risk_class, sparkline
from vigilare.api.console.flash import FLASH_COOKIE, Kind, cleared_flash_cookie, flash_cookie, read_flash
from vigilare.api.middleware import services_of
from vigilare.auth.roles import ROLES, Principal, role_at_least
from vigilare.config import Settings
from vigilare.errors import NotFound, VigilareError
from vigilare.ids import isoformat
from vigilare.links import CONSOLE
from vigilare.plugin.model import Severity

STATIC_DIRECTORY = Path(__file__).parent / "static"


class PageAnswer(Exception):
    """Ends a console request with ``response`` once its transaction has been rolled back."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__("console page answer")
        self.response = response


def format_time(value: datetime | None) -> str:
    """``22 May 2026, 09:45 UTC``; a dash for no time."""
    if value is None:
        return "\u2014"
    value = value.astimezone(UTC)
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


def iso(value: datetime | None) -> str:
    return isoformat(value) or ""


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=PackageLoader("vigilare.api.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["time"] = format_time
    environment.filters["iso"] = iso
    environment.globals.update(
        severities=list(Severity),
        roles=ROLES,
        sparkline=sparkline,
        history_chart=history_chart,
        risk=risk_class,
        console=CONSOLE,
    )
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))


def settings_of(request: Request[Any, Any, Any]) -> Settings:
    return services_of(request.scope).settings


def caller(request: Request[Any, Any, Any]) -> Principal | None:
    user = request.scope.get("user")
    return user if isinstance(user, Principal) else None


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    """A page: ``template`` with the caller, what the caller's role allows, and the pending message."""
    me = caller(request)
    settings = settings_of(request)
    cookies = list(cookies or [])
    flash = read_flash(settings, request.cookies.get(FLASH_COOKIE))
    if FLASH_COOKIE in request.cookies:
        cookies.append(cleared_flash_cookie(settings))
    return Template(
        template_name=template,
        context={
            "me": me,
            "can": lambda minimum: me is not None and role_at_least(me.role, minimum),
            "flash": flash,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
        cookies=cookies,
        headers={"Cache-Control": "no-store"},
    )


def redirect(
    request: Request[Any, Any, Any],
    path: str,
    *,
    message: str | None = None,
    kind: Kind = "ok",
    cookies: list[Cookie] | None = None,
) -> Redirect:
    """303 to a console page (``/accounts`` or ``/app/accounts``) or an absolute URL, with a message
    for the next page."""
    cookies = list(cookies or [])
    if message:
        cookies.append(flash_cookie(settings_of(request), kind, message))
    absolute = "://" in path or path == CONSOLE or path.startswith(f"{CONSOLE}/")
    target = path if absolute else f"{CONSOLE}{path}"
    return Redirect(path=target, status_code=303, cookies=cookies)


@contextmanager
def back_on_error(request: Request[Any, Any, Any], path: str) -> Iterator[None]:
    """Turn a service's refusal of a button's action into a redirect to ``path`` that says why.

    "Not found" stays an error page of its own: there is no page to go back to.
    """
    try:
        yield
    except NotFound:
        raise
    except VigilareError as exc:
        raise PageAnswer(redirect(request, path, message=exc.message, kind="error")) from exc


def form_error(
    request: Request[Any, Any, Any], exc: VigilareError, template: str, **context: Any
) -> PageAnswer:
    """The form again, with what was typed and why it was refused, under the API's status code."""
    return PageAnswer(render(request, template, status_code=exc.status_code, error=exc.message, **context))
