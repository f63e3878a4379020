"""Listing an account's signals: filters and keyset pagination, newest first."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.service import get_account
from vigilare.api.pagination import CursorCodec, check_limit
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
    scope = f"signals:{account.id}"
    if next_token:
        detected_iso, last_id = cursors.decode(scope, next_token)
        try:
            detected = datetime.fromisoformat(str(detected_iso))
        except ValueError as exc:
            raise BadRequest("next_token: invalid or expired pagination token") from exc
        query = query.where(
            or_(Signal.detected_at < detected, and_(Signal.detected_at == detected, Signal.id < str(last_id)))
        )
    rows = list(
        await session.scalars(query.order_by(Signal.detected_at.desc(), Signal.id.desc()).limit(limit + 1))
    )
    token = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = cursors.encode(scope, [last.detected_at.isoformat(), last.id])
    return rows, token
