"""Rule evaluation over rows inserted directly: when a rule fires, stays quiet, re-fires, resolves."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.support.alerts import new_signal, new_tenant_and_account
from vigilare.accounts.models import AwsAccount
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.ids import new_id, utcnow

PAGERDUTY_STORED = {"type": "pagerduty", "routing_key_encrypted": "ciphertext"}
EMAIL_STORED = {"type": "email", "to": ["oncall@acme.test"]}


def _rule(tenant_id: str, **fields: Any) -> AlertRule:
    values: dict[str, Any] = {
        "name": "Critical",
        "min_srs": 0,
        "min_severity": "HIGH",
        "scenarios": [],
        "channels": [EMAIL_STORED, PAGERDUTY_STORED],
        "enabled": True,
    }
    values.update(fields)
    return AlertRule(id=new_id(), tenant_id=tenant_id, **values)


async def _evaluate(db, account_id: str) -> list[Alert]:
    async with db() as session:
        account = await session.get_one(AwsAccount, account_id)
        fired = await evaluate_rules(session, account, utcnow())
        await session.commit()
        return fired


async def _state(db) -> tuple[list[Alert], list[AlertDelivery]]:
    async with db() as session:
        alerts = list(await session.scalars(select(Alert).order_by(Alert.fired_at, Alert.id)))
        deliveries = list(await session.scalars(select(AlertDelivery).order_by(AlertDelivery.created_at)))
        return alerts, deliveries


async def _seed(db, *rows: Any, srs: int = 100) -> tuple[str, Any]:
    tenant, account = new_tenant_and_account(srs=srs)
    async with db() as session:
        session.add(tenant)
        await session.flush()
        session.add(account)
        await session.flush()
        for row in rows:
            row = row(account) if callable(row) else row
            row.tenant_id = tenant.id
            session.add(row)
        await session.commit()
    return tenant.id, account


async def test_a_matching_signal_fires_one_alert_with_a_delivery_per_channel(db):
    tenant_id, account = await _seed(db)
    async with db() as session:
        session.add(_rule(tenant_id))
        signal = new_signal(account, "iam", "CRITICAL")
        session.add(signal)
        await session.commit()

    [fired] = await _evaluate(db, account.id)

    alerts, deliveries = await _state(db)
    assert [a.id for a in alerts] == [fired.id]
    assert fired.signal_ids == [signal.id] and fired.scenarios_triggered == ["iam"]
    assert fired.aws_account_id == "210987654321" and fired.resolved_at is None
    assert fired.signals[0]["title"] == signal.title
    assert sorted((d.event, d.channel_type) for d in deliveries) == [
        ("trigger", "email"),
        ("trigger", "pagerduty"),
    ]


@pytest.mark.parametrize(
    ("rule_fields", "srs", "signal"),
    [
        # The score is above the threshold and no signal matches.
        ({"min_srs": 40}, 86, ("exposure", "MEDIUM")),
        # Below the rule's minimum severity.
        ({"min_severity": "HIGH"}, 100, ("exposure", "LOW")),
        ({"min_severity": "CRITICAL"}, 100, ("exposure", "HIGH")),
        # Scenario not in the rule's filter.
        ({"scenarios": ["billing"]}, 100, ("iam", "CRITICAL")),
        # Disabled rule.
        ({"enabled": False, "min_srs": 100}, 5, ("iam", "CRITICAL")),
    ],
)
async def test_rules_that_must_not_fire(db, rule_fields, srs, signal):
    tenant_id, account = await _seed(db, srs=srs)
    async with db() as session:
        session.add(_rule(tenant_id, **rule_fields))
        session.add(new_signal(account, *signal))
        await session.commit()

    assert await _evaluate(db, account.id) == []
    assert await _state(db) == ([], [])


async def test_a_score_below_min_srs_fires_without_matching_signals(db):
    tenant_id, account = await _seed(db, srs=35)
    async with db() as session:
        session.add(_rule(tenant_id, min_srs=40, scenarios=["billing"]))
        session.add(new_signal(account, "iam", "CRITICAL"))
        await session.commit()

    [fired] = await _evaluate(db, account.id)
    assert fired.srs_at_trigger == 35 and fired.below_min_srs and fired.signal_ids == []
    # Still below and nothing new: no second alert.
    assert await _evaluate(db, account.id) == []


async def test_same_signal_set_is_deduplicated_and_a_new_signal_fires_again(db):
    tenant_id, account = await _seed(db)
    first = new_signal(account, "iam", "CRITICAL")
    async with db() as session:
        session.add(_rule(tenant_id))
        session.add(first)
        await session.commit()
    [original] = await _evaluate(db, account.id)

    for _ in range(3):
        assert await _evaluate(db, account.id) == []
    alerts, deliveries = await _state(db)
    assert len(alerts) == 1 and len(deliveries) == 2

    second = new_signal(account, "exposure", "HIGH", title="Public bucket")
    async with db() as session:
        session.add(second)
        await session.commit()
    [refired] = await _evaluate(db, account.id)

    assert refired.signal_ids == sorted([first.id, second.id])
    alerts, deliveries = await _state(db)
    old = next(a for a in alerts if a.id == original.id)
    # The old alert is superseded: resolved, and its PagerDuty incident closed.
    assert old.resolved_at is not None
    assert sorted((d.alert_id == old.id, d.event, d.channel_type) for d in deliveries) == [
        (False, "trigger", "email"),
        (False, "trigger", "pagerduty"),
        (True, "resolve", "pagerduty"),
        (True, "trigger", "email"),
        (True, "trigger", "pagerduty"),
    ]


async def test_a_shrinking_set_stays_quiet_and_a_cleared_condition_resolves(db):
    tenant_id, account = await _seed(db)
    first, second = new_signal(account, "iam", "CRITICAL"), new_signal(account, "exposure", "HIGH")
    async with db() as session:
        session.add(_rule(tenant_id))
        session.add_all([first, second])
        await session.commit()
    [alert] = await _evaluate(db, account.id)

    async with db() as session:
        (await session.get_one(type(first), first.id)).resolved_at = utcnow()
        await session.commit()
    assert await _evaluate(db, account.id) == []
    alerts, _ = await _state(db)
    assert alerts[0].resolved_at is None

    async with db() as session:
        (await session.get_one(type(second), second.id)).resolved_at = utcnow()
        await session.commit()
    assert await _evaluate(db, account.id) == []
    alerts, deliveries = await _state(db)
    assert alerts[0].id == alert.id and alerts[0].resolved_at is not None
    # Resolve goes to PagerDuty only; email and Slack were told when it fired.
    assert [(d.event, d.channel_type) for d in deliveries if d.event != "trigger"] == [
        ("resolve", "pagerduty")
    ]


async def test_an_acknowledged_alert_is_not_renotified_until_its_findings_change(db):
    tenant_id, account = await _seed(db)
    async with db() as session:
        session.add(_rule(tenant_id))
        session.add(new_signal(account, "iam", "CRITICAL"))
        await session.commit()
    [alert] = await _evaluate(db, account.id)
    async with db() as session:
        (await session.get_one(Alert, alert.id)).acknowledged_at = utcnow()
        await session.commit()

    assert await _evaluate(db, account.id) == []
    _, deliveries = await _state(db)
    assert len(deliveries) == 2

    async with db() as session:
        session.add(new_signal(account, "iam", "HIGH", title="Access key older than a year"))
        await session.commit()
    [refired] = await _evaluate(db, account.id)
    assert refired.acknowledged_at is None


async def test_rules_only_see_their_own_tenants_accounts(db):
    _tenant_id, account = await _seed(db)
    other_tenant, _other_account = await _seed(db)
    async with db() as session:
        session.add(_rule(other_tenant, min_srs=100))
        session.add(new_signal(account, "iam", "CRITICAL"))
        await session.commit()
    assert await _evaluate(db, account.id) == []
