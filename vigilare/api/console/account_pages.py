"""Accounts: the overview, connecting and verifying one, its page, checklist, scans and exports.

Every handler calls the same services as the API's routes, on the same tenant-scoped session, under
the same role guard.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts import service as accounts
from vigilare.accounts.onboarding import fallback_cli_script, terraform_snippet
from vigilare.alerts.service import list_alerts
from vigilare.api.console.overview import accounts_overview
from vigilare.api.console.pages import back_on_error, form_error, redirect, render
from vigilare.auth.guards import requires_role
from vigilare.auth.models import Tenant
from vigilare.auth.roles import ADMIN, MEMBER, VIEWER, Principal
from vigilare.billing.enforcement import require_csv_export
from vigilare.billing.plans import get_plan
from vigilare.config import Settings
from vigilare.db.engine import TenantSessions
from vigilare.db.pagination import CursorCodec
from vigilare.errors import VigilareError
from vigilare.exports.panic import publish_panic_package
from vigilare.exports.signals_csv import stream_signals_csv
from vigilare.ids import utcnow
from vigilare.ingest.service import push_status
from vigilare.scans import service as scans
from vigilare.scans.models import FINISHED
from vigilare.scans.registry import registry_for
from vigilare.scoring.service import current_checklist, current_score, score_history
from vigilare.signals.service import iter_signals, list_signals
from vigilare.signals.view import signal_view

SIGNALS_PER_PAGE = 25
HISTORY_DAYS = 90
OPEN_ALERTS_SHOWN = 10


async def _open_alerts(session: AsyncSession, settings: Settings, aws_account_id: str) -> list[Any]:
    found, _ = await list_alerts(
        session,
        CursorCodec(settings.secret_key),
        aws_account_id=aws_account_id,
        acknowledged=False,
        limit=OPEN_ALERTS_SHOWN,
        next_token=None,
    )
    return [alert for alert in found if alert.resolved_at is None]


def _scenario_choices(settings: Settings) -> list[tuple[str, str]]:
    scenarios = registry_for(settings).scenarios
    return sorted(((sid, f"{cls.title} ({sid})") for sid, cls in scenarios.items()), key=lambda c: c[1])


class AccountPages(Controller):
    path = "/accounts"
    include_in_schema = False

    @get("", guards=[requires_role(VIEWER)])
    async def overview(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        page: FromQuery[int] = 1,
    ) -> Template:
        view = await accounts_overview(db_session, page=page, today=utcnow().date())
        return render(request, "accounts.html", view=view)

    @get("/connect", guards=[requires_role(ADMIN)])
    async def connect_form(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "connect.html", aws_account_id="", display_name="", tags="", error=None)

    @post("/connect", guards=[requires_role(ADMIN)])
    async def connect(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = await request.form()
        typed = {name: str(form.get(name, "")) for name in ("aws_account_id", "display_name", "tags")}
        try:
            account = await accounts.connect(
                db_session,
                principal,
                typed["aws_account_id"],
                typed["display_name"],
                [tag for tag in typed["tags"].split(",") if tag.strip()],
                role_name=settings.role_name,
            )
        except VigilareError as exc:
            raise form_error(request, exc, "connect.html", **typed) from exc
        return redirect(request, f"/accounts/{account.aws_account_id}/setup")

    @get("/{aws_account_id:str}/setup", guards=[requires_role(ADMIN)])
    async def setup(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        account = await accounts.get_account(db_session, aws_account_id)
        sentinel = settings.sentinel_account_id
        return render(
            request,
            "setup.html",
            account=account,
            sentinel_account_id=sentinel,
            terraform=terraform_snippet(account.role_name, sentinel, account.external_id),
            cli=fallback_cli_script(account.role_name, sentinel, account.external_id),
        )

    @post("/{aws_account_id:str}/verify", guards=[requires_role(ADMIN)])
    async def verify(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        start_monitoring: NamedDependency[accounts.StartMonitoring],
    ) -> Redirect:
        with back_on_error(request, f"/accounts/{aws_account_id}/setup"):
            account, scan_id = await accounts.verify(
                db_session,
                aws_account_id,
                endpoint_url=settings.aws_endpoint_url or None,
                start_monitoring=start_monitoring,
            )
        return redirect(
            request,
            f"/accounts/{account.aws_account_id}/scans/{scan_id}",
            message="Verified: Vigilare can read the account. Its first scan is running.",
        )

    @get("/{aws_account_id:str}", guards=[requires_role(VIEWER)])
    async def account(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        severity: FromQuery[str] = "",
        scenario: FromQuery[str] = "",
        next_token: FromQuery[str] = "",
    ) -> Template:
        account = await accounts.get_account(db_session, aws_account_id)
        today = utcnow().date()
        rows, token = await list_signals(
            db_session,
            CursorCodec(settings.secret_key),
            aws_account_id,
            severity=severity or None,
            scenario=scenario or None,
            since=None,
            limit=SIGNALS_PER_PAGE,
            next_token=next_token or None,
        )
        filters = {"severity": severity, "scenario": scenario}
        kept = {name: value for name, value in filters.items() if value}
        history = await score_history(db_session, account.id, HISTORY_DAYS, today)
        tenant = await db_session.get_one(Tenant, principal.tenant_id)
        return render(
            request,
            "account.html",
            account=account,
            result=await current_score(db_session, account.id, top_n=5),
            history=[(point.day, point.srs) for point in history],
            history_days=HISTORY_DAYS,
            today=today,
            signals=[signal_view(row) for row in rows],
            next_token=token,
            filters={**filters, "next_token": next_token},
            first_page_query=urlencode(kept),
            next_page_query=urlencode({**kept, "next_token": token or ""}),
            scenarios=_scenario_choices(settings),
            open_alerts=await _open_alerts(db_session, settings, aws_account_id),
            last_scan=(await scans.latest_scans(db_session, [account.id])).get(account.id),
            push=await push_status(db_session, account, utcnow()),
            plan=get_plan(tenant.plan),
        )

    @get("/{aws_account_id:str}/recovery-checklist", guards=[requires_role(VIEWER)])
    async def checklist(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        account = await accounts.get_account(db_session, aws_account_id)
        return render(
            request,
            "checklist.html",
            account=account,
            steps=await current_checklist(db_session, account.id),
            open_alerts=await _open_alerts(db_session, settings, aws_account_id),
        )

    @get("/{aws_account_id:str}/scans/{scan_id:str}", guards=[requires_role(VIEWER)])
    async def scan_progress(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        scan_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        scan = await scans.get_scan(db_session, aws_account_id, scan_id)
        account = await accounts.get_account(db_session, aws_account_id)
        return render(
            request,
            "scan.html",
            account=account,
            scan=scan,
            finished=scan.status in FINISHED,
            outcomes=sorted((scan.outcomes or {}).items()),
        )

    @post("/{aws_account_id:str}/scan", guards=[requires_role(MEMBER)])
    async def scan_now(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Redirect:
        with back_on_error(request, f"/accounts/{aws_account_id}"):
            scan = await scans.manual_scan(db_session, principal, aws_account_id)
        return redirect(request, f"/accounts/{aws_account_id}/scans/{scan.id}", message="Scan started.")

    @get("/{aws_account_id:str}/signals.csv", guards=[requires_role(MEMBER)])
    async def export_csv(
        self,
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        tenant_sessions: NamedDependency[TenantSessions],
    ) -> Stream:
        account = await accounts.get_account(db_session, aws_account_id)
        require_csv_export(await db_session.get_one(Tenant, principal.tenant_id))
        rows = iter_signals(tenant_sessions, principal.tenant_id, account.id)
        filename = f"vigilare-{account.aws_account_id}-signals.csv"
        return Stream(
            stream_signals_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post("/{aws_account_id:str}/panic", guards=[requires_role(MEMBER)])
    async def panic(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        tenant_sessions: NamedDependency[TenantSessions],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        account = await accounts.get_account(db_session, aws_account_id)
        with back_on_error(request, f"/accounts/{aws_account_id}"):
            url = await publish_panic_package(
                db_session, tenant_sessions, settings, account, requested_by=principal.name
            )
        return redirect(request, url)

    @post("/{aws_account_id:str}/disconnect", guards=[requires_role(ADMIN)])
    async def disconnect(
        self,
        request: Request[Any, Any, Any],
        aws_account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> Redirect:
        await accounts.disconnect(db_session, aws_account_id)
        return redirect(request, "/accounts", message=f"Account {aws_account_id} disconnected.")
