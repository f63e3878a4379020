"""Creating scans and the per-plan manual scan limit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.accounts.service import get_account, require_active
from vigilare.auth.models import Tenant
from vigilare.auth.roles import Principal
from vigilare.billing.enforcement import scanning_blocked_reason
from vigilare.billing.plans import get_plan
from vigilare.db.locks import lock_row
from vigilare.errors import Forbidden, NotFound, RateLimited
from vigilare.ids import new_id, utcnow
from vigilare.jobs import enqueue_after_commit
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import QUEUED, Scan

MANUAL, SCHEDULED, VERIFY = "manual", "scheduled", "verify"
# Asked for by a pushed event: the account changed in a way the scan judges (a user created...).
EVENT = "event"


def scan_job_id(scan_id: str, attempt: int = 0) -> str:
    return f"scan:{scan_id}" if attempt == 0 else f"scan:{scan_id}:recover:{attempt}"


def create_scan(
    session: AsyncSession, account: AwsAccount, trigger: str, now: datetime | None = None
) -> Scan:
    """A queued scan (queued at ``now``, the caller's clock); its job is written to the outbox with
    the scan, and handed to the queue once the transaction commits."""
    now = now or utcnow()
    scan = Scan(
        id=new_id(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        trigger=trigger,
        status=QUEUED,
        queued_at=now,
        handed_at=now,
        outcomes={},
        collection_errors=[],
        evidence={},
    )
    session.add(scan)
    enqueue_after_commit(session, run_scan, scan.id, job_id=scan_job_id(scan.id))
    return scan


async def manual_scan(session: AsyncSession, principal: Principal, aws_account_id: str) -> Scan:
    account = await get_account(session, aws_account_id)
    require_active(account)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    blocked = scanning_blocked_reason(tenant, utcnow())
    if blocked is not None:
        raise Forbidden(blocked)
    plan = get_plan(tenant.plan)
    # Count and insert under the account's row lock, or concurrent requests all count the same
    # past scans and all insert.
    await lock_row(session, AwsAccount, account.id)
    window_start = utcnow() - timedelta(hours=1)
    recent = list(
        await session.scalars(
            select(Scan.queued_at)
            .where(Scan.account_id == account.id, Scan.trigger == MANUAL, Scan.queued_at > window_start)
            .order_by(Scan.queued_at)
        )
    )
    if len(recent) >= plan.manual_scans_per_hour:
        retry_after = math.ceil((recent[0] + timedelta(hours=1) - utcnow()).total_seconds())
        raise RateLimited(
            f"manual scan limit reached: the {plan.name} plan allows {plan.manual_scans_per_hour} "
            "manual scans per account per hour",
            retry_after=retry_after,
        )
    return create_scan(session, account, MANUAL)


async def get_scan(session: AsyncSession, aws_account_id: str, scan_id: str) -> Scan:
    account = await get_account(session, aws_account_id)
    scan = await session.scalar(select(Scan).where(Scan.id == scan_id, Scan.account_id == account.id))
    if scan is None:
        raise NotFound("scan not found")
    return scan


async def latest_scans(session: AsyncSession, account_ids: Sequence[str]) -> dict[str, Scan]:
    """Each account's most recently queued scan, by account row id (accounts never scanned are absent)."""
    if not account_ids:
        return {}
    newest = (
        select(Scan.account_id, func.max(Scan.queued_at).label("queued_at"))
        .where(Scan.account_id.in_(account_ids))
        .group_by(Scan.account_id)
        .subquery()
    )
    scans = await session.scalars(
        select(Scan).join(
            newest, and_(Scan.account_id == newest.c.account_id, Scan.queued_at == newest.c.queued_at)
        )
    )
    return {scan.account_id: scan for scan in scans}


async def unfinished_scan_exists(session: AsyncSession, account_id: str) -> bool:
    count = await session.scalar(
        select(func.count())
        .select_from(Scan)
        .where(Scan.account_id == account_id, Scan.status.in_(("queued", "running")))
    )
    return bool(count)
