"""Sign up, log in, log out and accept an invitation: the API's auth service, with cookies."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.api.console.pages import form_error, redirect, render
from vigilare.api.console.session import cleared_session_cookies, session_cookies
from vigilare.auth import service
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import VIEWER, Principal
from vigilare.auth.throttle import LoginThrottle
from vigilare.auth.tokens import TokenIssuer
from vigilare.config import Settings
from vigilare.errors import BadRequest, VigilareError
from vigilare.links import CONSOLE
from vigilare.ratelimit import Counter

HOME = f"{CONSOLE}/accounts"
PUBLIC = {"public": True}


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a console page of this site, never another site."""
    if not value or not value.startswith(f"{CONSOLE}/") or len(value) > 2000:
        return HOME
    if "//" in value or "\\" in value or any(ord(c) < 32 for c in value):
        return HOME
    return value


class AuthPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/login", opt=PUBLIC)
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        next_page: Annotated[str | None, QueryParameter(name="next")] = None,
        email: FromQuery[str] = "",
    ) -> Template:
        return render(request, "login.html", next=safe_next(next_page), email=email, error=None)

    @post("/login", opt=PUBLIC)
    async def login(
        self,
        request: Request[Any, Any, Any],
        unscoped_db_session: NamedDependency[AsyncSession],
        issuer: NamedDependency[TokenIssuer],
        counter: NamedDependency[Counter],
        client_address: NamedDependency[str],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = await request.form()
        email, next_page = str(form.get("email", "")), safe_next(form.get("next"))
        try:
            tokens = await service.login(
                unscoped_db_session,
                issuer,
                LoginThrottle.from_settings(counter, settings),
                email,
                str(form.get("password", "")),
                client=client_address,
            )
        except VigilareError as exc:
            raise form_error(request, exc, "login.html", email=email, next=next_page) from exc
        return redirect(request, next_page, cookies=session_cookies(settings, tokens))

    @get("/signup", opt=PUBLIC)
    async def signup_form(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "signup.html", name="", email="", error=None)

    @post("/signup", opt=PUBLIC)
    async def signup(
        self, request: Request[Any, Any, Any], unscoped_db_session: NamedDependency[AsyncSession]
    ) -> Redirect:
        form = await request.form()
        name, email = str(form.get("name", "")), str(form.get("email", ""))
        try:
            await service.signup(unscoped_db_session, email, str(form.get("password", "")), name)
        except VigilareError as exc:
            raise form_error(request, exc, "signup.html", name=name, email=email) from exc
        # The API's answer, whether or not the email already had an account (its owner is told by
        # email): logging in next is what tells the two apart, and only to who knows the password.
        return redirect(
            request,
            f"/login?email={quote(email.strip())}",
            message="Your account is ready: log in to connect your first AWS account.",
        )

    @post("/logout", guards=[requires_role(VIEWER)])
    async def logout(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        await service.logout(db_session, principal)
        return redirect(
            request, "/login", message="You are logged out.", cookies=cleared_session_cookies(settings)
        )

    @get("/accept-invite", opt=PUBLIC)
    async def accept_form(
        self,
        request: Request[Any, Any, Any],
        unscoped_db_session: NamedDependency[AsyncSession],
        token: FromQuery[str] = "",
    ) -> Template:
        found = await service.pending_invitation(unscoped_db_session, token) if token else None
        if found is None:
            return render(request, "accept_invite.html", status_code=400, invited=None, token="", error=None)
        user, tenant = found
        invited = {"tenant": tenant.name, "role": user.role, "email": user.email}
        return render(request, "accept_invite.html", invited=invited, token=token, error=None)

    @post("/accept-invite", opt=PUBLIC)
    async def accept(
        self, request: Request[Any, Any, Any], unscoped_db_session: NamedDependency[AsyncSession]
    ) -> Redirect:
        form = await request.form()
        token, password = str(form.get("token", "")), str(form.get("password", ""))
        found = await service.pending_invitation(unscoped_db_session, token) if token else None
        invited = found and {"tenant": found[1].name, "role": found[0].role, "email": found[0].email}
        try:
            if password != form.get("password_again"):
                raise BadRequest("password: the two passwords are not the same")
            user = await service.accept_invite(unscoped_db_session, token, password)
        except VigilareError as exc:
            raise form_error(request, exc, "accept_invite.html", invited=invited, token=token) from exc
        team = f" to {found[1].name}" if found else ""
        return redirect(
            request,
            f"/login?email={quote(user.email)}",
            message=f"Welcome{team}. Log in with your new password.",
        )
