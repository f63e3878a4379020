"""Deciding, after each scan, which rules fire, which alerts stay quiet and which have cleared.

A rule's *condition* for an account holds while its score is below ``min_srs`` or an open signal
matches the rule (scenario filter and minimum severity). The alert is keyed by the set of matching
signal ids: while no signal outside the alert's set appears, nothing new is sent (acknowledged or
not); a new matching signal replaces the alert with a new one; when the condition clears, the alert
is resolved. Runs inside the scan's transaction; deliveries are queued for after its commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.alerts.channels.base import AlertEventType
from vigilare.alerts.jobs import deliver_alert, delivery_job_id
from vigilare.alerts.models import QUEUED, Alert, AlertDelivery, AlertRule
from vigilare.ids import new_id
from vigilare.jobs import enqueue_after_commit
from vigilare.plugin.model import Severity
from vigilare.signals.models import Signal
from vigilare.signals.service import open_signals
from vigilare.signals.view import signal_view


def _rank(severity: str, unknown: int) -> int:
    try:
        return Severity.parse(severity).rank
    except ValueError:
        return unknown


def matching_signals(rule: AlertRule, signals: Sequence[Signal]) -> list[Signal]:
    """The signals the rule matches: of its scenarios (all when it names none), at its minimum
    severity or worse. A rule stored with a severity Vigilare does not know counts as HIGH, the default."""
    floor = _rank(rule.min_severity, unknown=Severity.HIGH.rank)
    return [
        signal
        for signal in signals
        if (not rule.scenarios or signal.scenario in rule.scenarios)
        and _rank(signal.severity, unknown=0) >= floor
    ]


def is_below_threshold(rule: AlertRule, account: AwsAccount) -> bool:
    return account.current_srs is not None and account.current_srs < rule.min_srs


async def evaluate_rules(
    session: AsyncSession, account: AwsAccount, now: datetime, signals: Sequence[Signal] | None = None
) -> list[Alert]:
    """Fire, keep or resolve each rule's alert for this account; returns the alerts fired.

    ``signals``: the account's open signals when the caller has them (read otherwise)."""
    rules = list(
        await session.scalars(
            select(AlertRule).where(AlertRule.tenant_id == account.tenant_id).order_by(AlertRule.id)
        )
    )
    if not rules:
        return []
    if signals is None:
        signals = await open_signals(session, account.id)
    open_alerts = {
        alert.rule_id: alert
        for alert in await session.scalars(
            select(Alert).where(Alert.account_id == account.id, Alert.resolved_at.is_(None))
        )
    }
    fired = []
    for rule in rules:
        current = open_alerts.get(rule.id)
        matching = matching_signals(rule, signals)
        below = is_below_threshold(rule, account)
        if not rule.enabled or (not below and not matching):
            # A disabled rule never fires, but its open alert still clears when the condition does.
            if current is not None and not below and not matching:
                resolve_alert(session, current, rule, now)
            continue
        if current is not None and {s.id for s in matching} <= set(current.signal_ids):
            continue  # nothing new since this alert was sent (acknowledged or not): stay quiet
        if current is not None:
            resolve_alert(session, current, rule, now)  # superseded by the alert for the new set
        fired.append(fire_alert(session, rule, account, matching, below, now))
    await session.flush()
    return fired


def fire_alert(
    session: AsyncSession,
    rule: AlertRule,
    account: AwsAccount,
    matching: Sequence[Signal],
    below: bool,
    now: datetime,
) -> Alert:
    alert = Alert(
        id=new_id(),
        tenant_id=account.tenant_id,
        rule_id=rule.id,
        rule_name=rule.name,
        account_id=account.id,
        aws_account_id=account.aws_account_id,
        srs_at_trigger=account.current_srs,
        below_min_srs=below,
        scenarios_triggered=sorted({signal.scenario for signal in matching}),
        signal_ids=sorted(signal.id for signal in matching),
        signals=[signal_view(signal).alert_snapshot() for signal in matching],
        fired_at=now,
    )
    session.add(alert)
    queue_deliveries(session, alert, rule.channels, AlertEventType.TRIGGER, now)
    return alert


def resolve_alert(session: AsyncSession, alert: Alert, rule: AlertRule | None, now: datetime) -> None:
    alert.resolved_at = now
    if rule is not None:
        queue_deliveries(session, alert, rule.channels, AlertEventType.RESOLVE, now)


def queue_deliveries(
    session: AsyncSession,
    alert: Alert,
    channels: Sequence[dict[str, Any]],
    event: AlertEventType,
    now: datetime,
) -> list[AlertDelivery]:
    """One delivery row and one job per channel. Acknowledge and resolve only concern PagerDuty,
    whose incident must follow the alert; email and Slack are told when an alert fires."""
    rows = []
    for stored in channels:
        if event is not AlertEventType.TRIGGER and stored.get("type") != "pagerduty":
            continue
        row = AlertDelivery(
            id=new_id(),
            tenant_id=alert.tenant_id,
            alert_id=alert.id,
            event=event.value,
            channel=dict(stored),
            channel_type=str(stored.get("type")),
            status=QUEUED,
            attempts=0,
            created_at=now,
        )
        session.add(row)
        enqueue_after_commit(session, deliver_alert, row.id, job_id=delivery_job_id(row.id))
        rows.append(row)
    return rows
