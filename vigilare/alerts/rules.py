"""Alert rules: validation and storage. Runs on tenant-scoped sessions; never commits."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.alerts.channel_configs import parse_channels
from vigilare.alerts.evaluation import resolve_alert
from vigilare.alerts.models import Alert, AlertRule, SlackInstallation
from vigilare.alerts.schemas import RuleIn, RulePatch
from vigilare.auth.roles import Principal
from vigilare.crypto import SecretBox
from vigilare.errors import BadRequest, NotFound
from vigilare.ids import new_id, utcnow
from vigilare.plugin.model import Severity

MAX_SCENARIOS = 50
_SCENARIO_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= 200:
        raise BadRequest("name: must be 1 to 200 characters")
    return name


def _min_srs(value: int) -> int:
    if not 0 <= value <= 100:
        raise BadRequest("min_srs: must be between 0 and 100")
    return value


def _min_severity(value: str) -> str:
    try:
        return Severity.parse(value.strip()).value
    except ValueError:
        raise BadRequest(f"min_severity: must be one of {Severity.choices()}") from None


def _scenarios(values: list[str]) -> list[str]:
    if len(values) > MAX_SCENARIOS:
        raise BadRequest(f"scenarios: at most {MAX_SCENARIOS} scenario ids")
    for value in values:
        if not _SCENARIO_ID.match(value):
            raise BadRequest(f"scenarios: {value!r} is not a scenario id such as iam or billing")
    return sorted(set(values))


async def slack_installed(session: AsyncSession) -> bool:
    return await session.scalar(select(SlackInstallation.id).limit(1)) is not None


async def slack_installation(session: AsyncSession) -> SlackInstallation | None:
    """The tenant's Slack workspace, as its last install left it (None: Slack not connected)."""
    return await session.scalar(select(SlackInstallation).limit(1))


async def list_rules(session: AsyncSession) -> list[AlertRule]:
    return list(await session.scalars(select(AlertRule).order_by(AlertRule.created_at, AlertRule.id)))


async def get_rule(session: AsyncSession, rule_id: str) -> AlertRule:
    rule = await session.scalar(select(AlertRule).where(AlertRule.id == rule_id))
    if rule is None:
        raise NotFound("alert rule not found")
    return rule


async def create_rule(session: AsyncSession, principal: Principal, box: SecretBox, data: RuleIn) -> AlertRule:
    rule = AlertRule(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=_name(data.name),
        min_srs=_min_srs(data.min_srs),
        min_severity=_min_severity(data.min_severity),
        scenarios=_scenarios(data.scenarios),
        channels=parse_channels(data.channels, box, slack_installed=await slack_installed(session)),
        enabled=data.enabled,
    )
    session.add(rule)
    await session.flush()
    return rule


async def update_rule(session: AsyncSession, box: SecretBox, rule_id: str, data: RulePatch) -> AlertRule:
    rule = await get_rule(session, rule_id)
    changes: dict[str, Any] = {}
    if data.name is not msgspec.UNSET:
        changes["name"] = _name(data.name)
    if data.min_srs is not msgspec.UNSET:
        changes["min_srs"] = _min_srs(data.min_srs)
    if data.min_severity is not msgspec.UNSET:
        changes["min_severity"] = _min_severity(data.min_severity)
    if data.scenarios is not msgspec.UNSET:
        changes["scenarios"] = _scenarios(data.scenarios)
    if data.channels is not msgspec.UNSET:
        changes["channels"] = parse_channels(
            data.channels, box, slack_installed=await slack_installed(session), previous=rule.channels
        )
    if data.enabled is not msgspec.UNSET:
        changes["enabled"] = data.enabled
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.updated_at = utcnow()
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, rule_id: str) -> None:
    """Delete the rule; its open alerts are resolved (PagerDuty incidents closed), history kept."""
    rule = await get_rule(session, rule_id)
    now = utcnow()
    open_alerts = await session.scalars(
        select(Alert).where(Alert.rule_id == rule.id, Alert.resolved_at.is_(None))
    )
    for alert in open_alerts:
        resolve_alert(session, alert, rule, now)
    await session.flush()
    await session.delete(rule)
