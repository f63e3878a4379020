from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import File, Stream
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.service import get_account
from vigilare.api.state import AppServices
from vigilare.auth.models import Tenant
from vigilare.auth.roles import MEMBER, Principal
from vigilare.billing.enforcement import require_csv_export
from vigilare.exports.panic import build_panic_package
from vigilare.exports.schemas import PanicOut
from vigilare.exports.signals_csv import stream_signals_csv
from vigilare.exports.storage import check_local_download, store
from vigilare.signals.service import iter_signals


class ExportsController(Controller):
    path = "/accounts/{account_id:str}"
    tags = ["Accounts"]

    @get("/export", summary="Export findings as CSV", opt={"role": MEMBER}, media_type="text/csv")
    async def export_csv(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        app_services: NamedDependency[AppServices],
    ) -> Stream:
        account = await get_account(db_session, account_id)
        require_csv_export(await db_session.get_one(Tenant, principal.tenant_id))
        rows = iter_signals(app_services.session_factory, principal.tenant_id, account.id)
        filename = f"vigilare-{account.aws_account_id}-signals.csv"
        return Stream(
            stream_signals_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @post("/panic", status_code=200, summary="Generate emergency response package", opt={"role": MEMBER})
    async def panic(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        app_services: NamedDependency[AppServices],
    ) -> PanicOut:
        account = await get_account(db_session, account_id)
        export_id, package = await build_panic_package(
            db_session, app_services.session_factory, account, requested_by=principal.name
        )
        settings = app_services.settings
        key = f"panic/{account.tenant_id}/{account.aws_account_id}/{export_id}.zip"
        with package:
            url = await store(settings, key, export_id, package)
        return PanicOut(
            message="Panic package generated", download_url=url, expires_in=settings.export_url_ttl_seconds
        )


@get(
    "/exports/{export_id:str}",
    tags=["Accounts"],
    summary="Download a panic package (signed link)",
    opt={"public": True},
    media_type="application/zip",
)
async def download_export(
    export_id: FromPath[str],
    app_services: NamedDependency[AppServices],
    expires: FromQuery[int] = 0,
    signature: FromQuery[str] = "",
) -> File:
    export_id = export_id.removesuffix(".zip")
    path = check_local_download(app_services.settings, export_id, expires, signature)
    return File(path, filename=f"vigilare-panic-{export_id}.zip", media_type="application/zip")
