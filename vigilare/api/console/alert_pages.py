"""Alerts (with each channel's delivery status, and acknowledgement) and alert rules."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.alerts import rules, service
from vigilare.alerts.channel_configs import display_target, masked_channel
from vigilare.alerts.channels.dispatch import EmailChannelConfig, PagerDutyChannelConfig
from vigilare.alerts.models import AlertRule
from vigilare.alerts.schemas import RuleIn, RulePatch
from vigilare.api.console.auth_pages import safe_next
from vigilare.api.console.pages import back_on_error, form_error, redirect, render
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import ADMIN, MEMBER, VIEWER, Principal
from vigilare.config import Settings
from vigilare.crypto import SecretBox, mask_secret
from vigilare.db.pagination import CursorCodec
from vigilare.errors import BadRequest, VigilareError
from vigilare.scans.registry import registry_for

ALERTS_PER_PAGE = 25
BLANK_CHANNEL_ROWS = 2
ALERT_STATES = {"open": False, "acknowledged": True, "all": None}
CHANNEL_TYPES = (("email", "Email"), ("slack", "Slack"), ("pagerduty", "PagerDuty"))


def channel_rows(stored: list[dict[str, Any]], box: SecretBox) -> list[dict[str, str]]:
    """A rule's channels as the form shows them: secrets masked (sent back masked, they are kept)."""
    rows = []
    for channel in stored:
        config = masked_channel(channel, box)
        if isinstance(config, EmailChannelConfig):
            rows.append({"type": "email", "target": ", ".join(config.to)})
        elif isinstance(config, PagerDutyChannelConfig):
            rows.append({"type": "pagerduty", "target": config.routing_key})
        else:
            rows.append({"type": "slack", "target": config.channel or config.webhook_url or ""})
    return rows + [{"type": "", "target": ""} for _ in range(BLANK_CHANNEL_ROWS)]


def channels_from_form(form: FormMultiDict) -> list[dict[str, Any]]:
    """The form's channel rows as the API's channel objects; rows left empty are skipped."""
    channels: list[dict[str, Any]] = []
    kinds, targets = form.getall("channel_type", []), form.getall("channel_target", [])
    for kind, raw in zip(kinds, targets, strict=False):
        target = str(raw).strip()
        if not kind or not target:
            continue
        if kind == "email":
            channels.append({"type": "email", "to": [a for a in re.split(r"[,;\s]+", target) if a]})
        elif kind == "slack":
            is_webhook = target.startswith(("https://", "http://", mask_secret(None)))
            channels.append({"type": "slack", ("webhook_url" if is_webhook else "channel"): target})
        elif kind == "pagerduty":
            channels.append({"type": "pagerduty", "routing_key": target})
        else:
            channels.append({"type": str(kind)})  # refused by the rule's validation, naming the field
    return channels


def _min_srs(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadRequest("min_srs: must be a whole number between 0 and 100") from None


def rule_from_form(form: FormMultiDict) -> RuleIn:
    return RuleIn(
        name=str(form.get("name", "")),
        channels=channels_from_form(form),
        min_srs=_min_srs(form.get("min_srs", "40")),
        min_severity=str(form.get("min_severity", "HIGH")),
        scenarios=[str(s) for s in form.getall("scenarios", [])],
        enabled=form.get("enabled") == "on",
    )


def _typed_rule(form: FormMultiDict) -> dict[str, Any]:
    """What was typed, to show the form again as it was."""
    return {
        "name": str(form.get("name", "")),
        "min_srs": str(form.get("min_srs", "")),
        "min_severity": str(form.get("min_severity", "")),
        "scenarios": [str(s) for s in form.getall("scenarios", [])],
        "enabled": form.get("enabled") == "on",
        "channels": [
            {"type": str(kind), "target": str(target)}
            for kind, target in zip(
                form.getall("channel_type", []), form.getall("channel_target", []), strict=False
            )
        ],
    }


def _form_context(settings: Settings, rule_id: str | None, values: dict[str, Any]) -> dict[str, Any]:
    scenarios = registry_for(settings).scenarios
    return {
        "rule_id": rule_id,
        "values": values,
        "channel_types": CHANNEL_TYPES,
        "scenario_choices": sorted((sid, cls.title) for sid, cls in scenarios.items()),
    }


class AlertPages(Controller):
    path = "/alerts"
    include_in_schema = False

    @get("", guards=[requires_role(VIEWER)])
    async def alerts(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        show: FromQuery[str] = "open",
        next_token: FromQuery[str] = "",
    ) -> Template:
        if show not in ALERT_STATES:
            raise BadRequest(f"show: must be one of {', '.join(ALERT_STATES)}")
        found, token = await service.list_alerts(
            db_session,
            CursorCodec(settings.secret_key),
            aws_account_id=None,
            acknowledged=ALERT_STATES[show],
            limit=ALERTS_PER_PAGE,
            next_token=next_token or None,
        )
        deliveries = await service.deliveries_of(db_session, [alert.id for alert in found])
        box = SecretBox(settings.secret_key)
        return render(
            request,
            "alerts.html",
            alerts=[
                (alert, [(d, display_target(d.channel, box)) for d in deliveries[alert.id]])
                for alert in found
            ],
            show=show,
            choices=list(ALERT_STATES),
            next_token=token,
            paged=bool(next_token),
        )

    @get("/{alert_id:str}", guards=[requires_role(VIEWER)])
    async def alert(
        self,
        request: Request[Any, Any, Any],
        alert_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        found = await service.get_alert(db_session, alert_id)
        deliveries = await service.deliveries_of(db_session, [found.id])
        box = SecretBox(settings.secret_key)
        return render(
            request,
            "alert.html",
            alert=found,
            deliveries=[(d, display_target(d.channel, box)) for d in deliveries[found.id]],
        )

    @post("/{alert_id:str}/ack", guards=[requires_role(MEMBER)])
    async def acknowledge(
        self,
        request: Request[Any, Any, Any],
        alert_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Redirect:
        form = await request.form()
        await service.acknowledge(db_session, principal, alert_id)
        back = safe_next(form.get("back") or f"/app/alerts/{alert_id}")
        return redirect(request, back, message="Alert acknowledged.")


class AlertRulePages(Controller):
    path = "/alert-rules"
    include_in_schema = False

    @get("", guards=[requires_role(VIEWER)])
    async def rules_list(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        box = SecretBox(settings.secret_key)
        found = await rules.list_rules(db_session)
        return render(
            request,
            "rules.html",
            rules=[
                (rule, [(channel["type"], display_target(channel, box)) for channel in rule.channels])
                for rule in found
            ],
        )

    @get("/new", guards=[requires_role(ADMIN)])
    async def new_rule_form(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Template:
        values = {
            "name": "",
            "min_srs": "40",
            "min_severity": "HIGH",
            "scenarios": [],
            "enabled": True,
            "channels": [{"type": "email", "target": ""}, *channel_rows([], SecretBox(settings.secret_key))],
        }
        return render(request, "rule_form.html", error=None, **_form_context(settings, None, values))

    @post("/new", guards=[requires_role(ADMIN)])
    async def create_rule(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = await request.form()
        try:
            rule = await rules.create_rule(
                db_session, principal, SecretBox(settings.secret_key), rule_from_form(form)
            )
        except VigilareError as exc:
            context = _form_context(settings, None, _typed_rule(form))
            raise form_error(request, exc, "rule_form.html", **context) from exc
        return redirect(request, "/alert-rules", message=f"Alert rule “{rule.name}” created.")

    @get("/{rule_id:str}", guards=[requires_role(ADMIN)])
    async def edit_rule_form(
        self,
        request: Request[Any, Any, Any],
        rule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        rule = await rules.get_rule(db_session, rule_id)
        values = _stored_rule(rule, settings)
        return render(request, "rule_form.html", error=None, **_form_context(settings, rule.id, values))

    @post("/{rule_id:str}", guards=[requires_role(ADMIN)])
    async def update_rule(
        self,
        request: Request[Any, Any, Any],
        rule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = await request.form()
        try:
            typed = rule_from_form(form)
            patch = RulePatch(
                name=typed.name,
                channels=typed.channels,
                min_srs=typed.min_srs,
                min_severity=typed.min_severity,
                scenarios=typed.scenarios,
                enabled=typed.enabled,
            )
            rule = await rules.update_rule(db_session, SecretBox(settings.secret_key), rule_id, patch)
        except VigilareError as exc:
            context = _form_context(settings, rule_id, _typed_rule(form))
            raise form_error(request, exc, "rule_form.html", **context) from exc
        return redirect(request, "/alert-rules", message=f"Alert rule “{rule.name}” saved.")

    @post("/{rule_id:str}/enabled", guards=[requires_role(ADMIN)])
    async def set_enabled(
        self,
        request: Request[Any, Any, Any],
        rule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        enabled = (await request.form()).get("enabled") == "true"
        with back_on_error(request, "/alert-rules"):
            rule = await rules.update_rule(
                db_session, SecretBox(settings.secret_key), rule_id, RulePatch(enabled=enabled)
            )
        state = "enabled" if rule.enabled else "disabled"
        return redirect(request, "/alert-rules", message=f"Alert rule “{rule.name}” {state}.")

    @post("/{rule_id:str}/delete", guards=[requires_role(ADMIN)])
    async def delete_rule(
        self,
        request: Request[Any, Any, Any],
        rule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> Redirect:
        await rules.delete_rule(db_session, rule_id)
        return redirect(request, "/alert-rules", message="Alert rule deleted; its open alerts are resolved.")


def _stored_rule(rule: AlertRule, settings: Settings) -> dict[str, Any]:
    return {
        "name": rule.name,
        "min_srs": str(rule.min_srs),
        "min_severity": rule.min_severity,
        "scenarios": list(rule.scenarios),
        "enabled": rule.enabled,
        "channels": channel_rows(list(rule.channels), SecretBox(settings.secret_key)),
    }
