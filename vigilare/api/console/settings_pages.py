"""Settings: integrations (Slack), the team (invite, roles, removal) and billing (plan, Stripe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.alerts import slack_install
from vigilare.alerts.controllers import slack_install_cookie
from vigilare.alerts.rules import slack_installation
from vigilare.api.console.pages import back_on_error, form_error, redirect, render
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import ADMIN, INVITABLE_ROLES, OWNER, VIEWER, Principal
from vigilare.billing import service as billing
from vigilare.billing.gateway import StripeGateway
from vigilare.billing.plans import PLANS, get_plan
from vigilare.billing.prices import SELF_SERVE_PLANS
from vigilare.config import Settings
from vigilare.errors import NotFound, VigilareError
from vigilare.links import billing_url
from vigilare.users import service as users


class SettingsPages(Controller):
    path = "/settings"
    include_in_schema = False

    @get("/integrations", guards=[requires_role(VIEWER)])
    async def integrations(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        installation = await slack_installation(db_session)
        installed_by = None
        if installation is not None and installation.installed_by:
            try:
                installed_by = (await users.get_user(db_session, installation.installed_by)).name
            except NotFound:
                installed_by = None  # removed from the team since
        return render(
            request,
            "integrations.html",
            installation=installation,
            installed_by=installed_by,
            slack_configured=bool(settings.slack_client_id and settings.slack_client_secret),
        )

    @post("/integrations/slack", guards=[requires_role(ADMIN)])
    async def install_slack(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        with back_on_error(request, "/settings/integrations"):
            start = slack_install.start_install(settings, principal)
        # The same browser cookie as the API's start route: the install completes in this browser only.
        return redirect(request, start.oauth_url, cookies=[slack_install_cookie(settings, start)])

    @get("/team", guards=[requires_role(VIEWER)])
    async def team(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        return render(request, "team.html", **await _team(db_session), invite={}, error=None)

    @post("/team/invite", guards=[requires_role(ADMIN)])
    async def invite(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Redirect:
        form = await request.form()
        typed = {name: str(form.get(name, "")) for name in ("email", "name", "role")}
        try:
            user = await users.invite(db_session, principal, typed["email"], typed["name"], typed["role"])
        except VigilareError as exc:
            await db_session.rollback()  # the team is read again for the page, on a clean session
            raise form_error(request, exc, "team.html", **await _team(db_session), invite=typed) from exc
        return redirect(
            request, "/settings/team", message=f"Invitation sent to {user.email}: it works for 72 hours."
        )

    @post("/team/{user_id:str}/role", guards=[requires_role(OWNER)])
    async def change_role(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Redirect:
        role = str((await request.form()).get("role", ""))
        with back_on_error(request, "/settings/team"):
            user = await users.change_role(db_session, principal, user_id, role)
        return redirect(request, "/settings/team", message=f"{user.name} is now {user.role}.")

    @post("/team/{user_id:str}/remove", guards=[requires_role(ADMIN)])
    async def remove(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Redirect:
        with back_on_error(request, "/settings/team"):
            await users.remove_user(db_session, principal, user_id)
        return redirect(request, "/settings/team", message="Removed from the team.")

    @get("/billing", guards=[requires_role(VIEWER)])
    async def billing_page(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        stripe: NamedDependency[StripeGateway | None],
    ) -> Template:
        _user, tenant = await users.get_me(db_session, principal)
        return render(
            request,
            "billing.html",
            tenant=tenant,
            plan=get_plan(tenant.plan),
            plans=list(PLANS.values()),
            self_serve=SELF_SERVE_PLANS,
            billing_configured=stripe is not None,
            subscribed=bool(tenant.stripe_subscription_id) and tenant.status in billing.SUBSCRIBED_STATUSES,
            checkout=request.query_params.get("checkout", ""),
        )

    @post("/billing/checkout", guards=[requires_role(OWNER)])
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        stripe: NamedDependency[StripeGateway | None],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        plan_id = str((await request.form()).get("plan_id", ""))
        back = billing_url(settings)
        with back_on_error(request, "/settings/billing"):
            url = await billing.start_checkout(
                db_session,
                stripe,
                settings,
                principal,
                plan_id,
                success_url=f"{back}?checkout=success",
                cancel_url=f"{back}?checkout=canceled",
            )
        return redirect(request, url)

    @post("/billing/portal", guards=[requires_role(OWNER)])
    async def portal(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        stripe: NamedDependency[StripeGateway | None],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        with back_on_error(request, "/settings/billing"):
            url = await billing.open_portal(db_session, stripe, settings, principal, billing_url(settings))
        return redirect(request, url)


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    email: str
    role: str
    status: str


async def _team(session: AsyncSession) -> dict[str, Any]:
    """The team, as plain values: the page may be rendered after its transaction was rolled back."""
    members = [
        Member(id=u.id, name=u.name, email=u.email, role=u.role, status=u.status)
        for u in await users.list_users(session)
    ]
    return {"users": members, "invitable_roles": INVITABLE_ROLES}
