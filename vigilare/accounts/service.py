"""Onboarding, verification and lifecycle of connected AWS accounts (tenant-scoped sessions)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from vigilare.accounts.models import ACTIVE, DISCONNECTED, PENDING, AwsAccount
from vigilare.accounts.onboarding import new_external_id
from vigilare.accounts.schemas import AccountSummaryOut, PushStatusOut
from vigilare.auth.models import Tenant
from vigilare.auth.roles import Principal
from vigilare.aws.errors import RoleVerificationError
from vigilare.aws.naming import role_session_name
from vigilare.aws.verify import verify_role
from vigilare.billing.plans import get_plan
from vigilare.db.reads import TenantRead, json_list, utc_text
from vigilare.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from vigilare.ids import new_id, utcnow
from vigilare.text import refuse_control_characters

_ACCOUNT_ID = re.compile(r"^\d{12}$")


def check_aws_account_id(value: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise BadRequest("aws_account_id: must be a 12-digit AWS account id")
    return value


async def get_account(session: AsyncSession, aws_account_id: str) -> AwsAccount:
    """The caller's account by its 12-digit id; another tenant's account is simply not found."""
    if not _ACCOUNT_ID.match(aws_account_id):
        raise NotFound("account not found")
    account = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == aws_account_id))
    if account is None:
        raise NotFound("account not found")
    return account


def is_aws_account_id(value: str) -> bool:
    """12 digits: anything else names no account (404 without a query)."""
    return _ACCOUNT_ID.match(value) is not None


async def account_row_id(session: AsyncSession, aws_account_id: str) -> str:
    """The row id of the caller's account, for listings that need nothing else of it (one column)."""
    if not _ACCOUNT_ID.match(aws_account_id):
        raise NotFound("account not found")
    found = await session.scalar(select(AwsAccount.id).where(AwsAccount.aws_account_id == aws_account_id))
    if found is None:
        raise NotFound("account not found")
    return str(found)


async def connected_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(AwsAccount).where(AwsAccount.status != DISCONNECTED)
    )
    return int(count or 0)


async def check_account_limit(session: AsyncSession, tenant: Tenant) -> None:
    plan = get_plan(tenant.plan)
    if plan.account_limit is None:
        return
    if await connected_count(session) >= plan.account_limit:
        noun = "account" if plan.account_limit == 1 else "accounts"
        raise Forbidden(
            f"plan limit exceeded: the {plan.name} plan allows {plan.account_limit} connected {noun}; "
            "upgrade or disconnect an account first"
        )


async def connect(
    session: AsyncSession,
    principal: Principal,
    aws_account_id: str,
    display_name: str | None,
    tags: Sequence[str],
    role_name: str,
) -> AwsAccount:
    aws_account_id = check_aws_account_id(aws_account_id.strip())
    tags = sorted({tag.strip() for tag in tags if tag.strip()})
    display_name = display_name.strip() if display_name and display_name.strip() else None
    if display_name is not None:
        refuse_control_characters("display_name", display_name)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    existing = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == aws_account_id))
    if existing is not None and existing.status != DISCONNECTED:
        raise Conflict("this AWS account is already connected")
    await check_account_limit(session, tenant)
    now = utcnow()
    if existing is not None:
        # Reconnecting keeps the history; the old role's external id is never trusted again.
        account = existing
        account.status, account.disconnected_at, account.verified_at = PENDING, None, None
        account.external_id = new_external_id()
        account.role_name = role_name
        account.connected_at = now
        if display_name is not None:
            account.display_name = display_name
        if tags:
            account.tags = tags
    else:
        account = AwsAccount(
            id=new_id(),
            tenant_id=principal.tenant_id,
            aws_account_id=aws_account_id,
            display_name=display_name,
            tags=tags,
            external_id=new_external_id(),
            role_name=role_name,
            status=PENDING,
            connected_at=now,
            capabilities={},
        )
        session.add(account)
    await session.flush()
    return account


# What the account listing shows, read as rows: never the whole entity (``scan_state`` can be large).
LISTED_COLUMNS = (
    AwsAccount.aws_account_id,
    AwsAccount.display_name,
    AwsAccount.status,
    AwsAccount.current_srs,
    AwsAccount.last_scan_at,
    AwsAccount.tags,
)


async def list_accounts(session: AsyncSession, tag: str | None) -> list[Row[*tuple[Any, ...]]]:
    """The tenant's accounts in the order they were connected: rows of ``LISTED_COLUMNS``."""
    accounts = list(
        (
            await session.execute(select(*LISTED_COLUMNS).order_by(AwsAccount.connected_at, AwsAccount.id))
        ).all()
    )
    if tag:
        # Tags are a small JSON list per account; filtering here works the same on every database.
        accounts = [a for a in accounts if tag in (a.tags or [])]
    return accounts


# ``list_accounts`` for a ``TenantRead`` (PostgreSQL's hot path); ``$1`` is the read's tenant.
_LIST_SQL = f"""
SELECT aws_account_id, display_name, status, current_srs, {utc_text("last_scan_at")}, tags
FROM aws_accounts WHERE tenant_id = $1 ORDER BY connected_at, id
"""  # noqa: S608 (the SQL of utc_text, a constant: no value is written in)


async def read_account_list(read: TenantRead, tag: str | None) -> list[AccountSummaryOut]:
    """``list_accounts`` in a ``TenantRead``, as the listing shows them: the same rows, the same order."""
    rows = await read.fetch(_LIST_SQL, read.tenant_id)
    await read.end()  # the rest is Python: the connection goes back to the pool now
    listed = []
    for aws_account_id, display_name, status, current_srs, last_scan_at, tags_json in rows:
        tags = json_list(tags_json)
        if tag and tag not in tags:
            continue
        listed.append(
            AccountSummaryOut(
                aws_account_id=aws_account_id,
                display_name=display_name,
                status=status,
                current_srs=current_srs,
                last_scan_at=last_scan_at,  # written by the statement (utc_text)
                tags=tags,
            )
        )
    return listed


async def accounts_worst_first(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[AwsAccount], int]:
    """One page of the tenant's accounts, most at risk first, and how many there are in all.

    Lowest score first; accounts not scored yet (pending, first scan running) after the scored ones;
    disconnected accounts last. Ties go by account id, so pages never overlap.
    """
    total = await session.scalar(select(func.count()).select_from(AwsAccount))
    page = await session.scalars(
        select(AwsAccount)
        # What the collectors remember between scans can be large, and a list never shows it.
        .options(defer(AwsAccount.scan_state))
        .order_by(
            AwsAccount.status == DISCONNECTED,
            AwsAccount.current_srs.is_(None),
            AwsAccount.current_srs,
            AwsAccount.aws_account_id,
        )
        .offset(offset)
        .limit(limit)
    )
    return list(page), int(total or 0)


async def disconnect(session: AsyncSession, aws_account_id: str) -> AwsAccount:
    account = await get_account(session, aws_account_id)
    if account.status == DISCONNECTED:
        return account
    account.status = DISCONNECTED
    account.disconnected_at = utcnow()
    account.next_scan_at = None
    return account


def require_active(account: AwsAccount) -> None:
    if account.status != ACTIVE:
        raise Conflict(f"account is {account.status}: verify it before scanning")


@runtime_checkable  # the API checks what it injects
class StartMonitoring(Protocol):
    """Schedules the scans of an account that just became active and queues its first scan;
    returns that scan's id. The scans package provides it: scans depends on accounts, never the
    reverse, so the caller hands it in."""

    def __call__(self, session: AsyncSession, account: AwsAccount, tenant: Tenant, now: datetime) -> str: ...


@runtime_checkable  # the API checks what it injects
class PushStatusReader(Protocol):
    """The account's push delivery status. The ingest package provides it: ingest depends on
    accounts, never the reverse, so the caller hands it in."""

    async def __call__(self, session: AsyncSession, account: AwsAccount, now: datetime) -> PushStatusOut: ...


async def verify(
    session: AsyncSession,
    aws_account_id: str,
    *,
    endpoint_url: str | None,
    start_monitoring: StartMonitoring,
) -> tuple[AwsAccount, str]:
    """Assume the role with the account's external id; on success activate the account and let
    ``start_monitoring`` schedule its scans and queue the first one."""
    account = await get_account(session, aws_account_id)
    if account.status == DISCONNECTED:
        raise Conflict("account is disconnected: connect it again to get a new role snippet")
    try:
        await verify_role(
            aws_account_id=account.aws_account_id,
            role_name=account.role_name,
            external_id=account.external_id,
            session_name=role_session_name(account.tenant_id, "verify"),
            endpoint_url=endpoint_url,
        )
    except RoleVerificationError as exc:
        raise Unprocessable(exc.reason) from exc
    now = utcnow()
    tenant = await session.get_one(Tenant, account.tenant_id)
    account.status, account.verified_at = ACTIVE, now
    scan_id = start_monitoring(session, account, tenant, now)
    await session.flush()
    return account, scan_id
