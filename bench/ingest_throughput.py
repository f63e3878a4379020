"""Push ingest under load: one `vigilare serve` and `vigilare worker` processes on PostgreSQL and Redis.

Posts EventBridge events (GuardDuty findings of a crypto-mining type, each a new finding, so each one
opens a signal and fires an alert) to ``POST /ingest/aws-events`` at a steady rate, as API
destinations of many accounts would, while scans of other accounts run through a local AWS
stand-in. Prints: events accepted per second by the one API process, the ingest answer's p50/p99
(as the client sees it), and event -> signal and event -> alert-job p50/p99 (from the server's own
timestamps: the event stored, its signal opened, its alert's delivery job run).

    python -m bench.ingest_throughput --rate 300 --seconds 20 --accounts 60 --workers 1

Targets on the project's 2-core machine: >= 300 events/s accepted, answer p99 < 50 ms, event ->
signal p99 < 2 s while scans run (measure it at a rate the workers keep up with: --rate 100).
Needs Redis (VIGILARE_REDIS_URL or --redis-url) and PostgreSQL (a temporary database on the local
server unless --database-url is given). Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.scan_throughput import start_standin, temporary_postgres
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.auth.models import Tenant
from vigilare.db.engine import CrossTenantSessions, create_engine, create_session_factory
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, utcnow
from vigilare.ingest.keys import HEADER_NAME, new_secret
from vigilare.ingest.models import IngestEvent, IngestKey
from vigilare.jobs import unit_of_work
from vigilare.jobs.queue import ArqQueue
from vigilare.scans.models import FINISHED, Scan
from vigilare.scans.service import create_scan
from vigilare.signals.models import EVENT, Signal
from vigilare_sandbox.eventbridge import ApiDestination, envelope

SECRET_KEY = "bench-" + "k" * 40
EVENT_ACCOUNT_BASE = 400000000000
SCAN_ACCOUNT_BASE = 500000000000


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def seed(
    database_url: str, event_accounts: int, scan_accounts: int
) -> tuple[list[tuple[str, str]], list[str]]:
    """A tenant with an alert rule, accounts with push set up (their secrets), accounts to scan."""
    engine = create_engine(database_url)
    secrets: list[tuple[str, str]] = []
    scanned: list[str] = []
    try:
        async with CrossTenantSessions(create_session_factory(engine))() as session:
            tenant = Tenant(id=new_id(), name="bench", plan="agency", status="active")
            session.add(tenant)
            await session.flush()
            session.add(
                AlertRule(
                    id=new_id(),
                    tenant_id=tenant.id,
                    name="bench",
                    min_srs=0,
                    min_severity="HIGH",
                    scenarios=[],
                    channels=[{"type": "email", "to": ["oncall@bench.test"]}],
                    enabled=True,
                )
            )
            now = utcnow()
            for index in range(event_accounts + scan_accounts):
                pushed = index < event_accounts
                base = EVENT_ACCOUNT_BASE if pushed else SCAN_ACCOUNT_BASE
                account = AwsAccount(
                    id=new_id(),
                    tenant_id=tenant.id,
                    aws_account_id=str(base + index),
                    external_id="bench-external-id",
                    role_name="VigilareAudit",
                    status=ACTIVE,
                    connected_at=now - timedelta(hours=1),
                    verified_at=now - timedelta(hours=1),
                    next_scan_at=now + timedelta(days=1),
                    tags=[],
                    capabilities={},
                )
                session.add(account)
                if pushed:
                    secret = new_secret(SECRET_KEY)
                    session.add(
                        IngestKey(
                            id=secret.key_id,
                            tenant_id=tenant.id,
                            account_id=account.id,
                            secret_hash=secret.secret_hash,
                            created_at=now,
                        )
                    )
                    secrets.append((account.aws_account_id, secret.secret))
                else:
                    scanned.append(account.id)
            await session.commit()
    finally:
        await engine.dispose()
    return secrets, scanned


async def keep_scanning(settings_env: dict[str, str], account_ids: list[str], stop: asyncio.Event) -> int:
    """Keep one scan in flight for each of ``account_ids`` until ``stop``; returns scans started."""
    from vigilare.config import Settings

    settings = Settings.from_env(settings_env)
    engine = create_engine(settings.database_url)
    queue = await ArqQueue.connect(settings)
    factory = create_session_factory(engine)
    started = 0
    try:
        while not stop.is_set():
            async with unit_of_work(factory, queue, cross_tenant=True) as session:
                busy = set(
                    await session.scalars(
                        select(Scan.account_id).where(
                            Scan.status.not_in(FINISHED), Scan.account_id.in_(account_ids)
                        )
                    )
                )
                for account in await session.scalars(
                    select(AwsAccount).where(AwsAccount.id.in_(account_ids))
                ):
                    if account.id not in busy:
                        create_scan(session, account, "manual")
                        started += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        await queue.close()
        await engine.dispose()
    return started


def guardduty_event(aws_account_id: str, sequence: int) -> dict[str, Any]:
    """A new GuardDuty finding (crypto-mining: CRITICAL whatever its severity) as EventBridge sends it."""
    finding_id = uuid.uuid4().hex
    region = "us-east-1"
    detector = "12abc34d567e8fa901bc2d34e56789f0"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    detail = {
        "schemaVersion": "2.0",
        "accountId": aws_account_id,
        "region": region,
        "partition": "aws",
        "id": finding_id,
        "arn": f"arn:aws:guardduty:{region}:{aws_account_id}:detector/{detector}/finding/{finding_id}",
        "type": "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "severity": 8,
        "title": f"EC2 instance i-{sequence:08x} is querying a Bitcoin-related domain.",
        "description": "EC2 instance is querying a domain name associated with Bitcoin-related activity.",
        "createdAt": stamp,
        "updatedAt": stamp,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": f"i-{sequence:08x}"}},
        "service": {"serviceName": "guardduty", "detectorId": detector, "archived": False, "count": 1},
    }
    return envelope(
        source="aws.guardduty",
        detail_type="GuardDuty Finding",
        account=aws_account_id,
        region=region,
        detail=detail,
    )


async def post_steadily(
    base_url: str, secrets: list[tuple[str, str]], rate: float, seconds: float
) -> tuple[list[float], dict[int, int], float]:
    """Open-loop load: one event every 1/rate seconds, whatever the answers take."""
    total = int(rate * seconds)
    destinations = [
        ApiDestination(f"{base_url}/ingest/aws-events", HEADER_NAME, secret) for _account, secret in secrets
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(sequence: int) -> None:
            index = sequence % len(secrets)
            event = guardduty_event(secrets[index][0], sequence)
            sent = time.perf_counter()
            try:
                response = await destinations[index].deliver_async(client, event)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        tasks = []
        for sequence in range(total):
            delay = started + sequence / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(sequence)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


async def wait_processed(database_url: str, expected: int, timeout: float) -> float:
    engine = create_engine(database_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            async with CrossTenantSessions(create_session_factory(engine))() as session:
                done = await session.scalar(
                    select(func.count()).select_from(IngestEvent).where(IngestEvent.processed_at.is_not(None))
                )
            if int(done or 0) >= expected:
                break
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    return time.monotonic() - started


async def latencies_from_db(database_url: str) -> tuple[list[float], list[float], int]:
    """event -> signal opened, and event -> its alert's delivery job run, in seconds."""
    engine = create_engine(database_url)
    try:
        async with CrossTenantSessions(create_session_factory(engine))() as session:
            received = {
                (account_id, event_id): at
                for account_id, event_id, at in (
                    await session.execute(
                        select(IngestEvent.account_id, IngestEvent.event_id, IngestEvent.received_at)
                    )
                ).all()
            }
            signals = list(await session.scalars(select(Signal).where(Signal.detected_by == EVENT)))
            delivered = {
                (account_id, fired): attempt
                for account_id, fired, attempt in (
                    await session.execute(
                        select(Alert.account_id, Alert.fired_at, func.min(AlertDelivery.last_attempt_at))
                        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
                        .group_by(Alert.account_id, Alert.fired_at)
                    )
                ).all()
            }
    finally:
        await engine.dispose()
    to_signal: list[float] = []
    to_alert: list[float] = []
    for signal in signals:
        event_id = (signal.details.get("event") or {}).get("event_id")
        stored = received.get((signal.account_id, event_id))
        if stored is None:
            continue
        to_signal.append((signal.detected_at - stored).total_seconds())
        # The alert fired in the transaction that opened the signal: same account, same moment.
        attempt = delivered.get((signal.account_id, signal.detected_at))
        if attempt is not None:
            to_alert.append((attempt - stored).total_seconds())
    return to_signal, to_alert, len(signals)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def start(args: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigilare", *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def wait_healthy(base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("vigilare serve did not start")


def spread(seconds: list[float]) -> str:
    if not seconds:
        return "no data"
    return f"p50 {statistics.median(seconds) * 1000:.1f} ms, p99 {percentile(seconds, 0.99) * 1000:.1f} ms"


async def run(args: argparse.Namespace) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    standin, endpoint = start_standin(args.latency_ms)
    workdir = tempfile.mkdtemp(prefix="vigilare-ingest-bench-")
    queue_name = f"vigilare-ingest-bench-{uuid.uuid4().hex[:8]}"
    port = 18000 + os.getpid() % 1000
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGILARE_")},
        "VIGILARE_DATABASE_URL": args.database_url,
        "VIGILARE_REDIS_URL": args.redis_url,
        "VIGILARE_QUEUE_NAME": queue_name,
        "VIGILARE_SECRET_KEY": SECRET_KEY,
        "VIGILARE_DATA_DIR": workdir,
        "VIGILARE_RATE_LIMIT_PER_MINUTE": "0",
        "VIGILARE_AWS_ENDPOINT_URL": endpoint,
        "VIGILARE_SCAN_REGIONS": args.regions,
        "VIGILARE_PUBLIC_URL": base_url,
    }
    processes: list[subprocess.Popen[bytes]] = []
    log = await asyncio.to_thread(open, os.path.join(workdir, "processes.log"), "ab")
    try:
        await asyncio.to_thread(upgrade_to_head, args.database_url)
        secrets, scanned = await seed(args.database_url, args.accounts, args.scan_accounts)
        processes.append(start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log))
        processes += [start(["worker"], env, log) for _ in range(args.workers)]
        await asyncio.to_thread(wait_healthy, base_url)
        stop_scans = asyncio.Event()
        scanning = asyncio.create_task(keep_scanning(env, scanned, stop_scans))
        await asyncio.sleep(2)  # scans are under way before the first event
        api, workers = processes[0], processes[1:]
        api_cpu = cpu_seconds(api.pid)
        load_before = load_average()
        latencies, statuses, elapsed = await post_steadily(base_url, secrets, args.rate, args.seconds)
        api_cpu = cpu_seconds(api.pid) - api_cpu
        accepted = statuses.get(202, 0)
        drained = await wait_processed(args.database_url, accepted, timeout=args.drain_timeout)
        stop_scans.set()
        scans_started = await scanning
        worker_cpu = sum(cpu_seconds(worker.pid) for worker in workers)
        to_signal, to_alert, signals = await latencies_from_db(args.database_url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        assert standin.stdin is not None
        standin.stdin.close()
        standin.wait(timeout=30)

    per_event = api_cpu / max(accepted, 1)
    rows = [
        ("machine load", f"{load_before} when the load started"),
        ("load", f"{args.rate:.0f} events/s for {args.seconds:.0f} s over {args.accounts} accounts"),
        ("processes", f"1 API, {args.workers} worker(s); {scans_started} scans run meanwhile"),
        ("answers", str(dict(sorted(statuses.items())))),
        ("accepted", f"{accepted / elapsed:.0f} events/s (target >= 300)"),
        ("ingest answer", f"{spread(latencies)} (target p99 < 50 ms)"),
        (
            "API CPU per event",
            f"{per_event * 1000:.2f} ms: {1 / per_event:.0f} events/s per core busy on nothing else",
        ),
        ("worker CPU", f"{worker_cpu:.1f} s in all (scans included)"),
        ("signals opened", f"{signals} of {accepted} events; all processed {drained:.1f} s after the last"),
        ("event -> signal", f"{spread(to_signal)} (target p99 < 2 s)"),
        ("event -> alert job", f"{spread(to_alert)} ({len(to_alert)} alert deliveries)"),
    ]
    for name, value in rows:
        print(f"{name:<20}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=300.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--accounts", type=int, default=60, help="accounts the events are spread over")
    parser.add_argument("--scan-accounts", type=int, default=10, help="accounts scanned meanwhile, in a loop")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="AWS stand-in latency per call")
    parser.add_argument("--regions", default="us-east-1,eu-west-1")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--redis-url", default=os.environ.get("VIGILARE_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--database-url", default=os.environ.get("VIGILARE_BENCH_DATABASE_URL", ""))
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
