"""Requests per second of a tenant's signal list under concurrent load, on `vigilare serve`.

Measures what row-level security costs an authenticated request (each transaction sets its role and
tenant; every tenant table's policy filters on it): two tenants with one account each and 500 open
signals, `vigilare serve` (one process) on a temporary PostgreSQL database, and 32 concurrent
connections asking `GET /accounts/{id}/signals?limit=50` as tenant A for a fixed time. Prints
requests/s and answer p50/p99; run it before and after a change and compare the figures.

    python -m bench.tenant_api_load --seconds 20 --connections 32

The server connects as the application role (``VIGILARE_DATABASE_APP_URL``, the non-owner role the
migration creates) unless ``--as-owner`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta

import httpx
from sqlalchemy import insert, text

from bench.console_pages import free_port
from bench.ingest_throughput import cpu_seconds, load_average
from bench.scan_throughput import temporary_postgres
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant, User
from vigilare.auth.passwords import hash_password
from vigilare.db.engine import create_engine
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, utcnow
from vigilare.signals.models import Signal

PASSWORD = "bench-password-1"
SIGNALS = 500


async def seed(database_url: str) -> str:
    """Tenants a and b, each with an owner, one account and ``SIGNALS`` open signals; returns a's
    account id (the API's path uses the AWS account id)."""
    engine = create_engine(database_url)
    now = utcnow()
    try:
        async with engine.begin() as connection:
            for index, name in enumerate(("a", "b")):
                tenant_id, account_id = new_id(), new_id()
                await connection.execute(
                    insert(Tenant),
                    [{"id": tenant_id, "name": name, "plan": "enterprise", "status": "active"}],
                )
                await connection.execute(
                    insert(User),
                    [
                        {
                            "id": new_id(),
                            "tenant_id": tenant_id,
                            "email": f"owner@{name}.bench.test",
                            "name": "Owner",
                            "role": "owner",
                            "status": "active",
                            "password_hash": await hash_password(PASSWORD),
                        }
                    ],
                )
                await connection.execute(
                    insert(AwsAccount),
                    [
                        {
                            "id": account_id,
                            "tenant_id": tenant_id,
                            "aws_account_id": f"{100000000000 + index}",
                            "display_name": f"Account {name}",
                            "tags": [],
                            "external_id": "e" * 40,
                            "role_name": "VigilareAudit",
                            "status": ACTIVE,
                            "connected_at": now - timedelta(days=30),
                            "verified_at": now - timedelta(days=30),
                            "current_srs": 70,
                            "capabilities": {},
                        }
                    ],
                )
                await connection.execute(
                    insert(Signal),
                    [
                        {
                            "id": new_id(),
                            "tenant_id": tenant_id,
                            "account_id": account_id,
                            "fingerprint": new_id(),
                            "scenario": "iam",
                            "kind": "stale_key",
                            "severity": ("CRITICAL", "HIGH", "MEDIUM", "LOW")[number % 4],
                            "title": f"Signal {number}",
                            "description": "seeded by the tenant API benchmark",
                            "region": "us-east-1",
                            "resource": f"arn:aws:iam::{100000000000 + index}:user/u{number}",
                            "details": {},
                            "detected_at": now - timedelta(minutes=number),
                            "last_seen_at": now - timedelta(minutes=number),
                        }
                        for number in range(SIGNALS)
                    ],
                )
        async with engine.connect() as connection:
            await connection.execute(text("COMMIT"))
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return "100000000000"


async def load(base_url: str, path: str, token: str, seconds: float, connections: int) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30, headers=headers) as http:

        async def one_connection() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies


def app_url(database_url: str) -> str:
    """The same database, as the application role (trust authentication on the local server)."""
    scheme, _, rest = database_url.partition("://")
    _, _, host = rest.rpartition("@")
    return f"{scheme}://vigilare_app@{host}"


async def backends_cpu(
    database_url: str, before: tuple[float, dict[int, float]] | None = None
) -> tuple[float, dict[int, float]]:
    """CPU seconds of the PostgreSQL backends serving the database (Linux /proc on this machine):
    with ``before``, what they used since then (backends that started since count from zero)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            pids = list(
                await connection.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            )
    finally:
        await engine.dispose()
    now: dict[int, float] = {}
    for pid in pids:
        try:
            now[pid] = cpu_seconds(pid)
        except OSError:
            continue
    if before is None:
        return 0.0, now
    return sum(value - before[1].get(pid, 0.0) for pid, value in now.items()), now


async def wait_ready(base_url: str, server: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        for _ in range(300):
            if server.returncode is not None:
                raise RuntimeError("vigilare serve exited during start-up")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("vigilare serve did not start")


async def run(args: argparse.Namespace, database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)
    aws_account_id = await seed(database_url)
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "VIGILARE_DATABASE_URL": database_url,
            "VIGILARE_SECRET_KEY": "bench-" + "k" * 40,
            "VIGILARE_RATE_LIMIT_PER_MINUTE": "0",
            "VIGILARE_DATA_DIR": tempfile.mkdtemp(prefix="vigilare-bench-"),
            "VIGILARE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
    )
    env.pop("VIGILARE_REDIS_URL", None)
    if not args.as_owner:
        env["VIGILARE_DATABASE_APP_URL"] = app_url(database_url)
    command = [sys.executable, "-m", "vigilare", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = await asyncio.create_subprocess_exec(*command, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base_url, server)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            answer = await http.post(
                "/auth/login", json={"email": "owner@a.bench.test", "password": PASSWORD}
            )
            answer.raise_for_status()
            token = answer.json()["id_token"]
        path = f"/accounts/{aws_account_id}/signals?limit=50"
        await load(base_url, path, token, 2.0, args.connections)  # warm-up
        api_cpu, db_cpu = cpu_seconds(server.pid), await backends_cpu(database_url)
        latencies = await load(base_url, path, token, args.seconds, args.connections)
        api_cpu, db_cpu = cpu_seconds(server.pid) - api_cpu, await backends_cpu(database_url, db_cpu)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
    latencies.sort()
    rate = len(latencies) / args.seconds
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] * 1000
    role = "the owner's URL" if args.as_owner else "the application role"
    print(f"GET {path} as {role}, {args.connections} connections, {args.seconds:.0f} s:")
    print(f"  {rate:.1f} requests/s  p50 {p50:.1f} ms  p99 {p99:.1f} ms  ({len(latencies)} requests)")
    count = len(latencies)
    print(
        f"  CPU per request: API {api_cpu / count * 1000:.2f} ms, PostgreSQL backends "
        f"{db_cpu[0] / count * 1000:.2f} ms; load average {load_average()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--as-owner", action="store_true", help="connect with VIGILARE_DATABASE_URL only")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with temporary_postgres(args.pg_admin_url) as database_url:
        asyncio.run(run(args, database_url))


if __name__ == "__main__":
    main()
