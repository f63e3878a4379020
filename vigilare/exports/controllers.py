from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import File, Stream
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.service import get_account
from vigilare.auth.guards import requires_role
from vigilare.auth.models import Tenant
from vigilare.auth.roles import MEMBER, Principal
from vigilare.billing.enforcement import require_csv_export
from vigilare.config import Settings
from vigilare.db.engine import TenantSessions
from vigilare.errors import answers
from vigilare.exports.panic import publish_panic_package
from vigilare.exports.schemas import PanicOut
from vigilare.exports.signals_csv import stream_signals_csv
from vigilare.exports.storage import check_local_download
from vigilare.signals.service import iter_signals


class ExportsController(Controller):
    """An account's CSV export and panic package, mounted under ``/accounts/{account_id}`` by
    the route table (``api/routes.py``)."""

    path = "/"
    tags = ["Accounts"]

    @get(
        "/export",
        summary="Export findings as CSV",
        guards=[requires_role(MEMBER)],
        media_type="text/csv",
    )
    async def export_csv(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        tenant_sessions: NamedDependency[TenantSessions],
    ) -> Stream:
        account = await get_account(db_session, account_id)
        require_csv_export(await db_session.get_one(Tenant, principal.tenant_id))
        rows = iter_signals(tenant_sessions, principal.tenant_id, account.id)
        filename = f"vigilare-{account.aws_account_id}-signals.csv"
        return Stream(
            stream_signals_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post(
        "/panic",
        status_code=200,
        summary="Generate emergency response package",
        guards=[requires_role(MEMBER)],
    )
    async def panic(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        tenant_sessions: NamedDependency[TenantSessions],
        settings: NamedDependency[Settings],
    ) -> PanicOut:
        account = await get_account(db_session, account_id)
        url = await publish_panic_package(
            db_session, tenant_sessions, settings, account, requested_by=principal.name
        )
        return PanicOut(
            message="Panic package generated", download_url=url, expires_in=settings.export_url_ttl_seconds
        )


@get(
    "/exports/{export_id:str}",
    tags=["Accounts"],
    summary="Download a panic package (signed link)",
    opt=answers(403, 404, public=True, no_database=True),
    media_type="application/zip",
)
async def download_export(
    export_id: FromPath[str],
    settings: NamedDependency[Settings],
    expires: FromQuery[int] = 0,
    signature: FromQuery[str] = "",
) -> File:
    export_id = export_id.removesuffix(".zip")
    path = check_local_download(settings, export_id, expires, signature)
    return File(path, filename=f"vigilare-panic-{export_id}.zip", media_type="application/zip")
