from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.guards import requires_role
from vigilare.auth.roles import MEMBER, VIEWER, Principal
from vigilare.db.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorCodec
from vigilare.db.reads import TENANT_READ, ListingSource
from vigilare.errors import answers
from vigilare.ids import isoformat
from vigilare.scans import service
from vigilare.scans.models import Scan
from vigilare.scans.schemas import ScanOut, ScanStartedOut
from vigilare.signals.schemas import SignalsOut
from vigilare.signals.service import list_signals, read_signals_page
from vigilare.signals.view import signal_out


def scan_out(scan: Scan, aws_account_id: str) -> ScanOut:
    return ScanOut(
        scan_id=scan.id,
        aws_account_id=aws_account_id,
        trigger=scan.trigger,
        status=scan.status,
        queued_at=isoformat(scan.queued_at) or "",
        started_at=isoformat(scan.started_at),
        finished_at=isoformat(scan.finished_at),
        attempts=scan.attempts,
        error=scan.error,
        findings_count=scan.findings_count,
        scenarios=dict(scan.outcomes or {}),
        collection_errors=list(scan.collection_errors or []),
    )


class ScansController(Controller):
    """An account's scans and signals, mounted under ``/accounts/{account_id}`` by the route table."""

    path = "/"
    tags = ["Accounts"]

    @post(
        "/scan",
        status_code=202,
        summary="Trigger a manual scan",
        guards=[requires_role(MEMBER)],
        opt=answers(409),
    )
    async def scan(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ScanStartedOut:
        scan = await service.manual_scan(db_session, principal, account_id)
        return ScanStartedOut(message="Scan started", execution_arn=scan.id)

    @get("/scans/{scan_id:str}", summary="Get one scan", guards=[requires_role(VIEWER)])
    async def get_scan(
        self, account_id: FromPath[str], scan_id: FromPath[str], db_session: NamedDependency[AsyncSession]
    ) -> ScanOut:
        scan = await service.get_scan(db_session, account_id, scan_id)
        return scan_out(scan, account_id)

    @get(
        "/signals",
        summary="List findings for an account",
        guards=[requires_role(VIEWER)],
        opt={TENANT_READ: True},
    )
    async def signals(
        self,
        account_id: FromPath[str],
        listing_source: NamedDependency[ListingSource],
        severity: FromQuery[str | None] = None,
        scenario: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        next_token: FromQuery[str | None] = None,
    ) -> SignalsOut:
        cursors = CursorCodec(listing_source.secret_key)
        if listing_source.read is not None:
            page, token = await read_signals_page(
                listing_source.read,
                cursors,
                account_id,
                severity=severity,
                scenario=scenario,
                since=since,
                limit=limit,
                next_token=next_token,
            )
            return SignalsOut(signals=page, count=len(page), next_token=token)
        rows, token = await list_signals(
            listing_source.orm_session(),
            cursors,
            account_id,
            severity=severity,
            scenario=scenario,
            since=since,
            limit=limit,
            next_token=next_token,
        )
        return SignalsOut(signals=[signal_out(row) for row in rows], count=len(rows), next_token=token)
