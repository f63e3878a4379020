"""The scheduler at scale: the real ``tick()`` over 100,000 accounts on PostgreSQL, two schedulers at once.

Seeds N accounts (default 100,000) over T tenants (default 2,000), a share of them (default 60 %)
on 5-minute plans and the rest on the 15-minute Solo plan, each at its place in the interval, then
drives the real ``vigilare.scans.scheduler.tick`` on a simulated clock: every tick period
(``VIGILARE_SCHEDULER_TICK_SECONDS``, 10 s by default) two schedulers, each on its own connection,
tick at the same moment, as two worker machines would. After each tick the scans it created are
marked finished (as if workers had run them at once), so only the scheduler is measured.
Prints:

- per-tick time (wall clock of one scheduler's tick) p50/p99/max (target p99 < 1 s);
- dispatches per minute against the ideal (the slots that fall in that minute; target +-10 %);
- start lag (tick time - the slot the scan was due at) p50/p99/max (target p99 < 60 s), and the
  accounts due but never dispatched by the end, counted with their lag so far;
- skipped slots (a slot passed without its scan) and double dispatches (a second scan for a
  slot already dispatched; target 0);
- with ``--metrics-port``, the scheduler's families from ``/metrics`` as served while it ran.

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
from collections import Counter
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import insert, text

from bench.scan_throughput import temporary_postgres
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory
from vigilare.db.migrate import upgrade_to_head
from vigilare.db.tenancy import cross_tenant
from vigilare.ids import new_id, utcnow
from vigilare.scans import scheduler

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
    observer = create_engine(url)
    due = {account: slot for account, (slot, _period) in slots.items()}
    period_of = {account: period for account, (_slot, period) in slots.items()}
    tick_times: list[float] = []
    lags: list[float] = []
    per_minute: Counter[int] = Counter()
    skipped = 0
    doubles = 0

    async def one_tick(factory, now: datetime) -> float:  # type: ignore[no-untyped-def]
        async with factory() as session:
            cross_tenant(session)  # the scheduler's path: every tenant's accounts
            begun = time.perf_counter()
            await scheduler.tick(session, now)
            await session.commit()
            return time.perf_counter() - begun

    ticks = int(args.minutes * 60 / args.tick_seconds)
    try:
        for number in range(1, ticks + 1):
            now = start + tick_period * number
            tick_times.extend(await asyncio.gather(*(one_tick(factory, now) for factory in factories)))
            async with observer.begin() as connection:
                # The workers: every scan just dispatched runs and finishes at once.
                dispatched = (
                    await connection.execute(
                        text(
                            "UPDATE scans SET status = 'succeeded', started_at = :now, finished_at = :now "
                            "WHERE status = 'queued' RETURNING account_id"
                        ),
                        {"now": now},
                    )
                ).scalars()
                minute = int((now - start).total_seconds() // 60)
                for account in dispatched:
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
    print(
        f"tick time                 p50 {percentile(tick_times, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(tick_times, 0.99) * 1000:.0f} ms, "
        f"max {max(tick_times) * 1000:.0f} ms (target p99 < 1 s)"
    )
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
        import httpx

        async with httpx.AsyncClient() as http:
            body = (await http.get(f"http://127.0.0.1:{args.metrics_port}/metrics")).text
        print("metrics (scheduler families, as scraped):")
        for line in body.splitlines():
            if line.startswith("vigilare_scheduler_") and not line.startswith("#") and "_bucket" not in line:
                print(f"  {line}")
        metrics_server.shutdown()


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
