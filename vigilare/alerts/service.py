"""Fired alerts: listing with their deliveries, and acknowledgement. Tenant-scoped; never commits."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.alerts.channels.base import AlertEventType
from vigilare.alerts.evaluation import queue_deliveries
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.auth.roles import Principal
from vigilare.db.pagination import CursorCodec, check_limit, keyset_after, newest_first_page, next_page_token
from vigilare.db.reads import TenantRead, utc_text
from vigilare.errors import NotFound
from vigilare.ids import utcnow

# What a listing reads of each alert: what the API and the console show, as rows (not the entity,
# and never the signals snapshot kept for notifications).
LISTED_COLUMNS = (
    Alert.id,
    Alert.rule_id,
    Alert.rule_name,
    Alert.aws_account_id,
    Alert.srs_at_trigger,
    Alert.scenarios_triggered,
    Alert.signal_ids,
    Alert.fired_at,
    Alert.acknowledged_at,
    Alert.acknowledged_by,
    Alert.resolved_at,
)


async def list_alerts(
    session: AsyncSession,
    cursors: CursorCodec,
    *,
    aws_account_id: str | None,
    acknowledged: bool | None,
    limit: int,
    next_token: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """Newest first, keyset-paginated on (fired_at, id): rows of ``LISTED_COLUMNS``."""
    query = select(*LISTED_COLUMNS)
    if aws_account_id is not None:
        query = query.where(Alert.aws_account_id == aws_account_id)
    if acknowledged is not None:
        column = Alert.acknowledged_at
        query = query.where(column.is_not(None) if acknowledged else column.is_(None))
    # The filters are part of the scope: a token only continues the listing it came from.
    scope = f"alerts:{aws_account_id or '*'}:{acknowledged}"
    return await newest_first_page(
        session,
        query,
        Alert.fired_at,
        Alert.id,
        cursors=cursors,
        scope=scope,
        limit=limit,
        next_token=next_token,
    )


async def deliveries_of(session: AsyncSession, alert_ids: list[str]) -> dict[str, list[AlertDelivery]]:
    found: dict[str, list[AlertDelivery]] = defaultdict(list)
    if not alert_ids:
        return found
    for delivery in await session.scalars(
        select(AlertDelivery)
        .where(AlertDelivery.alert_id.in_(alert_ids))
        .order_by(AlertDelivery.created_at, AlertDelivery.id)
    ):
        found[delivery.alert_id].append(delivery)
    return found


# ``list_alerts`` and ``deliveries_of`` for a ``TenantRead`` (PostgreSQL's hot path); ``$1`` is the
# read's tenant.
_PAGE_SQL = f"""
SELECT a.id, a.rule_id, a.rule_name, a.aws_account_id, a.srs_at_trigger, a.scenarios_triggered,
       a.signal_ids, {utc_text("a.fired_at")}, {utc_text("a.acknowledged_at")}, a.acknowledged_by,
       {utc_text("a.resolved_at")},
       (SELECT array_agg(ROW(d.event, d.channel_type, d.channel, d.status, d.attempts, d.last_status_code,
                             d.last_error, {utc_text("d.last_attempt_at")}, {utc_text("d.delivered_at")})
                         ORDER BY d.created_at, d.id)
        FROM alert_deliveries d WHERE d.tenant_id = $1 AND d.alert_id = a.id) AS deliveries
FROM alerts a
WHERE a.tenant_id = $1 {{filters}}
ORDER BY a.fired_at DESC, a.id DESC
LIMIT {{limit}}
"""  # noqa: S608 (the SQL of utc_text, a constant: no value is written in)


async def read_alerts_page(
    read: TenantRead,
    cursors: CursorCodec,
    *,
    aws_account_id: str | None,
    acknowledged: bool | None,
    limit: int,
    next_token: str | None,
) -> tuple[list[Any], str | None]:
    """``list_alerts`` and the page's ``deliveries_of`` in a ``TenantRead``, in one statement: records
    of the page (``LISTED_COLUMNS``' order, then the alert's deliveries as a list of records of
    event, channel_type, channel, status, attempts, last_status_code, last_error, last_attempt_at,
    delivered_at, or None), and the next token. Timestamps come as the API writes them (``utc_text``)."""
    check_limit(limit)
    args: list[Any] = [read.tenant_id]

    def bound(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    filters = []
    if aws_account_id is not None:
        filters.append(f"AND a.aws_account_id = {bound(aws_account_id)}")
    if acknowledged is not None:
        filters.append(
            "AND a.acknowledged_at IS NOT NULL" if acknowledged else "AND a.acknowledged_at IS NULL"
        )
    scope = f"alerts:{aws_account_id or '*'}:{acknowledged}"
    after = keyset_after(cursors, scope, next_token)
    if after is not None:
        filters.append(f"AND (a.fired_at, a.id) < ({bound(after[0])}, {bound(after[1])})")
    rows = await read.fetch(_PAGE_SQL.format(filters=" ".join(filters), limit=bound(limit + 1)), *args)
    token = None
    if len(rows) > limit:
        rows = rows[:limit]
        token = next_page_token(cursors, scope, rows[-1][7], rows[-1][0])
    await read.end()  # the rest is Python: the connection goes back to the pool now
    return rows, token


async def get_alert(session: AsyncSession, alert_id: str) -> Alert:
    alert = await session.scalar(select(Alert).where(Alert.id == alert_id))
    if alert is None:
        raise NotFound("alert not found")
    return alert


async def acknowledge(session: AsyncSession, principal: Principal, alert_id: str) -> Alert:
    """Record who acknowledged the alert; PagerDuty's incident is acknowledged too. Idempotent."""
    alert = await get_alert(session, alert_id)
    if alert.acknowledged_at is not None:
        return alert
    now = utcnow()
    # Conditional update: of two simultaneous acknowledgements only one records and notifies.
    claimed = await session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=principal.user_id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(alert)
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return alert
    if alert.resolved_at is None and alert.rule_id is not None:
        rule = await session.scalar(select(AlertRule).where(AlertRule.id == alert.rule_id))
        if rule is not None:
            queue_deliveries(session, alert, rule.channels, AlertEventType.ACKNOWLEDGE, now)
    await session.flush()
    return alert
