"""Jobs of push ingest: processing a stored event, and recovering events whose job was lost.

Processing is idempotent: the event row is locked and marked processed in the transaction that
applies it, so a job run twice (arq may, and recovery may queue one again) applies it once. A
worker that dies between the store and the processing leaves the row unprocessed: the periodic
:func:`recover_events` queues its job again (arq itself would only after the job's timeout).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.auth.models import Tenant
from vigilare.billing.enforcement import scanning_allowed
from vigilare.ids import isoformat, utcnow
from vigilare.ingest.envelope import event_from_payload
from vigilare.ingest.handlers import handle_event, is_connectivity_check
from vigilare.ingest.models import IngestEvent
from vigilare.jobs import JobContext, enqueue_after_commit, job
from vigilare.scans.registry import scenario_registry
from vigilare.scans.service import EVENT, create_scan, unfinished_scan_exists
from vigilare.scenarios.manager import ScenarioRegistry
from vigilare.scoring.service import rescore
from vigilare.signals.lifecycle import apply_event_findings

logger = logging.getLogger("vigilare.ingest")

# Received events are kept this long (for push status and as evidence), then deleted.
RETENTION = timedelta(days=30)
RECOVERY_BATCH = 500
# Events of one account applied together by one job when they are waiting at the same time.
BATCH = 100


def event_job_id(row_id: str, recovery: int = 0) -> str:
    return f"ingest-event:{row_id}" if recovery == 0 else f"ingest-event:{row_id}:recover:{recovery}"


@job("process_aws_event", max_tries=5, timeout=30)
async def process_aws_event(ctx: JobContext, row_id: str) -> str | None:
    """Run the event handlers over a stored event and apply what they found, once.

    The job holds its account (FOR NO KEY UPDATE: the ingest route keeps storing the account's
    events meanwhile), so scans and events of one account apply their signals one at a time, and
    applies every event of the account waiting by then (up to :data:`BATCH`) with one score and
    one alert evaluation: a burst costs one pass, and the other events' jobs find them done.
    """
    registry = scenario_registry(ctx)
    async with ctx.unit_of_work(cross_tenant=True) as session:
        account_id = await session.scalar(select(IngestEvent.account_id).where(IngestEvent.id == row_id))
        if account_id is None:
            return None
        account = await session.scalar(
            select(AwsAccount).where(AwsAccount.id == account_id).with_for_update(key_share=True)
        )
        rows = list(
            await session.scalars(
                select(IngestEvent)
                .where(IngestEvent.account_id == account_id, IngestEvent.processed_at.is_(None))
                .order_by(IngestEvent.received_at, IngestEvent.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        if account is None or not rows:
            return None  # processed already, by this account's job that ran first
        now = utcnow()
        outcomes = await _apply(session, registry, account, rows, now)
        for each in rows:
            each.processed_at, each.outcome = now, outcomes[each.id][:1000]
    for each in rows:
        logger.info("event %s (%s / %s): %s", each.event_id, each.source, each.detail_type, each.outcome)
    return outcomes.get(row_id, "processed by another event's job")


async def _apply(
    session: AsyncSession,
    registry: ScenarioRegistry,
    account: AwsAccount,
    rows: list[IngestEvent],
    now: datetime,
) -> dict[str, str]:
    """What each of one account's events did (its outcome, by row id)."""
    if account.status != ACTIVE:
        return {row.id: f"ignored: the account is {account.status}" for row in rows}
    tenant = await session.get_one(Tenant, account.tenant_id)
    monitored = scanning_allowed(tenant, now)
    outcomes: dict[str, str] = {}
    rescans: list[str] = []
    changed = False
    for row in rows:
        event = event_from_payload(row.payload, row.received_at)
        if is_connectivity_check(event):
            outcomes[row.id] = "connectivity check: push delivery works"
            continue
        if not monitored:
            outcomes[row.id] = "ignored: the tenant's plan does not allow monitoring now"
            continue
        handled = await handle_event(event, registry, account.aws_account_id, now)
        if handled.changes_signals:
            details = {
                "source": "eventbridge",
                "event_id": event.id,
                "event_source": event.source,
                "detail_type": event.detail_type,
                "received_at": isoformat(row.received_at),
            }
            change = await apply_event_findings(
                session, account, handled.findings, handled.resolved, details, now
            )
            changed = changed or change.any
            opened, updated, resolved = len(change.opened), len(change.updated), len(change.resolved)
            handled.notes.append(f"signals: {opened} opened, {updated} updated, {resolved} resolved")
        if handled.rescan:
            rescans.append(row.id)
        outcomes[row.id] = "; ".join(handled.notes)
    if changed:
        # Exactly what follows a scan: the score, today's history point, the alert rules.
        await rescore(session, account, now)
        await evaluate_rules(session, account, now)
    if rescans:
        if await unfinished_scan_exists(session, account.id):
            note = "a scan is already on its way"
        else:
            note = f"scan {create_scan(session, account, EVENT).id} queued"
        for row_id in rescans:
            outcomes[row_id] += f"; {note}"
    return outcomes


async def requeue_lost(session: AsyncSession, now: datetime, retry_after: timedelta) -> int:
    """Queue again the events stored but not processed for ``retry_after`` (their worker died, or
    the job was lost between the commit and the queue); delete processed events past retention."""
    stale = list(
        await session.scalars(
            select(IngestEvent)
            .where(IngestEvent.processed_at.is_(None), IngestEvent.enqueued_at < now - retry_after)
            .order_by(IngestEvent.enqueued_at)
            .limit(RECOVERY_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for row in stale:
        row.recoveries += 1
        row.enqueued_at = now
        enqueue_after_commit(session, process_aws_event, row.id, job_id=event_job_id(row.id, row.recoveries))
    await session.execute(
        delete(IngestEvent).where(
            IngestEvent.processed_at.is_not(None), IngestEvent.received_at < now - RETENTION
        )
    )
    return len(stale)


@job("recover_aws_events", max_tries=1, timeout=60, every=lambda settings: settings.scheduler_tick_seconds)
async def recover_events(ctx: JobContext) -> int:
    async with ctx.unit_of_work(cross_tenant=True) as session:
        recovered = await requeue_lost(
            session, utcnow(), timedelta(seconds=ctx.settings.ingest_retry_seconds)
        )
    if recovered:
        logger.warning("queued %d stored events again (their processing was lost)", recovered)
    return recovered
