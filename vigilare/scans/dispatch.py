"""Dispatch of due scheduled scans, set-based and bounded only by demand.

Each account's slots are fixed points on its plan's interval (its phase, from its id, plus whole
intervals); ``next_scan_at`` always holds one of them, so the schedule never drifts. A tick first
reads which tenants get no scans (billing; a handful of rows), then takes the due accounts a batch
at a time until none is due. On PostgreSQL a batch is **one statement** whatever its size: it
claims the due rows, moves each to its next slot, checks for an unfinished scan and inserts the
scans, and returns only the new scans' ids and lags; the rows themselves never come to Python.
On SQLite (the embedded default: one process, a few accounts) the same steps run as three
statements.

- the claim locks the rows it takes (``FOR UPDATE SKIP LOCKED``): two schedulers ticking at once
  split the due accounts between them, neither waits, and none is taken twice;
- a scan records the slot it was due at (``scans.scheduled_for``, unique per account), so even a
  slot claimed twice cannot make a second scan;
- a tick that comes late (the scheduler was down or behind) dispatches one scan for the newest
  missed slot and moves on: the slots it passes are counted as skipped and the lag is recorded
  (metrics ``vigilare_scheduler_skipped_slots_total`` and ``vigilare_scheduler_start_lag_seconds``);
- an account whose previous scan is still queued or running gets no second one (counted as busy),
  and a tenant whose billing stops scans keeps its schedule but gets no scan (counted as blocked).

The due accounts are read through the partial index ``ix_aws_accounts_due`` (active accounts by
``next_scan_at``) and the busy check through ``ix_scans_unfinished_account``: both predicates are
written as literals in the SQL, so that the planner can match them to the indexes.
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
from vigilare.billing.enforcement import STATUSES_THAT_MAY_STOP_SCANS, scanning_allowed
from vigilare.billing.plans import PLANS, get_plan
from vigilare.ids import new_ids
from vigilare.jobs import enqueue_each_after_commit
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import NOT_FINISHED, QUEUED, RUNNING, Scan
from vigilare.scans.service import SCHEDULED, scan_job_id

logger = logging.getLogger("vigilare.scheduler")

# Rows claimed per statement: large enough that 100,000 accounts need few round trips, small
# enough that one statement's work stays well under a second.
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
    blocked = await blocked_tenants(session, now)
    result.statements += 1
    one_batch = _dispatch_batch if session.get_bind().dialect.name == "postgresql" else _dispatch_portable
    while True:
        claimed = await one_batch(session, now, batch, blocked, result)
        if claimed < batch:
            return result


async def blocked_tenants(session: AsyncSession, now: datetime) -> list[str]:
    """The tenants whose billing stops their scans at ``now`` (``scanning_allowed``, the one rule),
    read from the few tenants whose status may stop them."""
    rows = await session.execute(
        select(Tenant.id, Tenant.status, Tenant.trial_ends_at, Tenant.past_due_since).where(
            Tenant.status.in_(STATUSES_THAT_MAY_STOP_SCANS)
        )
    )
    return [
        tenant_id
        for tenant_id, status, trial_ends_at, past_due_since in rows
        if not scanning_allowed(
            Tenant(status=status, trial_ends_at=trial_ends_at, past_due_since=past_due_since), now
        )
    ]


# One batch on PostgreSQL. The data-modifying CTEs all run, each once, on one snapshot: the busy
# check sees the scans that existed before this statement, not the ones it inserts.
# Every value interpolated below is a constant of this code base (statuses, the trigger); the
# tick's values are bound parameters.
_DISPATCH = text(
    f"""
WITH due AS (
    SELECT a.ctid AS row, a.id, a.tenant_id, a.next_scan_at AS slot
    FROM aws_accounts AS a
    WHERE a.status = '{ACTIVE}' AND a.next_scan_at <= CAST(:now AS timestamptz)
    ORDER BY a.next_scan_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
),
late AS (
    SELECT due.*, period.seconds,
        CAST(floor(extract(epoch FROM CAST(:now AS timestamptz) - due.slot) / period.seconds) AS bigint)
            AS missed
    FROM due
    JOIN tenants AS t ON t.id = due.tenant_id
    CROSS JOIN LATERAL (
        SELECT coalesce(
            (SELECT plan.seconds FROM unnest(CAST(:plans AS varchar[]), CAST(:periods AS integer[]))
                AS plan(id, seconds) WHERE plan.id = t.plan),
            :default_seconds
        ) AS seconds
    ) AS period
),
moved AS (
    -- By the rows' addresses (a TID scan, not a join over every account): the claim holds their
    -- locks, so the rows stay where they were read.
    UPDATE aws_accounts AS a
    SET next_scan_at = late.slot + (late.seconds * (late.missed + 1)) * interval '1 second'
    FROM late
    WHERE a.ctid = ANY(ARRAY(SELECT due.row FROM due)) AND a.ctid = late.row
    RETURNING late.id, late.tenant_id, late.slot, late.missed
),
unfinished AS (
    -- The claimed accounts with a scan not finished: one probe per claimed account into
    -- ix_scans_unfinished_account (its predicate written exactly so, see
    -- vigilare.scans.models.NOT_FINISHED). LATERAL ... LIMIT 1 keeps that shape whatever the
    -- planner's statistics say, never a pass over every unfinished scan per claimed account.
    SELECT due.id AS account_id
    FROM due CROSS JOIN LATERAL (
        SELECT FROM scans AS s WHERE s.account_id = due.id AND s.{NOT_FINISHED} LIMIT 1
    ) AS open_scan
),
checked AS (
    SELECT moved.*, row_number() OVER () AS number,
        moved.tenant_id = ANY(CAST(:blocked AS varchar[])) AS blocked,
        moved.id IN (SELECT unfinished.account_id FROM unfinished) AS busy
    FROM moved
),
inserted AS (
    INSERT INTO scans (id, tenant_id, account_id, trigger, status, queued_at, handed_at, scheduled_for,
        attempts, handoffs, outcomes, collection_errors, evidence, findings_count)
    SELECT new.id, checked.tenant_id, checked.id, '{SCHEDULED}', '{QUEUED}', CAST(:now AS timestamptz),
        CAST(:now AS timestamptz), checked.slot, 0, 0, '{{}}', '[]', '{{}}', 0
    FROM checked JOIN unnest(CAST(:ids AS varchar[])) WITH ORDINALITY AS new(id, number)
        ON new.number = checked.number
    WHERE NOT checked.blocked AND NOT checked.busy
    ON CONFLICT (account_id, scheduled_for) DO NOTHING
    RETURNING scans.id,
        CAST(extract(epoch FROM CAST(:now AS timestamptz) - scans.scheduled_for) AS float8) AS lag
)
SELECT
    (SELECT count(*) FROM checked) AS claimed,
    (SELECT coalesce(sum(missed), 0) FROM checked) AS missed,
    (SELECT count(*) FROM checked WHERE blocked) AS blocked,
    (SELECT count(*) FROM checked WHERE busy AND NOT blocked) AS busy,
    (SELECT count(*) FROM checked WHERE NOT busy AND NOT blocked) AS wanted,
    (SELECT array_agg(id) FROM inserted) AS scan_ids,
    (SELECT array_agg(lag) FROM inserted) AS lags
"""  # noqa: S608
)


async def _dispatch_batch(
    session: AsyncSession, now: datetime, batch: int, blocked: list[str], result: DispatchResult
) -> int:
    plans = list(PLANS)
    row = (
        await session.execute(
            _DISPATCH,
            {
                "now": now,
                "batch": batch,
                "plans": plans,
                "periods": [interval_seconds(plan) for plan in plans],
                "default_seconds": interval_seconds(""),
                "blocked": blocked,
                "ids": new_ids(batch),
            },
        )
    ).one()
    result.statements += 1
    scan_ids: list[str] = row.scan_ids or []
    result.skipped_slots += int(row.missed)
    result.blocked += row.blocked
    result.busy += row.busy
    result.duplicates += row.wanted - len(scan_ids)
    result.lags.extend(row.lags or [])
    result.dispatched += len(scan_ids)
    enqueue_each_after_commit(session, run_scan, [((scan_id,), scan_job_id(scan_id)) for scan_id in scan_ids])
    return int(row.claimed)


async def _dispatch_portable(
    session: AsyncSession, now: datetime, batch: int, blocked: list[str], result: DispatchResult
) -> int:
    """One batch in three statements (claim, move, insert), for databases without data-modifying
    CTEs or row locks (SQLite: one writer at a time anyway)."""
    busy = exists().where(Scan.account_id == AwsAccount.id, Scan.status.in_((QUEUED, RUNNING)))
    rows = (
        await session.execute(
            select(
                AwsAccount.id, AwsAccount.tenant_id, AwsAccount.next_scan_at, Tenant.plan, busy.label("busy")
            )
            .join(Tenant, Tenant.id == AwsAccount.tenant_id)
            .where(AwsAccount.status == ACTIVE, AwsAccount.next_scan_at <= now)
            .order_by(AwsAccount.next_scan_at)
            .limit(batch)
        )
    ).all()
    result.statements += 1
    if not rows:
        return 0
    stopped = set(blocked)
    moves: list[dict[str, Any]] = []
    scans: list[dict[str, Any]] = []
    ids = iter(new_ids(len(rows)))
    for account_id, tenant_id, due, plan, is_busy in rows:
        assert due is not None  # selected by next_scan_at <= now
        following, missed = next_slot(due, interval_seconds(plan), now)
        moves.append({"id": account_id, "next_scan_at": following})
        result.skipped_slots += missed
        if tenant_id in stopped:
            result.blocked += 1
        elif is_busy:
            result.busy += 1
        else:
            scans.append(_scan_row(next(ids), account_id, tenant_id, due, now))
    await session.execute(update(AwsAccount).execution_options(synchronize_session=False), moves)
    result.statements += 1
    if scans:
        table = cast(Table, Scan.__table__)
        statement = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["account_id", "scheduled_for"])
            .returning(table.c.id)
        )
        inserted = list((await session.execute(statement, scans)).scalars())
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
