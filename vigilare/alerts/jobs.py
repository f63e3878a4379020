"""The delivery job: one notification to one channel, retried with backoff, each attempt recorded.

A channel that is down only delays its own job: every channel of an alert has its own delivery.
A run claims the delivery before sending (``sending_until``), so the same job handed over twice
(the outbox relay re-hands a job Redis lost while it ran) sends it once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select

from vigilare import links, metrics
from vigilare.accounts.models import AwsAccount
from vigilare.alerts.channel_configs import channel_config
from vigilare.alerts.channels import (
    AlertEventType,
    AlertNotification,
    ChannelConfig,
    ChannelDependencies,
    ChannelType,
    DeliveryResult,
    TriggeringSignal,
    deliver,
)
from vigilare.alerts.models import DELIVERED, FAILED, RETRYING, Alert, AlertDelivery, SlackInstallation
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.crypto import SecretBox, SecretDecryptionError
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, Retry, job
from vigilare.outages import unavailable_dependency
from vigilare.plugin.model import Severity

logger = logging.getLogger("vigilare.alerts")

MAX_RETRY_DELAY_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 10.0
# One run of the job is cut off after this long; its claim on the delivery lasts as long.
DELIVERY_TIMEOUT_SECONDS = 120.0
# Recording a sent notification while the database is unreachable: pauses between tries.
RECORD_RETRY_FIRST_SECONDS = 0.5
RECORD_RETRY_MAX_SECONDS = 5.0
_MAX_ERROR = 1000


def build_notification(
    settings: Settings, alert: Alert, account: AwsAccount | None, tenant: Tenant, event: AlertEventType
) -> AlertNotification:
    return AlertNotification(
        alert_id=alert.id,
        tenant_name=tenant.name,
        aws_account_id=alert.aws_account_id,
        account_name=(account.display_name if account else None) or alert.aws_account_id,
        srs=alert.srs_at_trigger if alert.srs_at_trigger is not None else 100,
        signals=tuple(
            TriggeringSignal(
                severity=Severity(item["severity"]),
                scenario=item["scenario"],
                title=item["title"],
                region=item.get("region"),
                resource=item.get("resource"),
            )
            for item in alert.signals
        ),
        event=event,
        checklist_url=links.checklist_url(settings, alert.aws_account_id),
        dashboard_url=links.account_url(settings, alert.aws_account_id),
        alert_url=links.alert_url(settings, alert.id),
        rule_name=alert.rule_name,
    )


def retry_delay(settings: Settings, attempt: int, result: DeliveryResult) -> float:
    """The remote's Retry-After when it gave one, else exponential backoff from the base delay."""
    if result.retry_after is not None:
        return min(result.retry_after, MAX_RETRY_DELAY_SECONDS)
    return min(settings.alert_retry_base_seconds * 2 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)


@dataclass(frozen=True, slots=True)
class _Prepared:
    config: ChannelConfig
    notification: AlertNotification
    slack_bot_token: str | None


@dataclass(frozen=True, slots=True)
class _Busy:
    """Another run is sending the delivery now, for at most this long."""

    seconds: float


async def _prepare(ctx: JobContext, delivery_id: str) -> _Prepared | _Busy | str:
    """Claim the delivery and read what it needs; a string says why there is nothing (more) to do."""
    box = SecretBox(ctx.settings.secret_key)
    now = utcnow()
    async with ctx.unit_of_work(cross_tenant=True) as session:
        delivery = await session.get(AlertDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.status in (DELIVERED, FAILED):
            return "nothing to do"  # deleted, or a duplicate run of a finished delivery
        if delivery.sending_until is not None and delivery.sending_until > now:
            return _Busy((delivery.sending_until - now).total_seconds())
        # Committed before anything is sent: a second run of this job waits for this one's outcome.
        delivery.sending_until = now + timedelta(seconds=DELIVERY_TIMEOUT_SECONDS)
        alert = await session.get_one(Alert, delivery.alert_id)
        account = await session.get(AwsAccount, alert.account_id)
        tenant = await session.get_one(Tenant, alert.tenant_id)
        installation = await session.scalar(
            select(SlackInstallation).where(SlackInstallation.tenant_id == alert.tenant_id)
        )
        try:
            config = channel_config(delivery.channel, box)
            token = box.decrypt(installation.bot_token_encrypted) if installation else None
            notification = build_notification(
                ctx.settings, alert, account, tenant, AlertEventType(delivery.event)
            )
        except SecretDecryptionError as exc:
            delivery.status, delivery.last_error, delivery.sending_until = FAILED, str(exc), None
            return "undecryptable secret"
        except Exception as exc:  # stored data no version of this code can send: say so on the delivery
            logger.exception("alert delivery %s cannot be prepared", delivery_id)
            delivery.status, delivery.sending_until = FAILED, None
            delivery.last_error = f"delivery failed: {type(exc).__name__}: {exc}"[:_MAX_ERROR]
            return "cannot be prepared"
    return _Prepared(config=config, notification=notification, slack_bot_token=token)


@job("deliver_alert", timeout=DELIVERY_TIMEOUT_SECONDS)
async def deliver_alert(ctx: JobContext, delivery_id: str) -> str:
    prepared = await _prepare(ctx, delivery_id)
    if isinstance(prepared, str):
        return prepared
    if isinstance(prepared, _Busy):
        # The same delivery is being sent by another run (a job handed over twice): never send it
        # twice; look again once that run has recorded its outcome (or died and lost its claim).
        if ctx.is_last_attempt:
            return "being sent by another run"
        raise Retry(defer_seconds=min(prepared.seconds + 1.0, MAX_RETRY_DELAY_SECONDS))
    try:
        result = await _send(ctx, prepared)
    except Exception as exc:
        # Channels report failures as results; an exception is a bug or data no channel expected
        # (a stored URL an HTTP client refuses). Retrying cannot help; losing it would leave the
        # delivery "queued" for ever. Record it.
        logger.exception("alert delivery %s raised", delivery_id)
        result = DeliveryResult(
            channel_type=ChannelType(str(prepared.config.__struct_config__.tag)),
            target="(delivery failed)",
            ok=False,
            error=f"delivery failed: {type(exc).__name__}: {exc}"[:_MAX_ERROR],
        )
    return await _record_once_sent(ctx, delivery_id, result)


async def _record_once_sent(ctx: JobContext, delivery_id: str, result: DeliveryResult) -> str:
    """Record what the send did, waiting out a database outage (within the run's claim).

    The notification has gone out (or been refused): a run that failed here would be run again,
    find the claim lapsed, and send it a second time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELIVERY_TIMEOUT_SECONDS / 2
    pause = RECORD_RETRY_FIRST_SECONDS
    while True:
        try:
            return await _record(ctx, delivery_id, result)
        except Exception as exc:
            reason = unavailable_dependency(exc)
            if reason is None or loop.time() + pause > deadline:
                raise
            logger.warning("alert delivery %s sent, not yet recorded: %s", delivery_id, reason)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECORD_RETRY_MAX_SECONDS)


async def _send(ctx: JobContext, prepared: _Prepared) -> DeliveryResult:
    settings = ctx.settings
    async with AsyncExitStack() as stack:
        # A worker may share one client through ctx.extras; otherwise this delivery has its own.
        shared = ctx.extras.get("http")
        http = (
            shared
            if isinstance(shared, httpx.AsyncClient)
            else await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS))
        )
        deps = ChannelDependencies(
            smtp=settings,
            http=http,
            slack_api_url=settings.slack_api_url,
            pagerduty_events_url=settings.pagerduty_events_url,
            slack_bot_token=prepared.slack_bot_token,
        )
        return await deliver(prepared.config, prepared.notification, deps)


async def _record(ctx: JobContext, delivery_id: str, result: DeliveryResult) -> str:
    now = utcnow()
    async with ctx.unit_of_work(cross_tenant=True) as session:
        delivery = await session.get_one(AlertDelivery, delivery_id)
        delivery.sending_until = None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        retry = result.retryable and not ctx.is_last_attempt and not result.ok
        if result.ok:
            delivery.status, delivery.delivered_at = DELIVERED, now
        else:
            delivery.status = RETRYING if retry else FAILED
    outcome = "delivered" if result.ok else "retry" if retry else "failed"
    metrics.DELIVERIES.labels(str(result.channel_type), outcome).inc()
    if retry:
        delay = retry_delay(ctx.settings, ctx.attempt, result)
        logger.info("alert delivery %s failed (%s); retrying in %.1fs", delivery_id, result.error, delay)
        raise Retry(defer_seconds=delay)
    if not result.ok:
        logger.warning("alert delivery %s gave up: %s", delivery_id, result.error)
    return delivery.status
