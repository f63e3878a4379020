"""Routes: alert rules, fired alerts and acknowledgement, the Slack install."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import CookieParameter, FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.alerts import rules, service, slack_install
from vigilare.alerts.channel_configs import display_target, masked_channel
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.alerts.schemas import (
    AckOut,
    AlertOut,
    AlertsOut,
    DeliveryOut,
    MessageOut,
    OAuthStartOut,
    RuleIn,
    RuleOut,
    RulePatch,
    RulesOut,
)
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import ADMIN, MEMBER, VIEWER, Principal
from vigilare.config import Settings
from vigilare.crypto import SecretBox
from vigilare.db.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorCodec
from vigilare.db.reads import TENANT_READ, ListingSource, json_list, json_object
from vigilare.ids import isoformat


def rule_out(rule: AlertRule, box: SecretBox) -> RuleOut:
    return RuleOut(
        rule_id=rule.id,
        name=rule.name,
        min_srs=rule.min_srs,
        min_severity=rule.min_severity,
        scenarios=list(rule.scenarios),
        channels=[masked_channel(stored, box) for stored in rule.channels],
        enabled=rule.enabled,
        created_at=isoformat(rule.created_at) or "",
        updated_at=isoformat(rule.updated_at) or "",
    )


def delivery_out(delivery: AlertDelivery, box: SecretBox) -> DeliveryOut:
    return DeliveryOut(
        event=delivery.event,
        channel_type=delivery.channel_type,
        target=display_target(delivery.channel, box),
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        last_attempt_at=isoformat(delivery.last_attempt_at),
        delivered_at=isoformat(delivery.delivered_at),
    )


def alert_out(alert: Alert | Row[Any], deliveries: list[AlertDelivery], box: SecretBox) -> AlertOut:
    """An alert (or a listed row of it, ``service.LISTED_COLUMNS``) as the API shows it."""
    return AlertOut(
        alert_id=alert.id,
        aws_account_id=alert.aws_account_id,
        rule_id=alert.rule_id,
        rule_name=alert.rule_name,
        srs_at_trigger=alert.srs_at_trigger,
        scenarios_triggered=list(alert.scenarios_triggered),
        signal_ids=list(alert.signal_ids),
        fired_at=isoformat(alert.fired_at) or "",
        acknowledged_at=isoformat(alert.acknowledged_at),
        acknowledged_by=alert.acknowledged_by,
        resolved_at=isoformat(alert.resolved_at),
        deliveries=[delivery_out(d, box) for d in deliveries],
    )


def alert_out_of_record(alert: Any, box: SecretBox | None) -> AlertOut:
    """``alert_out`` of a record a ``TenantRead`` reads (``service.read_alerts_page``): the alert in
    ``service.LISTED_COLUMNS``' order, then its deliveries, shown as ``delivery_out`` shows them; its
    timestamps already written as the API writes them (``vigilare.db.reads.utc_text``)."""
    (
        alert_id,
        rule_id,
        rule_name,
        aws_account_id,
        srs_at_trigger,
        scenarios_triggered,
        signal_ids,
        fired_at,
        acknowledged_at,
        acknowledged_by,
        resolved_at,
        deliveries,
    ) = alert
    return AlertOut(
        alert_id=alert_id,
        aws_account_id=aws_account_id,
        rule_id=rule_id,
        rule_name=rule_name,
        srs_at_trigger=srs_at_trigger,
        scenarios_triggered=json_list(scenarios_triggered),
        signal_ids=json_list(signal_ids),
        fired_at=fired_at or "",
        acknowledged_at=acknowledged_at,
        acknowledged_by=acknowledged_by,
        resolved_at=resolved_at,
        deliveries=[_delivery_out_of_record(d, box) for d in deliveries or ()],
    )


def _delivery_out_of_record(delivery: Any, box: SecretBox | None) -> DeliveryOut:
    if box is None:
        raise ValueError("a delivery's target is shown through the secret box")
    (
        event,
        channel_type,
        channel,
        status,
        attempts,
        last_status_code,
        last_error,
        last_attempt_at,
        delivered_at,
    ) = delivery
    return DeliveryOut(
        event=event,
        channel_type=channel_type,
        target=display_target(json_object(channel), box),
        status=status,
        attempts=attempts,
        last_status_code=last_status_code,
        last_error=last_error,
        last_attempt_at=last_attempt_at,
        delivered_at=delivered_at,
    )


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key)


class AlertRulesController(Controller):
    path = "/alert-rules"
    tags = ["Alert Rules"]

    @get("", summary="List alert rules", guards=[requires_role(VIEWER)])
    async def list_rules(
        self, db_session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
    ) -> RulesOut:
        found = await rules.list_rules(db_session)
        box = _box(settings)
        return RulesOut(rules=[rule_out(rule, box) for rule in found], count=len(found))

    @post("", status_code=201, summary="Create an alert rule", guards=[requires_role(ADMIN)])
    async def create_rule(
        self,
        data: JSONBody[RuleIn],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> RuleOut:
        box = _box(settings)
        return rule_out(await rules.create_rule(db_session, principal, box, data), box)

    @patch("/{rule_id:str}", summary="Update an alert rule", guards=[requires_role(ADMIN)])
    async def update_rule(
        self,
        rule_id: FromPath[str],
        data: JSONBody[RulePatch],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> RuleOut:
        box = _box(settings)
        return rule_out(await rules.update_rule(db_session, box, rule_id, data), box)

    @delete("/{rule_id:str}", status_code=200, summary="Delete an alert rule", guards=[requires_role(ADMIN)])
    async def delete_rule(
        self, rule_id: FromPath[str], db_session: NamedDependency[AsyncSession]
    ) -> MessageOut:
        await rules.delete_rule(db_session, rule_id)
        return MessageOut(message="Alert rule deleted")


class AlertsController(Controller):
    path = "/alerts"
    tags = ["Alerts"]

    @get("", summary="List alert events", guards=[requires_role(VIEWER)], opt={TENANT_READ: True})
    async def list_alerts(
        self,
        listing_source: NamedDependency[ListingSource],
        account_id: FromQuery[str | None] = None,
        acknowledged: FromQuery[bool | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        next_token: FromQuery[str | None] = None,
    ) -> AlertsOut:
        cursors = CursorCodec(listing_source.secret_key)
        if listing_source.read is not None:
            page, token = await service.read_alerts_page(
                listing_source.read,
                cursors,
                aws_account_id=account_id,
                acknowledged=acknowledged,
                limit=limit,
                next_token=next_token,
            )
            # Only deliveries show a (masked) secret: no box for a page without any.
            box = SecretBox(listing_source.secret_key) if any(row[11] for row in page) else None
            return AlertsOut(
                alerts=[alert_out_of_record(row, box) for row in page],
                count=len(page),
                next_token=token,
            )
        db_session = listing_source.orm_session()
        found, token = await service.list_alerts(
            db_session,
            cursors,
            aws_account_id=account_id,
            acknowledged=acknowledged,
            limit=limit,
            next_token=next_token,
        )
        deliveries = await service.deliveries_of(db_session, [alert.id for alert in found])
        box = SecretBox(listing_source.secret_key)
        return AlertsOut(
            alerts=[alert_out(alert, deliveries[alert.id], box) for alert in found],
            count=len(found),
            next_token=token,
        )

    @get("/{alert_id:str}", summary="Get an alert event with its deliveries", guards=[requires_role(VIEWER)])
    async def get_alert(
        self,
        alert_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> AlertOut:
        alert = await service.get_alert(db_session, alert_id)
        deliveries = await service.deliveries_of(db_session, [alert.id])
        return alert_out(alert, deliveries[alert.id], _box(settings))

    @post(
        "/{alert_id:str}/ack",
        status_code=200,
        summary="Acknowledge an alert",
        guards=[requires_role(MEMBER)],
    )
    async def acknowledge(
        self,
        alert_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> AckOut:
        alert = await service.acknowledge(db_session, principal, alert_id)
        return AckOut(
            alert_id=alert.id,
            acknowledged_at=isoformat(alert.acknowledged_at) or "",
            acknowledged_by=alert.acknowledged_by,
        )


def slack_install_cookie(settings: Settings, start: slack_install.InstallStart) -> Cookie:
    """The cookie that binds a Slack install to the browser that started it (the API's start route
    and the console's "Add to Slack" button both set it).

    Sent only to the callback; Lax, so Slack's top-level redirect back still carries it.
    """
    return Cookie(
        key=slack_install.BROWSER_COOKIE,
        value=start.browser_nonce,
        max_age=slack_install.STATE_TTL_SECONDS,
        path=slack_install.CALLBACK_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


class SlackIntegrationController(Controller):
    tags = ["Integrations"]

    @get(
        "/integrations/slack/oauth-start",
        summary="Start the Slack OAuth flow",
        guards=[requires_role(ADMIN)],
    )
    async def oauth_start(
        self, principal: NamedDependency[Principal], settings: NamedDependency[Settings]
    ) -> Response[OAuthStartOut]:
        # The cookie binds the install to this browser: call this from the browser that will
        # follow oauth_url.
        start = slack_install.start_install(settings, principal)
        cookie = slack_install_cookie(settings, start)
        return Response(OAuthStartOut(oauth_url=start.oauth_url), cookies=[cookie])

    @get(
        "/webhooks/slack/install",
        summary="Slack OAuth callback (Slack redirects the browser here)",
        # A browser lands here: a failed install is shown as a page that says why.
        opt={"public": True, "browser_landing": True},
        security=[],
    )
    async def install(
        self,
        unscoped_db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        code: FromQuery[str | None] = None,
        # ``state`` is a name Litestar reserves for the app state: read the query value under another.
        oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
        error: FromQuery[str | None] = None,
        browser_nonce: Annotated[str | None, CookieParameter(name=slack_install.BROWSER_COOKIE)] = None,
    ) -> Response[None]:
        await slack_install.complete_install(
            unscoped_db_session, settings, code, oauth_state, error, browser_nonce
        )
        return Redirect(path=settings.slack_install_redirect, status_code=302)
