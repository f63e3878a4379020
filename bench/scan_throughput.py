"""Scan throughput of one worker process.

Scans N accounts (default 200) through a local AWS stand-in that adds a fixed latency to every call
and prints: accounts per minute for one `vigilare worker` process (the real arq worker and scan job,
on Redis and the database), peak memory of that process, and the ratio of the measured time to the
I/O lower bound. The bound is the latency of a scan's longest chain of dependent AWS calls (or of its
calls divided by the per-account concurrency, if larger) times the number of sequential rounds the
worker's job concurrency allows: ceil(N / max_jobs). Target: within 2x of the bound, under 300 MB.

    python -m bench.scan_throughput --accounts 200 --latency-ms 50

Needs Redis (VIGILARE_REDIS_URL or --redis-url) and PostgreSQL (a temporary database on the local
server unless --database-url is given), as a production worker does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.aws import session as aws_session
from vigilare.config import Settings
from vigilare.db.engine import CrossTenantSessions, create_engine, create_session_factory
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, utcnow
from vigilare.jobs import unit_of_work
from vigilare.jobs.queue import ArqQueue
from vigilare.jobs.worker import MAX_JOBS, create_worker
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scans.models import Scan
from vigilare.scans.registry import registry_for
from vigilare.scans.service import create_scan

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


async def calibrate(settings: Settings) -> dict[str, int]:
    """One scan on its own: how many calls, and how deep the chain of dependent calls is."""
    registry = registry_for(settings)
    target = ScanTarget(
        aws_account_id="100000000000", role_name="VigilareAudit", external_id="bench-external-id"
    )
    with call_chain_probe() as stats:
        await scan_account(
            target,
            registry.select(),
            collectors=registry.collectors,
            endpoint_url=settings.aws_endpoint_url,
            regions=settings.scan_region_list,
            max_concurrency=settings.scan_max_concurrency,
        )
    return stats


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
def temporary_postgres(admin_url: str) -> Iterator[str]:
    """A throw-away database on the local PostgreSQL (the production path), dropped afterwards."""
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
        stats = await calibrate(settings)
        await seed(settings, args.accounts)
        worker = create_worker(settings, burst=True, poll_delay=0, handle_signals=False, cron_jobs=[])
        started = time.perf_counter()
        try:
            await worker.main()
        finally:
            await worker.close()
        elapsed = time.perf_counter() - started
        statuses, errors = await outcome(settings)
    finally:
        assert standin.stdin is not None
        standin.stdin.close()
        standin.wait(timeout=30)

    latency = args.latency_ms / 1000
    per_scan = max(stats["depth"], math.ceil(stats["calls"] / settings.scan_max_concurrency)) * latency
    rounds = math.ceil(args.accounts / MAX_JOBS)
    bound = rounds * per_scan
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"accounts scanned        {args.accounts} ({dict(statuses)})")
    print(f"AWS latency per call    {args.latency_ms:.0f} ms; regions {args.regions or 'all enabled'}")
    print(f"calls per scan          {stats['calls']}; longest dependent chain {stats['depth']} calls")
    print(f"worker concurrency      {MAX_JOBS} jobs; {settings.scan_max_concurrency} AWS calls per account")
    print(f"elapsed                 {elapsed:.2f} s")
    print(f"throughput              {args.accounts / elapsed * 60:.0f} accounts/minute (one worker process)")
    print(f"I/O lower bound         {bound:.2f} s ({rounds} rounds x {per_scan:.2f} s)")
    print(f"measured / bound        {elapsed / bound:.2f}x (target <= 2x)")
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
        help="regions each scan reads (empty: every enabled region)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("VIGILARE_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("VIGILARE_BENCH_DATABASE_URL", ""),
        help="default: a temporary database on the local PostgreSQL",
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if args.database_url:
        asyncio.run(run(args))
    else:
        with temporary_postgres(args.pg_admin_url) as url:
            args.database_url = url
            asyncio.run(run(args))


if __name__ == "__main__":
    main()
