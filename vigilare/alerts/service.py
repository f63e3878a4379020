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
from vigilare.db.pagination import CursorCodec, newest_first_page
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
