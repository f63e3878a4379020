"""Reading an account's signals: the API listing (filters, keyset pages, newest first), the open
signals that scores, checklists and alerts are computed from, and batches for exports of any size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.accounts.service import account_row_id, is_aws_account_id
from vigilare.db.engine import SessionOpener
from vigilare.db.pagination import CursorCodec, check_limit, keyset_after, newest_first_page, next_page_token
from vigilare.db.reads import TenantRead, utc_text
from vigilare.db.tenancy import tenant_scope
from vigilare.errors import BadRequest, NotFound
from vigilare.plugin.model import Severity
from vigilare.signals.models import Signal
from vigilare.signals.schemas import SignalOut
from vigilare.signals.view import signal_out_of_record

EXPORT_BATCH = 1000


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("since: must be an ISO 8601 timestamp, e.g. 2026-05-22T09:45:00+00:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_severity_filter(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError:
        raise BadRequest(f"severity: must be one of {Severity.choices()}") from None


# What a listing reads of each signal: the columns a page shows (``StoredSignal``), as rows, never
# whole entities (no identity map, no change tracking, no JSON ``details`` decoded for nothing).
LISTED_COLUMNS = (
    Signal.id,
    Signal.id.label("signal_id"),
    Signal.scenario,
    Signal.kind,
    Signal.severity,
    Signal.title,
    Signal.description,
    Signal.region,
    Signal.resource,
    Signal.remediation,
    Signal.docs_url,
    null().label("details"),  # listings never show a signal's details
    Signal.detected_at,
    Signal.last_seen_at,
    Signal.resolved_at,
    Signal.detected_by,
)


async def list_signals(
    session: AsyncSession,
    cursors: CursorCodec,
    aws_account_id: str,
    *,
    severity: str | None,
    scenario: str | None,
    since: str | None,
    limit: int,
    next_token: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """One page of the account's signals, newest first: rows with the fields of ``StoredSignal``.

    The account is found in the page's own statement (a subquery, tenant-scoped like the rest), so a
    page is one round trip; only an empty page asks whether the account exists at all (404).
    """
    if not is_aws_account_id(aws_account_id):
        raise NotFound("account not found")
    check_limit(limit)
    account = select(AwsAccount.id).where(AwsAccount.aws_account_id == aws_account_id).scalar_subquery()
    query = select(*LISTED_COLUMNS).where(Signal.account_id == account)
    if severity is not None:
        query = query.where(Signal.severity == parse_severity_filter(severity).value)
    if scenario is not None:
        if not scenario or len(scenario) > 64:
            raise BadRequest("scenario: must be a scenario id such as iam or billing")
        query = query.where(Signal.scenario == scenario)
    since_at = parse_since(since)
    if since_at is not None:
        query = query.where(Signal.detected_at > since_at)
    rows, token = await newest_first_page(
        session,
        query,
        Signal.detected_at,
        Signal.id,
        cursors=cursors,
        scope=f"signals:{aws_account_id}",
        limit=limit,
        next_token=next_token,
    )
    if not rows:
        await account_row_id(session, aws_account_id)  # NotFound for another tenant's, or none
    return rows, token


# ``list_signals`` for a ``TenantRead`` (PostgreSQL's hot path): the same filters, order and pages.
# ``$1`` is the read's tenant, ``$2`` the account (found in the same statement, tenant-scoped too).
_PAGE_SQL = f"""
SELECT s.id, s.scenario, s.kind, s.severity, s.title, s.description, s.region, s.resource,
       s.remediation, s.docs_url, {utc_text("s.detected_at")}, {utc_text("s.last_seen_at")},
       {utc_text("s.resolved_at")}, s.detected_by
FROM signals s
WHERE s.tenant_id = $1
  AND s.account_id = (SELECT a.id FROM aws_accounts a WHERE a.tenant_id = $1 AND a.aws_account_id = $2)
  {{filters}}
ORDER BY s.detected_at DESC, s.id DESC
LIMIT {{limit}}
"""  # noqa: S608 (the SQL of utc_text, a constant: no value is written in)
_ACCOUNT_SQL = "SELECT 1 FROM aws_accounts WHERE tenant_id = $1 AND aws_account_id = $2"


async def read_signals_page(
    read: TenantRead,
    cursors: CursorCodec,
    aws_account_id: str,
    *,
    severity: str | None,
    scenario: str | None,
    since: str | None,
    limit: int,
    next_token: str | None,
) -> tuple[list[SignalOut], str | None]:
    """``list_signals`` in a ``TenantRead``: one statement, rows straight into ``SignalOut``."""
    if not is_aws_account_id(aws_account_id):
        raise NotFound("account not found")
    check_limit(limit)
    args: list[Any] = [read.tenant_id, aws_account_id]

    def bound(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    filters = []
    if severity is not None:
        filters.append(f"AND s.severity = {bound(parse_severity_filter(severity).value)}")
    if scenario is not None:
        if not scenario or len(scenario) > 64:
            raise BadRequest("scenario: must be a scenario id such as iam or billing")
        filters.append(f"AND s.scenario = {bound(scenario)}")
    since_at = parse_since(since)
    if since_at is not None:
        filters.append(f"AND s.detected_at > {bound(since_at)}")
    scope = f"signals:{aws_account_id}"
    after = keyset_after(cursors, scope, next_token)
    if after is not None:
        filters.append(f"AND (s.detected_at, s.id) < ({bound(after[0])}, {bound(after[1])})")
    sql = _PAGE_SQL.format(filters="\n  ".join(filters), limit=bound(limit + 1))
    rows = await read.fetch(sql, *args)
    if not rows:
        if await read.fetchrow(_ACCOUNT_SQL, read.tenant_id, aws_account_id) is None:
            raise NotFound("account not found")
        return [], None
    await read.end()  # the rest is Python: the connection goes back to the pool now
    token = None
    if len(rows) > limit:
        rows = rows[:limit]
        token = next_page_token(cursors, scope, rows[-1][10], rows[-1][0])
    return [signal_out_of_record(row) for row in rows], token


async def open_signals(session: AsyncSession, account_id: str) -> list[Signal]:
    """The account's open signals, oldest first."""
    return list(
        await session.scalars(
            select(Signal)
            .where(Signal.account_id == account_id, Signal.resolved_at.is_(None))
            .order_by(Signal.detected_at, Signal.id)
        )
    )


async def open_counts_by_severity(
    session: AsyncSession, account_ids: Sequence[str]
) -> dict[str, dict[Severity, int]]:
    """How many open signals of each severity each account has, by account row id."""
    counts: dict[str, dict[Severity, int]] = defaultdict(dict)
    if not account_ids:
        return counts
    rows = await session.execute(
        select(Signal.account_id, Signal.severity, func.count())
        .where(Signal.account_id.in_(account_ids), Signal.resolved_at.is_(None))
        .group_by(Signal.account_id, Signal.severity)
    )
    for account_id, severity, count in rows:
        counts[account_id][Severity(severity)] = int(count)
    return counts


async def iter_signals(
    session_factory: SessionOpener, tenant_id: str, account_id: str, batch: int = EXPORT_BATCH
) -> AsyncIterator[Signal]:
    """Every signal of the account, oldest first, one short tenant-scoped session per batch.

    A streamed response outlives its request's session, and a batch at a time keeps memory flat.
    """
    after: tuple[object, str] | None = None
    while True:
        async with session_factory() as session:
            tenant_scope(session, tenant_id)
            query = select(Signal).where(Signal.account_id == account_id)
            if after is not None:
                detected, last_id = after
                query = query.where(
                    or_(
                        Signal.detected_at > detected,
                        and_(Signal.detected_at == detected, Signal.id > last_id),
                    )
                )
            rows = list(await session.scalars(query.order_by(Signal.detected_at, Signal.id).limit(batch)))
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = (rows[-1].detected_at, rows[-1].id)
