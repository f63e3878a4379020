"""Listing an account's signals: filters and keyset pagination, newest first."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.service import get_account
from vigilare.db.pagination import CursorCodec, check_limit, newest_first_page
from vigilare.errors import BadRequest
from vigilare.scans.models import Signal

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("since: must be an ISO 8601 timestamp, e.g. 2026-05-22T09:45:00+00:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
) -> tuple[list[Signal], str | None]:
    account = await get_account(session, aws_account_id)
    check_limit(limit)
    query = select(Signal).where(Signal.account_id == account.id)
    if severity is not None:
        if severity.upper() not in SEVERITIES:
            raise BadRequest(f"severity: must be one of {', '.join(SEVERITIES)}")
        query = query.where(Signal.severity == severity.upper())
    if scenario is not None:
        if not scenario or len(scenario) > 64:
            raise BadRequest("scenario: must be a scenario id such as iam or billing")
        query = query.where(Signal.scenario == scenario)
    since_at = parse_since(since)
    if since_at is not None:
        query = query.where(Signal.detected_at > since_at)
    return await newest_first_page(
        session,
        query,
        Signal.detected_at,
        Signal.id,
        cursors=cursors,
        scope=f"signals:{account.id}",
        limit=limit,
        next_token=next_token,
    )
