"""The scheduler at scale: the real ``tick()`` over 100,000 accounts on PostgreSQL, two schedulers at once.

Seeds N accounts (default 100,000) over T tenants (default 2,000), a share of them (default 60 %)
on 5-minute plans and the rest on the 15-minute Solo plan, each at its place in the interval, then
drives the real ``vigilare.scans.scheduler.tick`` on a simulated clock: every tick period
(``VIGILARE_SCHEDULER_TICK_SECONDS``, 10 s by default) two schedulers, each on its own connection,
tick at the same moment, as two worker machines would. After each tick the scans it created are
marked finished (as if workers had run them at once), so only the scheduler is measured.
Prints:

- per-tick time (wall clock of one scheduler's tick, its commit included) p50/p99/max (target
  p99 < 1 s), split into the time spent waiting on PostgreSQL's statements and the rest (Python);
- what a tick costs in CPU, which does not grow with the machine's load: the scheduler process's
  own CPU per tick, and PostgreSQL's (the CPU of the tick's server backend, read from
  ``/proc/<pid>/stat`` when the database runs on this machine);
- dispatches per minute against the ideal (the slots that fall in that minute; target +-10 %);
- start lag (tick time - the slot the scan was due at) p50/p99/max (target p99 < 60 s), and the
  accounts due but never dispatched by the end, counted with their lag so far;
- skipped slots (a slot passed without its scan) and double dispatches (a second scan for a
  slot already dispatched; target 0);
- with ``--redis-url``, the hand-off of each tick's jobs to arq after its commit (the scheduler job's
  next step), and
- with ``--metrics-port``, ``/metrics`` as served by this process while it ran, scraped at the end:
  the tick time, dispatches, skipped slots, not-dispatched reasons (``duplicate``: a double
  dispatch the slot index refused) and start lag families, and the process's memory.

    python -m bench.scheduler_scale --accounts 100000 --tenants 2000 --minutes 30

Uses a temporary database on the local PostgreSQL unless --database-url is given.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from arq import create_pool
from arq.constants import job_key_prefix
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.metrics_probe import print_summary
from bench.scan_throughput import temporary_postgres
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory
from vigilare.db.migrate import upgrade_to_head
from vigilare.db.tenancy import cross_tenant
from vigilare.ids import new_id, utcnow
from vigilare.jobs import flush_after_commit
from vigilare.jobs.queue import ArqQueue, redis_settings
from vigilare.scans import scheduler
from vigilare.scans.service import scan_job_id

FAST_PLANS = ("team", "agency", "enterprise")  # 5-minute plans
SLOW_PLAN = "solo"  # 15 minutes


async def seed(
    url: str, accounts: int, tenants: int, fast_share: float, start: datetime
) -> dict[str, tuple[datetime, float]]:
    """Tenants and accounts; returns each account's first slot and its interval in seconds."""
    engine = create_engine(url)
    plan_of: list[str] = []
    fast_tenants = round(tenants * fast_share)
    tenant_rows = []
    for index in range(tenants):
        plan = FAST_PLANS[index % len(FAST_PLANS)] if index < fast_tenants else SLOW_PLAN
        plan_of.append(plan)
        tenant_rows.append(
            {
                "id": new_id(),
                "name": f"tenant {index}",
                "plan": plan,
                "status": "active",
                "created_at": start,
                "updated_at": start,
            }
        )
    slots: dict[str, tuple[datetime, float]] = {}
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Tenant), tenant_rows)
            rows = []
            for index in range(accounts):
                tenant_index = index % tenants
                interval = timedelta(minutes=5 if plan_of[tenant_index] != SLOW_PLAN else 15)
                account_id = new_id()
                first = scheduler.first_scan_at(account_id, interval, start)
                slots[account_id] = (first, interval.total_seconds())
                rows.append(
                    {
                        "id": account_id,
                        "tenant_id": tenant_rows[tenant_index]["id"],
                        "aws_account_id": f"{100000000000 + index}",
                        "external_id": "bench",
                        "role_name": "VigilareAudit",
                        "status": ACTIVE,
                        "connected_at": start,
                        "verified_at": start,
                        "tags": [],
                        "capabilities": {},
                        "scan_state": {},
                        "next_scan_at": first,
                        "created_at": start,
                        "updated_at": start,
                    }
                )
                if len(rows) == 5000:
                    await connection.execute(insert(AwsAccount), rows)
                    rows = []
            if rows:
                await connection.execute(insert(AwsAccount), rows)
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return slots


@dataclass
class TickCosts:
    """Per tick of one scheduler: wall clock, time waiting on PostgreSQL's statements, and the CPU of
    the database backend that ran them (None when it cannot be read)."""

    wall: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    database_cpu: list[float] = field(default_factory=list)
    # The scheduler process's CPU per tick (its ticks run at once: a round's CPU over the schedulers).
    python_cpu: list[float] = field(default_factory=list)
    # After the commit, handing the new scans' jobs to arq on Redis (with --redis-url).
    handoff: list[float] = field(default_factory=list)


class StatementClock:
    """Adds up the wall time of every statement an engine runs (from sending it to its result)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seconds = 0.0
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["statement_started"] = time.perf_counter()

    def _after(self, conn: Any, *_args: Any) -> None:
        self.seconds += time.perf_counter() - conn.info.pop("statement_started")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a local PostgreSQL backend so far; None if not readable."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


async def backend_pid(session: AsyncSession) -> int:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return int(raw.driver_connection.get_server_pid())  # type: ignore[union-attr]


def _slots_until(moment: datetime, first: datetime, period: float) -> int:
    """How many of the slots first, first + period, ... are at or before ``moment``."""
    if moment < first:
        return 0
    return int((moment - first).total_seconds() // period) + 1


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


async def run(args: argparse.Namespace, url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    tick_period = timedelta(seconds=args.tick_seconds)
    start = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    slots = await seed(url, args.accounts, args.tenants, args.fast_share, start)
    seeding = time.perf_counter() - started
    print(f"seeded {args.accounts} accounts over {args.tenants} tenants in {seeding:.1f} s")

    metrics_server = None
    if args.metrics_port:
        from vigilare.metrics import serve_metrics

        metrics_server = serve_metrics("127.0.0.1", args.metrics_port, token="")
        print(f"metrics on http://127.0.0.1:{args.metrics_port}/metrics while the benchmark runs")

    engines = [create_engine(url) for _ in range(args.schedulers)]
    factories = [create_session_factory(engine) for engine in engines]
    clocks = [StatementClock(engine) for engine in engines]
    costs = TickCosts()
    observer = create_engine(url)
    due = {account: slot for account, (slot, _period) in slots.items()}
    period_of = {account: period for account, (_slot, period) in slots.items()}
    lags: list[float] = []
    per_minute: Counter[int] = Counter()
    skipped = 0
    doubles = 0

    async def one_tick(number: int, now: datetime) -> None:
        clock = clocks[number]
        async with factories[number]() as session:
            cross_tenant(session)  # the scheduler's path: every tenant's accounts
            sql_before = clock.seconds
            begun = time.perf_counter()
            pid = await backend_pid(session)  # opens the transaction, as the tick's first statement would
            cpu_before = backend_cpu(pid)
            await scheduler.tick(session, now)
            await session.commit()
            costs.wall.append(time.perf_counter() - begun)
            costs.sql.append(clock.seconds - sql_before)
            cpu_after = backend_cpu(pid)
            if cpu_before is not None and cpu_after is not None:
                costs.database_cpu.append(cpu_after - cpu_before)
            if queue is not None:
                # The scheduler job's next step, after the commit: the new scans' jobs to arq.
                handed = time.perf_counter()
                await flush_after_commit(session, queue)
                costs.handoff.append(time.perf_counter() - handed)

    queue: ArqQueue | None = None
    if args.redis_url:
        pool = await create_pool(redis_settings(args.redis_url))
        queue = ArqQueue(pool, f"bench-scheduler:{uuid.uuid4().hex}")
    ticks = int(args.minutes * 60 / args.tick_seconds)
    try:
        for number in range(1, ticks + 1):
            now = start + tick_period * number
            cpu_before = time.process_time()
            await asyncio.gather(*(one_tick(index, now) for index in range(len(factories))))
            round_cpu = (time.process_time() - cpu_before) / len(factories)
            costs.python_cpu.extend([round_cpu] * len(factories))
            async with observer.begin() as connection:
                # The workers: every scan just dispatched runs and finishes at once.
                dispatched = (
                    await connection.execute(
                        text(
                            "UPDATE scans SET status = 'succeeded', started_at = :now, finished_at = :now "
                            "WHERE status = 'queued' RETURNING id, account_id"
                        ),
                        {"now": now},
                    )
                ).all()
                # Their jobs ran to an end: out of the outbox (as each job's end does) ...
                await connection.execute(
                    text("DELETE FROM job_outbox WHERE job_id = ANY(CAST(:job_ids AS varchar[]))"),
                    {"job_ids": [scan_job_id(scan_id) for scan_id, _ in dispatched]},
                )
                if queue is not None:  # ... and out of the queue
                    job_keys = [job_key_prefix + scan_job_id(scan_id) for scan_id, _ in dispatched]
                    await queue.pool.delete(queue.queue_name, *job_keys)
                minute = int((now - start).total_seconds() // 60)
                for _scan_id, account in dispatched:
                    slot, period = due[account], period_of[account]
                    if now < slot:  # this account's current slot was already dispatched
                        doubles += 1
                        continue
                    missed = int((now - slot).total_seconds() // period)
                    lags.append((now - slot).total_seconds())
                    skipped += missed
                    due[account] = slot + timedelta(seconds=period * (missed + 1))
                    per_minute[minute] += 1
            if args.verbose:
                print(f"  tick {number}/{ticks}: {per_minute[minute]} dispatched this minute", flush=True)
    finally:
        for engine in engines:
            await engine.dispose()
        await observer.dispose()
        if queue is not None:
            await queue.pool.delete(queue.queue_name)
            await queue.close()

    end = start + tick_period * ticks
    never = [account for account, slot in due.items() if slot <= end - tick_period]
    outstanding = [(end - due[account]).total_seconds() for account in never]
    # Slots that passed, still undispatched, count as skipped too.
    skipped += sum(int((end - due[account]).total_seconds() // period_of[account]) for account in never)

    minutes = int(args.minutes)
    # The ideal: the slots that fall due in the tick windows of each minute, (tick - period, tick].
    ideal = []
    for minute in range(minutes):
        window_start = start + timedelta(minutes=minute) - tick_period
        window_end = start + timedelta(minutes=minute + 1) - tick_period
        ideal.append(
            sum(_slots_until(window_end, f, p) - _slots_until(window_start, f, p) for f, p in slots.values())
        )
    ratios = [per_minute[m] / ideal[m] for m in range(minutes) if ideal[m]]
    all_lags = lags + outstanding

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine                   {os.cpu_count()} cores, load average {load} (timings grow with it)")
    print(f"schedulers at once        {args.schedulers}; tick every {args.tick_seconds} s (simulated clock)")
    print(f"simulated                 {args.minutes} minutes, {ticks} ticks each")
    print(f"tick time                 {_spread(costs.wall)} (target p99 < 1 s)")
    python_wall = [wall - sql for wall, sql in zip(costs.wall, costs.sql, strict=True)]
    print(f"  waiting on PostgreSQL   {_spread(costs.sql)} (its statements, sent to answered)")
    print(f"  the rest (Python)       {_spread(python_wall)}")
    print(f"tick CPU, scheduler       {_spread(costs.python_cpu)} (process CPU; load-robust)")
    if costs.database_cpu:
        print(f"tick CPU, PostgreSQL      {_spread(costs.database_cpu)} (the tick's backend; load-robust)")
    else:
        print("tick CPU, PostgreSQL      not readable (the database is not on this machine)")
    if costs.handoff:
        print(f"hand-off to arq (Redis)   {_spread(costs.handoff)} (after the commit: the scans' jobs)")
    print(
        f"dispatches per minute     mean {statistics.mean(per_minute[m] for m in range(minutes)):.0f}, "
        f"ideal {statistics.mean(ideal):.0f}; worst minute {min(ratios):.1%} .. {max(ratios):.1%} "
        "of its ideal (target 90 %..110 %)"
    )
    print(
        f"start lag                 p50 {percentile(all_lags, 0.5):.1f} s, "
        f"p99 {percentile(all_lags, 0.99):.1f} s, max {max(all_lags):.1f} s (target p99 < 60 s)"
    )
    print(f"due, never dispatched     {len(never)} accounts at the end")
    print(f"skipped slots             {skipped}")
    print(f"double dispatches         {doubles} (target 0)")
    if metrics_server is not None:
        print_summary(args.metrics_port)
        metrics_server.shutdown()


def _spread(seconds: list[float]) -> str:
    return (
        f"p50 {percentile(seconds, 0.5) * 1000:.0f} ms, p99 {percentile(seconds, 0.99) * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms, mean {statistics.mean(seconds) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=2_000)
    parser.add_argument("--fast-share", type=float, default=0.6, help="share of tenants on 5-minute plans")
    parser.add_argument("--minutes", type=float, default=30.0, help="simulated minutes")
    default_tick = next(
        f.default for f in msgspec.structs.fields(Settings) if f.name == "scheduler_tick_seconds"
    )
    parser.add_argument("--tick-seconds", type=int, default=default_tick, help="the scheduler's period")
    parser.add_argument("--schedulers", type=int, default=2, help="schedulers ticking at once")
    parser.add_argument("--metrics-port", type=int, default=0, help="serve /metrics here while running")
    parser.add_argument(
        "--redis-url",
        default="",
        help="also hand each tick's jobs to arq on this Redis after the commit, as the scheduler job does",
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--database-url", default="", help="an empty migrated-or-new database (default: a temporary one)"
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "VIGILARE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    if args.database_url:
        asyncio.run(run(args, args.database_url))
        return
    with temporary_postgres(args.pg_admin_url) as url:
        asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
