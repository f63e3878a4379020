"""Dispatch at scale: set-based, every slot once (late ticks record their lag and skipped slots),
no drift, the tick's clock on the scans it creates, and two schedulers at once never dispatching an
account twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from tests.scans.test_scheduler import _tenant_with_accounts
from tests.support.db import cross_tenant_factory
from vigilare.accounts.models import AwsAccount
from vigilare.auth.models import Tenant
from vigilare.billing.plans import PLANS
from vigilare.db.engine import SessionFactory, create_engine
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, new_ids, utcnow
from vigilare.scans.dispatch import _DISPATCH, DISPATCH_BATCH, dispatch_due, interval_seconds
from vigilare.scans.models import Scan
from vigilare.scans.scheduler import first_scan_at, tick


def _count_statements(engine) -> list[str]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return seen


async def _scans_per_account(session) -> Counter[str]:
    rows = await session.execute(select(Scan.account_id, func.count()).group_by(Scan.account_id))
    return Counter({account_id: count for account_id, count in rows})


async def test_dispatch_takes_the_same_statements_for_3_or_300_due_accounts(db):
    now = utcnow()
    async with db() as session:
        await _tenant_with_accounts(session, "team", "active", 3, now - timedelta(seconds=10))
        await session.commit()
    engine = db.kw["bind"]
    statements = _count_statements(engine)
    async with db() as session:
        small = await tick(session, now)
        await session.commit()
    few = len(statements)

    async with db() as session:
        await _tenant_with_accounts(session, "agency", "active", 300, now + timedelta(seconds=20))
        await session.commit()
    statements.clear()
    later = now + timedelta(seconds=30)
    async with db() as session:
        large = await tick(session, later)
        await session.commit()

    assert small.scheduled == 3
    assert large.scheduled == 300
    # The tenants billing stops, then one statement that claims, moves and inserts (and the outbox
    # write at the commit): a constant number, not three per account.
    assert len(statements) == few
    assert large.dispatch.statements == 2


async def test_a_late_tick_dispatches_once_records_the_lag_and_keeps_the_phase(db):
    now = utcnow().replace(microsecond=0)
    due = now - timedelta(minutes=12)  # a 5-minute plan: the slots at -12, -7 and -2 minutes passed
    async with db() as session:
        (account,) = await _tenant_with_accounts(session, "team", "active", 1, due)
        await session.commit()
        result = await tick(session, now)
        await session.commit()
        await session.refresh(account)
        scans = list(await session.scalars(select(Scan).where(Scan.account_id == account.id)))

    assert result.scheduled == 1 and len(scans) == 1
    assert result.dispatch.skipped_slots == 2
    assert result.dispatch.lags == [720.0]
    assert scans[0].scheduled_for == due
    # The next slot is on the account's phase, the first one after now: due + 15 minutes.
    assert account.next_scan_at == due + timedelta(minutes=15)


async def test_the_schedule_does_not_drift_over_many_intervals(db):
    start = utcnow().replace(microsecond=0)
    interval = timedelta(minutes=5)
    async with db() as session:
        (account,) = await _tenant_with_accounts(session, "team", "active", 1, start)
        account.next_scan_at = first_scan_at(account.id, interval, start)
        await session.commit()
        first = account.next_scan_at
        for number in range(40):
            # Each tick a little late (7 s), as a 30-second tick is.
            result = await tick(session, first + interval * number + timedelta(seconds=7))
            await session.commit()
            assert result.scheduled == 1
            await session.execute(Scan.__table__.update().values(status="succeeded"))
            await session.commit()
        await session.refresh(account)
        slots = sorted(await session.scalars(select(Scan.scheduled_for).where(Scan.account_id == account.id)))

    assert account.next_scan_at == first + interval * 40  # exactly, after 40 intervals
    assert slots == [first + interval * number for number in range(40)]


async def test_scans_carry_the_ticks_clock(db):
    now = utcnow().replace(microsecond=0) - timedelta(hours=3)  # a clock far from the wall clock
    async with db() as session:
        accounts = await _tenant_with_accounts(session, "team", "active", 2, now - timedelta(seconds=3))
        await session.commit()
        await tick(session, now)
        await session.commit()
        scans = list(await session.scalars(select(Scan)))

    assert {scan.account_id for scan in scans} == {account.id for account in accounts}
    assert all(scan.queued_at == now for scan in scans)
    assert all(scan.scheduled_for == now - timedelta(seconds=3) for scan in scans)


async def test_two_schedulers_at_once_never_dispatch_an_account_twice(db):
    start = utcnow().replace(microsecond=0)
    async with db() as session:
        accounts = []
        for plan in ("team", "agency", "solo", "enterprise"):
            accounts += await _tenant_with_accounts(session, plan, "active", 150, start)
        for account in accounts:
            interval = timedelta(minutes=15 if account in accounts[300:450] else 5)
            account.next_scan_at = first_scan_at(account.id, interval, start)
        await session.commit()

    async def scheduler(now) -> int:
        # Small batches so that both schedulers are claiming at the same moments.
        async with db() as session:
            result = await dispatch_due(session, now, batch=25)
            await session.commit()
            return result.dispatched

    dispatched = 0
    for number in range(1, 21):  # ten minutes of 30-second ticks, two schedulers each time
        now = start + timedelta(seconds=30 * number)
        counts = await asyncio.gather(scheduler(now), scheduler(now))
        dispatched += sum(counts)
        async with db() as session:
            await session.execute(Scan.__table__.update().values(status="succeeded"))
            await session.commit()

    async with db() as session:
        per_account = await _scans_per_account(session)
        per_slot = await session.execute(
            select(Scan.account_id, Scan.scheduled_for, func.count())
            .group_by(Scan.account_id, Scan.scheduled_for)
            .having(func.count() > 1)
        )
        assert per_slot.all() == []
        next_slots = dict((await session.execute(select(AwsAccount.id, AwsAccount.next_scan_at))).all())

    end = start + timedelta(minutes=10)
    # Every account: exactly the slots of its phase in the ten minutes (5-minute plans: 2, Solo: 0 or 1).
    for account in accounts:
        interval = timedelta(minutes=15 if account in accounts[300:450] else 5)
        first = first_scan_at(account.id, interval, start)
        expected = 0 if first > end else 1 + int((end - first) / interval)
        assert per_account[account.id] == expected, account.id
        assert next_slots[account.id] > end
    assert dispatched == sum(per_account.values())


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    """The embedded default's database (one process; dispatch without row locks)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'scheduler.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(url)
    try:
        yield cross_tenant_factory(engine)
    finally:
        await engine.dispose()


async def _busy_and_blocked(db: SessionFactory) -> None:
    now = utcnow().replace(microsecond=0)
    due = now - timedelta(seconds=5)
    async with db() as session:
        free, running, queued = await _tenant_with_accounts(session, "team", "active", 3, due)
        expired = await _tenant_with_accounts(session, "solo", "trialing", 2, due)
        unpaid = await _tenant_with_accounts(session, "agency", "past_due", 1, due)
        grace = await _tenant_with_accounts(session, "agency", "past_due", 1, due)
        (await session.get_one(Tenant, expired[0].tenant_id)).trial_ends_at = now - timedelta(days=1)
        (await session.get_one(Tenant, unpaid[0].tenant_id)).past_due_since = now - timedelta(days=10)
        (await session.get_one(Tenant, grace[0].tenant_id)).past_due_since = now - timedelta(days=2)
        for account, status in ((running, "running"), (queued, "queued")):
            session.add(
                Scan(
                    id=new_id(),
                    tenant_id=account.tenant_id,
                    account_id=account.id,
                    trigger="manual",
                    status=status,
                    queued_at=now - timedelta(minutes=1),
                )
            )
        await session.commit()

        result = await tick(session, now)
        await session.commit()
        scanned = set(await session.scalars(select(Scan.account_id).where(Scan.trigger == "scheduled")))
        accounts = [free, running, queued, *expired, *unpaid, *grace]
        next_slots = dict(
            (
                await session.execute(
                    select(AwsAccount.id, AwsAccount.next_scan_at).where(
                        AwsAccount.id.in_([account.id for account in accounts])
                    )
                )
            ).all()
        )

    # Scans for the account that is free and for the tenant still within its 7-day grace.
    assert scanned == {free.id, grace[0].id}
    assert result.scheduled == 2 and result.dispatch.lags == [5.0, 5.0]
    # Still scanning (a scan of each is queued or running): no second scan at once.
    assert result.dispatch.busy == 2
    # The expired trial's two accounts and the tenant past due beyond the grace period: no scans.
    assert result.dispatch.blocked == 3
    # Every due account keeps its schedule: on to its next slot, scanned or not.
    intervals = {"team": 5, "solo": 15, "agency": 5}
    plans = ["team"] * 3 + ["solo"] * 2 + ["agency"] * 2
    for account, plan in zip(accounts, plans, strict=True):
        assert next_slots[account.id] == due + timedelta(minutes=intervals[plan]), plan


async def test_busy_accounts_and_tenants_billing_stops_keep_their_schedule_but_get_no_scan(db):
    await _busy_and_blocked(db)


async def test_the_embedded_default_on_sqlite_dispatches_the_same_way(sqlite_db):
    await _busy_and_blocked(sqlite_db)


async def test_the_dispatch_reads_due_accounts_and_unfinished_scans_through_their_partial_indexes(db):
    """The predicates are literals matching the partial indexes' (a bound parameter in their place
    would leave the planner unable to use them: a scan of every account, every tick)."""
    now = utcnow()
    async with db() as session:
        await _tenant_with_accounts(session, "team", "active", 20, now - timedelta(seconds=5))
        await session.commit()
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plans = list(PLANS)
        plan = "\n".join(
            await session.scalars(
                text(f"EXPLAIN {_DISPATCH.text}"),
                {
                    "now": now,
                    "batch": DISPATCH_BATCH,
                    "plans": plans,
                    "periods": [interval_seconds(plan) for plan in plans],
                    "default_seconds": interval_seconds(""),
                    "blocked": [],
                    "ids": new_ids(DISPATCH_BATCH),
                },
            )
        )
        await session.rollback()
    assert "ix_aws_accounts_due" in plan, plan
    assert "ix_scans_unfinished_account" in plan, plan
