"""Dispatch of due scheduled scans, set-based and bounded only by demand.

Each account's slots are fixed points on its plan's interval (its phase, from its id, plus whole
intervals); ``next_scan_at`` always holds one of them, so the schedule never drifts. A tick takes the
due accounts a batch at a time, each batch in three statements whatever its size (claim the rows,
move them to their next slot, insert their scans), until none is due:

- the claim locks the rows it takes (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): two schedulers
  ticking at once split the due accounts between them, neither waits, and none is taken twice;
- a scan records the slot it was due at (``scans.scheduled_for``, unique per account), so even a
  slot claimed twice cannot make a second scan;
- a tick that comes late (the scheduler was down or behind) dispatches one scan for the newest
  missed slot and moves on: the slots it passes are counted as skipped and the lag is recorded
  (metrics ``vigilare_scheduler_skipped_slots_total`` and ``vigilare_scheduler_start_lag_seconds``);
- an account whose previous scan is still queued or running gets no second one (counted as busy),
  and a tenant whose billing stops scans keeps its schedule but gets no scan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, exists, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.billing.enforcement import scanning_allowed
from vigilare.billing.plans import get_plan
from vigilare.ids import new_ids
from vigilare.jobs import enqueue_each_after_commit
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import QUEUED, RUNNING, Scan
from vigilare.scans.service import SCHEDULED, scan_job_id

logger = logging.getLogger("vigilare.scheduler")

# Rows claimed per statement: large enough that 100,000 accounts need few round trips, small
# enough that one statement's parameters stay far below PostgreSQL's limit.
DISPATCH_BATCH = 2000


@dataclass
class DispatchResult:
    dispatched: int = 0
    # Seconds between the slot each dispatched scan was due at and the tick that dispatched it.
    lags: list[float] = field(default_factory=list)
    # Slots that passed without a scan because the tick came more than an interval late.
    skipped_slots: int = 0
    # Due accounts whose previous scan had not finished, and accounts of tenants not allowed to scan.
    busy: int = 0
    blocked: int = 0
    # Slots that already had their scan (a claim race the unique slot index absorbed); always 0
    # unless two schedulers disagree about the rows they hold.
    duplicates: int = 0
    statements: int = 0


def interval_seconds(plan_id: str) -> int:
    return get_plan(plan_id).scan_interval_minutes * 60


def next_slot(due: datetime, period_seconds: int, now: datetime) -> tuple[datetime, int]:
    """The first slot of the account's phase after ``now``, and how many slots were missed.

    ``due`` is the slot being dispatched; a tick more than one interval late skips the slots
    in between rather than dispatching a burst of catch-up scans.
    """
    late = max((now - due).total_seconds(), 0.0)
    missed = int(late // period_seconds)
    return due + timedelta(seconds=period_seconds * (missed + 1)), missed


async def dispatch_due(session: AsyncSession, now: datetime, batch: int = DISPATCH_BATCH) -> DispatchResult:
    """Create a scheduled scan for every account due at ``now``, queued after the commit."""
    result = DispatchResult()
    while True:
        claimed = await _dispatch_batch(session, now, batch, result)
        if claimed < batch:
            return result


async def _dispatch_batch(session: AsyncSession, now: datetime, batch: int, result: DispatchResult) -> int:
    busy = exists().where(Scan.account_id == AwsAccount.id, Scan.status.in_((QUEUED, RUNNING)))
    rows = (
        await session.execute(
            select(
                AwsAccount.id,
                AwsAccount.tenant_id,
                AwsAccount.next_scan_at,
                Tenant.plan,
                Tenant.status,
                Tenant.trial_ends_at,
                Tenant.past_due_since,
                busy.label("busy"),
            )
            .join(Tenant, Tenant.id == AwsAccount.tenant_id)
            .where(AwsAccount.status == ACTIVE, AwsAccount.next_scan_at <= now)
            .order_by(AwsAccount.next_scan_at)
            .limit(batch)
            .with_for_update(of=AwsAccount, skip_locked=True)
        )
    ).all()
    result.statements += 1
    if not rows:
        return 0
    moves: list[dict[str, Any]] = []
    scans: list[dict[str, Any]] = []
    ids = iter(new_ids(len(rows)))
    allowed: dict[str, bool] = {}
    for account_id, tenant_id, due, plan, status, trial_ends_at, past_due_since, is_busy in rows:
        assert due is not None  # selected by next_scan_at <= now
        following, missed = next_slot(due, interval_seconds(plan), now)
        moves.append({"id": account_id, "next_scan_at": following})
        result.skipped_slots += missed
        if tenant_id not in allowed:
            tenant = Tenant(status=status, trial_ends_at=trial_ends_at, past_due_since=past_due_since)
            allowed[tenant_id] = scanning_allowed(tenant, now)
        if not allowed[tenant_id]:
            result.blocked += 1
        elif is_busy:
            result.busy += 1
        else:
            scans.append(_scan_row(next(ids), account_id, tenant_id, due, now))
    await _move(session, moves)
    result.statements += 1
    if scans:
        inserted = await _insert_scans(session, scans, now)
        result.statements += 1
        result.duplicates += len(scans) - len(inserted)
        slot_of = {row["id"]: row["scheduled_for"] for row in scans}
        enqueue_each_after_commit(
            session, run_scan, [((scan_id,), scan_job_id(scan_id)) for scan_id in inserted]
        )
        result.lags.extend((now - slot_of[scan_id]).total_seconds() for scan_id in inserted)
        result.dispatched += len(inserted)
    return len(rows)


def _scan_row(scan_id: str, account_id: str, tenant_id: str, due: datetime, now: datetime) -> dict[str, Any]:
    return {
        "id": scan_id,
        "tenant_id": tenant_id,
        "account_id": account_id,
        "trigger": SCHEDULED,
        "status": QUEUED,
        "queued_at": now,
        "handed_at": now,
        "scheduled_for": due,
        "attempts": 0,
        "outcomes": {},
        "collection_errors": [],
        "evidence": {},
        "findings_count": 0,
    }


async def _move(session: AsyncSession, moves: list[dict[str, Any]]) -> None:
    """Set each claimed account's ``next_scan_at``: one statement."""
    if session.get_bind().dialect.name == "postgresql":
        # Two arrays, not a parameter per row: the statement is the same size for 5 or 5,000 rows.
        await session.execute(
            text(
                "UPDATE aws_accounts SET next_scan_at = moved.next_scan_at "
                "FROM unnest(CAST(:ids AS varchar[]), CAST(:nexts AS timestamptz[])) "
                "AS moved(id, next_scan_at) "
                "WHERE aws_accounts.id = moved.id"
            ),
            {"ids": [move["id"] for move in moves], "nexts": [move["next_scan_at"] for move in moves]},
        )
        return
    await session.execute(update(AwsAccount).execution_options(synchronize_session=False), moves)


async def _insert_scans(session: AsyncSession, rows: list[dict[str, Any]], now: datetime) -> list[str]:
    """Insert the scans; a slot that already has its scan is left alone. Returns the ids inserted."""
    if session.get_bind().dialect.name == "postgresql":
        inserted = await session.execute(
            text(
                "INSERT INTO scans (id, tenant_id, account_id, trigger, status, queued_at, handed_at, "
                "scheduled_for, attempts, handoffs, outcomes, collection_errors, evidence, findings_count) "
                "SELECT new.id, new.tenant_id, new.account_id, :trigger, :status, :now, :now, "
                "new.scheduled_for, 0, 0, '{}', '[]', '{}', 0 "
                "FROM unnest(CAST(:ids AS varchar[]), CAST(:tenants AS varchar[]), "
                "CAST(:accounts AS varchar[]), CAST(:slots AS timestamptz[])) "
                "AS new(id, tenant_id, account_id, scheduled_for) "
                "ON CONFLICT (account_id, scheduled_for) DO NOTHING RETURNING id"
            ),
            {
                "trigger": SCHEDULED,
                "status": QUEUED,
                "now": now,
                "ids": [row["id"] for row in rows],
                "tenants": [row["tenant_id"] for row in rows],
                "accounts": [row["account_id"] for row in rows],
                "slots": [row["scheduled_for"] for row in rows],
            },
        )
        return list(inserted.scalars())
    table = cast(Table, Scan.__table__)
    statement = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["account_id", "scheduled_for"])
        .returning(table.c.id)
    )
    return list((await session.execute(statement, rows)).scalars())
