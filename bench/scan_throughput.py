"""Scan throughput of one worker process, for first scans and for steady-state scans.

Scans N accounts (default 200) through a local AWS stand-in that adds a fixed latency to every call:
first (manual) scans, which collect everything, then three rounds of steady-state scans (scheduled,
the state of the first stored, nothing changed), which collect only the data keys that are due, in
one worker that keeps running between the rounds as a production worker does. The first of those
rounds pays what a worker pays once (start-up, its AWS clients, each account's role assumed, the
heap freeze); the steady-state figure is the two after it. For each pass it prints accounts per
minute for one `vigilare worker` process (the real arq worker and scan job, on Redis and the
database), its CPU per scan, and the ratio of the measured time to the I/O lower bound; then the
AWS calls per scan (first, steady state, the hourly scan where the hourly keys fall due, and the
average over an hour of 5-minute scans) and the peak memory of the process. The bound is the latency
of a scan's longest chain of dependent AWS calls (or of its calls divided by the per-account
concurrency, if larger) times the number of sequential rounds the worker's job concurrency allows:
ceil(N / max_jobs). Targets: steady state <= 40 calls at 17 regions, >= 2,000 account-scans a
minute, under 300 MB.

    python -m bench.scan_throughput --accounts 200 --latency-ms 50 --regions default17

Needs Redis (VIGILARE_REDIS_URL or --redis-url) and PostgreSQL (a temporary database on the local
server unless --database-url is given), as a production worker does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import gc
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select

from vigilare import metrics
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.aws import session as aws_session
from vigilare.aws.freshness import FRESHNESS_KEY, FreshnessPolicy, account_phase, spread_deadline
from vigilare.config import Settings
from vigilare.db.engine import CrossTenantSessions, create_engine, create_session_factory
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, utcnow
from vigilare.jobs import unit_of_work
from vigilare.jobs.queue import ArqQueue
from vigilare.jobs.worker import MAX_JOBS, create_worker
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scans.jobs import EVIDENCE_DATA
from vigilare.scans.models import Scan
from vigilare.scans.registry import registry_for
from vigilare.scans.service import SCHEDULED, create_scan

DEFAULT_17_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip
"""The regions every AWS account has enabled without opting in."""

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("aws_call_depth", default=1)  # 1: AssumeRole


@contextmanager
def call_chain_probe() -> Iterator[dict[str, int]]:
    """Count AWS calls and the longest chain of calls that wait on one another.

    Each call's depth is one more than the call before it in the same task; tasks started with
    gather inherit the depth of the code that started them, so the maximum depth is the critical
    path of dependent calls.
    """
    stats = {"calls": 0, "depth": 1}
    original_call, original_paginate = aws_session.AccountSession.call, aws_session.AccountSession.paginate

    def _step() -> None:
        depth = _depth.get() + 1
        _depth.set(depth)
        stats["calls"] += 1
        stats["depth"] = max(stats["depth"], depth)

    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original_call(self, *args, **kwargs)
        _step()
        return result

    async def paginate(self: Any, service: str, operation: str, result_key: str, **kwargs: Any) -> Any:
        client = await self.client(service, kwargs.get("region"))
        params = {k: v for k, v in kwargs.items() if k != "region"}
        items: list[Any] = []
        async for page in client.get_paginator(operation).paginate(**params):
            _step()
            items.extend(page.get(result_key, []))
        return items

    aws_session.AccountSession.call = call  # type: ignore[method-assign]
    aws_session.AccountSession.paginate = paginate  # type: ignore[method-assign]
    try:
        yield stats
    finally:
        aws_session.AccountSession.call = original_call  # type: ignore[method-assign]
        aws_session.AccountSession.paginate = original_paginate  # type: ignore[method-assign]


@contextmanager
def py_spy(output: str) -> Iterator[None]:
    """Sample this process with py-spy (``pip install py-spy``) while the block runs, into
    ``output`` as collapsed stacks (one line a stack, its sample count last), when asked to."""
    if not output:
        yield
        return
    sampler = subprocess.Popen(
        ["py-spy", "record", "--pid", str(os.getpid()), "--format", "raw", "--rate", "200",
         "--output", output, "--nonblocking"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        sampler.send_signal(signal.SIGINT)
        sampler.wait(timeout=60)


def start_standin(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.standin", "--latency-ms", str(latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        raise SystemExit("the AWS stand-in did not start")
    return process, url


async def calibrate(
    settings: Settings, state: dict[str, Any] | None = None, policy: FreshnessPolicy | None = None
) -> tuple[dict[str, int], dict[str, Any]]:
    """One scan on its own: how many calls, how deep the chain of dependent calls is, and the state
    it leaves. ``policy`` None is a first (full) scan."""
    registry = registry_for(settings)
    target = ScanTarget(
        aws_account_id="100000000000", role_name="VigilareAudit", external_id="bench-external-id"
    )
    with call_chain_probe() as stats:
        report = await scan_account(
            target,
            registry.select(),
            collectors=registry.collectors,
            endpoint_url=settings.aws_endpoint_url,
            regions=settings.scan_region_list,
            max_concurrency=settings.scan_max_concurrency,
            extra_data=EVIDENCE_DATA,
            state=state,
            policy=policy,
        )
    return stats, dict(report.state)


async def hour_of_scans(settings: Settings) -> tuple[dict[str, int], list[int]]:
    """Calls of a steady-state scan 5 minutes after the first, and of each 5-minute scan of the hour
    that follows (the slow keys fall due once in it, at the account's own moment)."""
    _, state = await calibrate(settings)
    start = datetime.now(UTC)
    per_scan: list[int] = []
    steady: dict[str, int] = {}
    for index in range(1, 13):  # scans at +5, +10, ... +60 minutes
        stats, state = await calibrate(
            settings, state, FreshnessPolicy(now=start + timedelta(minutes=5 * index), full=False)
        )
        per_scan.append(stats["calls"])
        if index == 1:
            steady = stats
    return steady, per_scan


def hourly_windows(accounts: int) -> list[int]:
    """How many of the seeded accounts have their hourly keys fall due in each 5-minute window of
    the hour (:func:`vigilare.aws.freshness.account_phase`): the fleet's hourly load, spread."""
    windows = [0] * 12
    for index in range(accounts):
        due = spread_deadline(0.0, 3600.0, account_phase(f"{200000000000 + index}"))
        windows[min(max(math.ceil(due / 300) - 1, 0), 11)] += 1
    return windows


async def schedule_all(settings: Settings) -> int:
    """A scheduled scan for every account whose first scan completed, as the scheduler queues them
    when they fall due (an account without one would get a full scan: not the steady state)."""
    engine = create_engine(settings.database_url)
    queue = await ArqQueue.connect(settings)
    scheduled = 0
    try:
        async with unit_of_work(create_session_factory(engine), queue, cross_tenant=True) as session:
            for account in await session.scalars(select(AwsAccount)):
                if FRESHNESS_KEY in (account.scan_state or {}):
                    create_scan(session, account, SCHEDULED)
                    scheduled += 1
    finally:
        await queue.close()
        await engine.dispose()
    return scheduled


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process so far (Linux /proc), e.g. the stand-in's."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WARM_ROUNDS = 2
"""Steady-state rounds measured after the worker's first (which pays its start-up)."""


def _metric_total(metric: Any, sample_suffix: str) -> float:
    """A metric's samples named ``..._total`` (or ``_sum``...) added up over all its labels."""
    return sum(
        sample.value
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith(sample_suffix)
    )


def aws_calls_so_far() -> float:
    """AWS calls of every scan this process ran so far (the worker's own histogram of calls per scan)."""
    return _metric_total(metrics.SCAN_AWS_CALLS, "_sum")


def scans_ended_so_far() -> float:
    return _metric_total(metrics.SCANS, "_total")


@contextmanager
def counting_statements() -> Iterator[list[int]]:
    """Count the SQL statements and commits (round trips too) of every engine in the main thread
    (the worker's own engine is made inside its start-up; a helper thread's are not the worker's),
    as ``[count]``."""
    count = [0]
    main_thread = threading.main_thread()

    def counted(*_: Any) -> None:
        if threading.current_thread() is main_thread:
            count[0] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", counted)
    sa.event.listen(sa.engine.Engine, "commit", counted)
    try:
        yield count
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", counted)
        sa.event.remove(sa.engine.Engine, "commit", counted)


class Pass:
    """One pass of the worker over every account: wall time and CPU time of the worker process and
    of the stand-in (which shares the machine, so it is counted apart), the SQL statements the
    worker sent (each a round trip to the database), and the time its garbage collections took
    per generation (``{generation: [collections, seconds]}``)."""

    def __init__(
        self,
        elapsed: float,
        worker_cpu: float,
        standin_cpu: float,
        statements: int,
        collections: dict[int, list[float]],
        aws_calls: float,
    ) -> None:
        self.elapsed, self.worker_cpu, self.standin_cpu = elapsed, worker_cpu, standin_cpu
        self.statements = statements
        self.collections = collections
        self.aws_calls = aws_calls


@contextmanager
def gc_probe() -> Iterator[dict[int, list[float]]]:
    """Count the process's garbage collections and their time, per generation, inside the block."""
    stats: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            entry = stats[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield stats
    finally:
        gc.callbacks.remove(callback)


async def run_worker(settings: Settings, standin_pid: int) -> Pass:
    worker = create_worker(settings, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
    started, cpu_started = time.perf_counter(), time.process_time()
    standin_started = process_cpu_seconds(standin_pid)
    calls_started = aws_calls_so_far()
    with counting_statements() as statements:
        try:
            with gc_probe() as collections:
                await worker.main()
        finally:
            await worker.close()
    return Pass(
        time.perf_counter() - started,
        time.process_time() - cpu_started,
        process_cpu_seconds(standin_pid) - standin_started,
        statements[0],
        collections,
        aws_calls_so_far() - calls_started,
    )


def schedule_in_thread(settings: Settings) -> tuple[int, float, float]:
    """Schedule every account from a thread of its own (its own event loop and connections) and
    return how many were scheduled, when their jobs were queued (``time.perf_counter``) and the
    thread's CPU time, which the worker's is measured without."""
    started = time.thread_time()
    scheduled = asyncio.run(schedule_all(settings))
    return scheduled, time.perf_counter(), time.thread_time() - started


async def run_warm_worker(settings: Settings, standin_pid: int, rounds: int) -> list[tuple[int, Pass]]:
    """Rounds of steady-state scans in one worker that keeps running between them, as a production
    worker does: the first round pays what a worker pays once (its start-up, building its AWS
    clients, assuming each account's role, the heap freeze), the later ones do not. A helper thread
    schedules each round (its CPU time and statements are not the worker's); the round ends when
    the worker has ended every scan and arq has finished every job."""
    # Production's poll delay is 0.2 s; polling an empty queue every 20 ms costs next to nothing
    # and starts each round's jobs as soon as they are queued.
    worker = create_worker(settings, poll_delay=0.02, handle_signals=False, cron_jobs=[])
    running = asyncio.create_task(worker.main())
    passes: list[tuple[int, Pass]] = []
    with counting_statements() as statements:
        try:
            for _ in range(rounds):
                statements_before = statements[0]
                cpu_started = time.process_time()
                standin_started = process_cpu_seconds(standin_pid)
                calls_started, ended_before = aws_calls_so_far(), scans_ended_so_far()
                with gc_probe() as collections:
                    scheduled, queued, helper_cpu = await asyncio.to_thread(schedule_in_thread, settings)
                    # Every scan recorded, and arq done with every job (its result stored).
                    while scans_ended_so_far() - ended_before < scheduled or worker.job_tasks or worker.tasks:
                        if running.done():
                            running.result()  # the worker failed: say why
                            raise RuntimeError("the worker stopped before the round ended")
                        await asyncio.sleep(0.01)
                # From the moment the round's jobs were queued (the first pass starts with its
                # jobs queued too).
                elapsed = time.perf_counter() - queued
                passes.append(
                    (
                        scheduled,
                        Pass(
                            elapsed,
                            time.process_time() - cpu_started - helper_cpu,
                            process_cpu_seconds(standin_pid) - standin_started,
                            statements[0] - statements_before,
                            collections,
                            aws_calls_so_far() - calls_started,
                        ),
                    )
                )
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await worker.close()
    return passes


def combined(passes: list[Pass]) -> Pass:
    """Several passes as one (sums; garbage collections per generation added up)."""
    collections = {
        generation: [sum(p.collections[generation][i] for p in passes) for i in (0, 1)]
        for generation in (0, 1, 2)
    }
    return Pass(
        sum(p.elapsed for p in passes),
        sum(p.worker_cpu for p in passes),
        sum(p.standin_cpu for p in passes),
        sum(p.statements for p in passes),
        collections,
        sum(p.aws_calls for p in passes),
    )


async def seed(settings: Settings, count: int) -> None:
    engine = create_engine(settings.database_url)
    queue = await ArqQueue.connect(settings)
    try:
        async with unit_of_work(create_session_factory(engine), queue, cross_tenant=True) as session:
            tenant = Tenant(id=new_id(), name="bench", plan="agency", status="active")
            session.add(tenant)
            await session.flush()
            for index in range(count):
                account = AwsAccount(
                    id=new_id(),
                    tenant_id=tenant.id,
                    aws_account_id=f"{200000000000 + index}",
                    external_id="bench-external-id",
                    role_name="VigilareAudit",
                    status=ACTIVE,
                    connected_at=utcnow(),
                    next_scan_at=utcnow() + timedelta(days=1),
                    tags=[],
                    capabilities={},
                )
                session.add(account)
                await session.flush()
                create_scan(session, account, "manual")
    finally:
        await queue.close()
        await engine.dispose()


async def outcome(settings: Settings) -> tuple[Counter[str], list[str]]:
    engine = create_engine(settings.database_url)
    async with CrossTenantSessions(create_session_factory(engine))() as session:
        rows = (await session.execute(select(Scan.status, func.count()).group_by(Scan.status))).all()
        sample = await session.scalar(select(Scan).where(Scan.status != "succeeded").limit(1))
        errors = [] if sample is None else [str(e) for e in (sample.collection_errors or [])][:5]
        if sample is not None and sample.error:
            errors.append(sample.error)
    await engine.dispose()
    return Counter({status: count for status, count in rows}), errors


@contextmanager
def temporary_postgres(admin_url: str, *, keep: bool = False) -> Iterator[str]:
    """A throw-away database on the local PostgreSQL (the production path), dropped afterwards
    unless ``keep`` (every benchmark uses this one)."""
    import asyncpg

    name = f"vigilare_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        if not keep:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def run(args: argparse.Namespace) -> None:
    # Vigilare's own credentials, as the stand-in accepts them.
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)
    standin, endpoint = start_standin(args.latency_ms)
    workdir = tempfile.mkdtemp(prefix="vigilare-bench-")
    try:
        settings = Settings.from_env(
            {},
            data_dir=workdir,
            database_url=args.database_url,
            redis_url=args.redis_url,
            queue_name=f"vigilare-bench-{uuid.uuid4().hex[:8]}",
            aws_endpoint_url=endpoint,
            scan_regions=args.regions,
            secret_key="bench-" + "k" * 40,
        )
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        await calibrate(settings)  # records the stand-in's answers
        first_stats, _ = await calibrate(settings)
        steady_stats, hour = await hour_of_scans(settings)
        await seed(settings, args.accounts)
        first_pass = await run_worker(settings, standin.pid)
        _, errors = await outcome(settings)
        with py_spy(args.profile):
            rounds = await run_warm_worker(settings, standin.pid, rounds=1 + WARM_ROUNDS)
        (steady_accounts, fresh_pass), warm = rounds[0], rounds[1:]
        warm_accounts, warm_pass = sum(n for n, _ in warm), combined([p for _, p in warm])
        statuses, more_errors = await outcome(settings)
        errors += more_errors
    finally:
        assert standin.stdin is not None
        standin.stdin.close()
        standin.wait(timeout=30)

    latency = args.latency_ms / 1000

    def bound(stats: dict[str, int], scans: int) -> float:
        rounds = math.ceil(scans / MAX_JOBS)
        return (
            rounds * max(stats["depth"], math.ceil(stats["calls"] / settings.scan_max_concurrency)) * latency
        )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"accounts scanned        {args.accounts}, then the {steady_accounts} whose first scan "
        f"completed again, {1 + WARM_ROUNDS} times in one worker ({dict(statuses)})"
    )
    print(f"AWS latency per call    {args.latency_ms:.0f} ms; {len(settings.scan_region_list or [])} regions")
    print(f"worker concurrency      {MAX_JOBS} jobs; {settings.scan_max_concurrency} AWS calls per account")
    print(
        f"calls per scan          first {first_stats['calls']} (chain {first_stats['depth']}); "
        f"steady state {steady_stats['calls']} (chain {steady_stats['depth']}); "
        f"peak in an hour {max(hour)} (+{5 * (hour.index(max(hour)) + 1)} min); "
        f"average over an hour {sum(hour) / len(hour):.1f}; target: steady state <= 40"
    )
    print(
        f"hourly keys fall due     per account, spread over the hour's second half: accounts per "
        f"5-minute window {hourly_windows(args.accounts)}"
    )
    for name, measured, stats, scans in (
        ("first scans", first_pass, first_stats, args.accounts),
        ("steady, worker's first", fresh_pass, steady_stats, steady_accounts),
        (f"steady state, {WARM_ROUNDS} more", warm_pass, steady_stats, warm_accounts),
    ):
        elapsed = measured.elapsed
        worker_ms = measured.worker_cpu / scans * 1000
        print(
            f"{name:<24}{elapsed:.2f} s, {scans / elapsed * 60:.0f} accounts/minute "
            f"(one worker process); {elapsed / bound(stats, scans):.2f}x the I/O bound of "
            f"{bound(stats, scans):.2f} s"
        )
        print(
            f"{'':<24}CPU per scan: worker {worker_ms:.1f} ms "
            f"(= {60_000 / worker_ms:.0f} scans a minute of one core), "
            f"stand-in {measured.standin_cpu / scans * 1000:.1f} ms; "
            f"{measured.worker_cpu / measured.aws_calls * 1000:.2f} ms of worker CPU an AWS call "
            f"({measured.aws_calls / scans:.1f} calls a scan); "
            f"{measured.statements / scans:.1f} SQL statements and commits"
        )
        print(
            f"{'':<24}garbage collection: "
            + ", ".join(
                f"generation {generation} {int(count)}x {seconds / scans * 1000:.1f} ms"
                for generation, (count, seconds) in measured.collections.items()
            )
            + " per scan"
        )
    for line in errors:
        print(f"  scan error: {line}")
    print(f"peak memory             {peak_mb:.0f} MB (target < 300 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--regions",
        default="us-east-1,eu-west-1,ap-southeast-2,us-west-2",
        help="regions each scan reads (empty: every enabled region; default17: the 17 default regions)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("VIGILARE_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("VIGILARE_BENCH_DATABASE_URL", ""),
        help="default: a temporary database on the local PostgreSQL",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="FILE",
        help="sample the worker with py-spy during the steady-state pass, into FILE (collapsed stacks)",
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if args.regions == "default17":
        args.regions = ",".join(DEFAULT_17_REGIONS)
    if args.database_url:
        asyncio.run(run(args))
    else:
        with temporary_postgres(args.pg_admin_url) as url:
            args.database_url = url
            asyncio.run(run(args))


if __name__ == "__main__":
    main()
