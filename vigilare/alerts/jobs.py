"""The delivery job: one notification to one channel, retried with backoff, each attempt recorded.

A channel that is down only delays its own job: every channel of an alert has its own delivery.
A run claims the delivery before sending (``sending_until``), so the same job handed over twice
(the outbox relay re-hands a job Redis lost while it ran) sends it once.

A run that dies between the send and its record (a worker killed with SIGKILL) leaves its claim;
the claim lasts just longer than a send may take (:data:`CLAIM_SECONDS`), and
:func:`recover_deliveries` hands a delivery whose claim lapsed to the queue again, within a
scheduler tick. The second send carries the same idempotency key as the first (the email's
Message-ID, PagerDuty's ``dedup_key``), so the recipient sees one notification: the transport is
at least once, the notification exactly once (Slack has no such key: a copy may show there).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, update

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
from vigilare.ids import new_id, utcnow
from vigilare.jobs import JobContext, JobState, Retry, enqueue_after_commit, job
from vigilare.outages import unavailable_dependency
from vigilare.plugin.model import Severity

logger = logging.getLogger("vigilare.alerts")

MAX_RETRY_DELAY_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 10.0
# A send (SMTP with its 30 s per-step timeout, an HTTP call with its 10 s one, slack-sdk's one
# retry) is cut off after this long.
SEND_TIMEOUT_SECONDS = 30.0
# A run's claim on its delivery: the send, and a margin to record what it did. One run of the job
# is cut off after as long, so a lapsed claim means that run is over.
CLAIM_SECONDS = SEND_TIMEOUT_SECONDS + 20.0
DELIVERY_TIMEOUT_SECONDS = CLAIM_SECONDS
# A run takes its claim within moments of starting: one whose job has been running unclaimed for
# longer is gone (see recover_deliveries).
UNCLAIMED_GRACE_SECONDS = 5.0
# Recording a sent notification while the database is unreachable: pauses between tries.
RECORD_RETRY_FIRST_SECONDS = 0.5
RECORD_RETRY_MAX_SECONDS = 5.0
_MAX_ERROR = 1000


def build_notification(
    settings: Settings,
    alert: Alert,
    account: AwsAccount | None,
    tenant: Tenant,
    event: AlertEventType,
    delivery_id: str | None = None,
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
        delivery_id=delivery_id,
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
        delivery.sending_until = now + timedelta(seconds=CLAIM_SECONDS)
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
                ctx.settings, alert, account, tenant, AlertEventType(delivery.event), delivery.id
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
    # The claim starts after this: recording may take until then, and the run ends by then.
    claim_over = asyncio.get_running_loop().time() + CLAIM_SECONDS
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
    return await _record_once_sent(ctx, delivery_id, result, claim_over)


async def _record_once_sent(
    ctx: JobContext, delivery_id: str, result: DeliveryResult, claim_over: float
) -> str:
    """Record what the send did, waiting out a database outage (within the run's claim).

    The notification has gone out (or been refused): a run that failed here would be run again,
    find the claim lapsed, and send it a second time.
    """
    loop = asyncio.get_running_loop()
    deadline = claim_over - 1.0
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
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                return await deliver(prepared.config, prepared.notification, deps)
        except TimeoutError:
            return DeliveryResult(
                channel_type=ChannelType(str(prepared.config.__struct_config__.tag)),
                target="(timed out)",
                ok=False,
                error=f"no answer within {SEND_TIMEOUT_SECONDS:.0f}s",
                retryable=True,
            )


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


def delivery_job_id(delivery_id: str) -> str:
    """The job id of a delivery's first hand-over (a second hand-over of it is the same job)."""
    return f"alert-delivery:{delivery_id}"


@job(
    "recover_alert_deliveries",
    max_tries=1,
    timeout=60,
    every=lambda settings: settings.scheduler_tick_seconds,
)
async def recover_deliveries(ctx: JobContext) -> int:
    """Hand the queue again every delivery whose run died (its worker killed), now.

    The queue re-runs the job of a dead worker only after arq's longest job timeout (minutes). Two
    traces tell a dead run here:

    - a claim that lapsed on an unfinished delivery: a run is cut off when its claim ends, so that
      run is over without recording its outcome (killed mid-send, or just after);
    - a delivery never attempted, without a claim, whose first job the queue says is running: a
      live run claims its delivery first thing, so that run died before it could.

    Each is handed over under a new job id, its claim released in the same transaction so that it is
    handed once. A mistaken hand-over costs nothing: the claim lets one run send at a time. The send
    that follows carries the lost one's idempotency key (the same Message-ID).
    """
    now = utcnow()
    async with ctx.unit_of_work(cross_tenant=True) as session:
        unfinished = AlertDelivery.status.not_in((DELIVERED, FAILED))
        lapsed = set(
            await session.scalars(
                update(AlertDelivery)
                .where(unfinished, AlertDelivery.sending_until < now)
                .values(sending_until=None)
                .returning(AlertDelivery.id)
                .execution_options(synchronize_session=False)
            )
        )
        unclaimed = list(
            await session.scalars(
                select(AlertDelivery.id).where(
                    unfinished,
                    AlertDelivery.sending_until.is_(None),
                    AlertDelivery.attempts == 0,
                    AlertDelivery.created_at < now - timedelta(seconds=UNCLAIMED_GRACE_SECONDS),
                    AlertDelivery.id.not_in(lapsed),
                )
            )
        )
        states = await ctx.queue.states([delivery_job_id(delivery_id) for delivery_id in unclaimed])
        dead = {d for d in unclaimed if states.get(delivery_job_id(d)) is JobState.RUNNING}
        for delivery_id in sorted(lapsed | dead):
            enqueue_after_commit(
                session, deliver_alert, delivery_id, job_id=f"{delivery_job_id(delivery_id)}:{new_id()}"
            )
    if lapsed or dead:
        logger.warning("handed over again %d alert deliveries whose run died", len(lapsed | dead))
    return len(lapsed | dead)
