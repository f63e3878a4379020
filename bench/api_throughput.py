"""API read throughput: one `vigilare serve` process against a bare asyncpg ASGI app, same database, same run.

Creates its own database on the local PostgreSQL, migrates it, and seeds it through the service's own
tables (COPY into ``Signal.__table__`` and the others, so a million rows take seconds): one tenant
with an owner, 1,000 accounts with scores, 1,000,000 signals on one account (a third resolved) and
100,000 alerts. Then starts, side by side on the same database:

- ``vigilare serve`` (one process, its own defaults: the route's guards, the tenant-scoped session,
  the ORM, Litestar's msgspec encoding), logged in as the owner;
- a bare ASGI app (``bench.api_throughput:bare_app`` under the same uvicorn) that answers the same
  three listings with asyncpg and ``msgspec.json``: the same keyset query, the same rows, no auth,
  no ORM, no framework.

Both are driven by the same bounded load generator (``--connections`` keep-alive HTTP/1.1
connections, each sending its next request when the previous answer has arrived, for
``--seconds`` per endpoint after a warm-up), endpoint by endpoint, in ``--rounds`` alternating
slices (bare, Vigilare, Vigilare, bare, ...: the load of a shared machine drifts). Prints
requests/s and p50/p99 per endpoint for both and the ratios. Targets (issue 15): Vigilare >= 50 %
of the bare app's requests/s and p99 <= 2x the bare app's p99, for each endpoint.

    .venv/bin/python -m bench.api_throughput                 # about 2-3 minutes on 2 cores
    .venv/bin/python -m bench.api_throughput --profile 18    # also py-spy records `vigilare serve`

The global rate limit is switched off for the run (one client address sends thousands of requests a
second) and both apps get the same pool of 20 connections; everything else is the production path:
PostgreSQL, Redis when VIGILARE_REDIS_URL (or --redis-url) is given. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import sqlalchemy as sa

from bench.scan_throughput import temporary_postgres
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.alerts.models import Alert, AlertRule
from vigilare.auth.models import Tenant, User
from vigilare.auth.passwords import hash_password
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id
from vigilare.signals.models import Signal

SECRET_KEY = "bench-" + "k" * 40
OWNER_EMAIL = "owner@bench.test"
OWNER_PASSWORD = "bench-password-1"
ACCOUNT_BASE = 600000000000
SCENARIOS = ("iam", "billing", "compute", "exposure", "threat", "root")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
CHUNK = 50_000
POOL_SIZE = 20


# --- seeding, through the models' own tables -------------------------------------------------------


def _asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _copy(connection: asyncpg.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY ``rows`` into the model's table: every column of the table, in its order (its default if unset).

    JSON columns go as JSON text, as asyncpg's COPY expects for ``json``.
    """
    # A column the row leaves out gets the model's own scalar default (as an ORM insert would).
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if column.default is not None and column.default.is_scalar
    }
    rows = [{**defaults, **row} for row in rows]
    columns = [column.name for column in table.columns]
    json_columns = {column.name for column in table.columns if isinstance(column.type, sa.JSON)}
    records = [
        tuple(
            json.dumps(row.get(name)) if name in json_columns and row.get(name) is not None else row.get(name)
            for name in columns
        )
        for row in rows
    ]
    await connection.copy_records_to_table(table.name, records=records, columns=columns)


@dataclass
class Seeded:
    tenant_id: str
    busy_account: str  # the aws_account_id with a million signals


async def seed(database_url: str, accounts: int, signals: int, alerts: int) -> Seeded:
    started = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    tenant_id, user_id, rule_id = new_id(), new_id(), new_id()
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        await _copy(
            connection,
            Tenant.__table__,  # type: ignore[arg-type]
            [
                {
                    "id": tenant_id,
                    "name": "bench",
                    "plan": "agency",
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        await _copy(
            connection,
            User.__table__,  # type: ignore[arg-type]
            [
                {
                    "id": user_id,
                    "tenant_id": tenant_id,
                    "email": OWNER_EMAIL,
                    "name": "Bench Owner",
                    "role": "owner",
                    "status": "active",
                    "password_hash": await hash_password(OWNER_PASSWORD),
                    "token_version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        account_rows = [
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "aws_account_id": str(ACCOUNT_BASE + index),
                "display_name": f"bench {index}",
                "tags": ["prod" if index % 2 else "dev"],
                "external_id": "bench-external-id",
                "role_name": "VigilareAudit",
                "status": ACTIVE,
                "connected_at": now - timedelta(days=30, seconds=index),
                "verified_at": now - timedelta(days=30),
                "current_srs": (index * 37) % 101,
                "last_scan_at": now - timedelta(minutes=index % 15),
                "last_successful_scan_at": now - timedelta(minutes=index % 15),
                "capabilities": {},
                "scan_state": {},
                "next_scan_at": now + timedelta(days=1),
                "created_at": now,
                "updated_at": now,
            }
            for index in range(accounts)
        ]
        await _copy(connection, AwsAccount.__table__, account_rows)  # type: ignore[arg-type]
        busy = account_rows[0]
        await _copy(
            connection,
            AlertRule.__table__,  # type: ignore[arg-type]
            [
                {
                    "id": rule_id,
                    "tenant_id": tenant_id,
                    "name": "bench",
                    "min_srs": 40,
                    "min_severity": "HIGH",
                    "scenarios": [],
                    "channels": [{"type": "email", "to": ["oncall@bench.test"]}],
                    "enabled": True,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        for start in range(0, signals, CHUNK):
            rows = []
            for index in range(start, min(start + CHUNK, signals)):
                detected = now - timedelta(seconds=signals - index)
                rows.append(
                    {
                        "id": new_id(),
                        "tenant_id": tenant_id,
                        "account_id": busy["id"],
                        "fingerprint": f"{index:064x}",
                        "scenario": SCENARIOS[index % len(SCENARIOS)],
                        "kind": "bench_finding",
                        "severity": SEVERITIES[index % len(SEVERITIES)],
                        "title": f"Bench finding {index}",
                        "description": "An access key was used from an address never seen before.",
                        "region": "us-east-1",
                        "resource": f"arn:aws:iam::{busy['aws_account_id']}:user/bench-{index}",
                        "remediation": "Deactivate the key and rotate it.",
                        "docs_url": "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
                        "details": {"index": index},
                        "detected_at": detected,
                        "last_seen_at": detected,
                        "resolved_at": detected + timedelta(hours=1) if index % 3 == 0 else None,
                        "detected_by": "scan",
                    }
                )
            await _copy(connection, Signal.__table__, rows)  # type: ignore[arg-type]
        for start in range(0, alerts, CHUNK):
            rows = []
            for index in range(start, min(start + CHUNK, alerts)):
                account = account_rows[index % len(account_rows)]
                fired = now - timedelta(seconds=alerts - index)
                rows.append(
                    {
                        "id": new_id(),
                        "tenant_id": tenant_id,
                        "rule_id": rule_id,
                        "rule_name": "bench",
                        "account_id": account["id"],
                        "aws_account_id": account["aws_account_id"],
                        "srs_at_trigger": account["current_srs"],
                        "below_min_srs": True,
                        "scenarios_triggered": ["iam"],
                        "signal_ids": [new_id()],
                        "signals": [],
                        "fired_at": fired,
                        "acknowledged_at": fired + timedelta(minutes=5) if index % 2 else None,
                        "acknowledged_by": user_id if index % 2 else None,
                    }
                )
            await _copy(connection, Alert.__table__, rows)  # type: ignore[arg-type]
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    print(
        f"seeded {accounts} accounts, {signals} signals, {alerts} alerts"
        f" in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return Seeded(tenant_id=tenant_id, busy_account=busy["aws_account_id"])


async def seeded_before(database_url: str) -> Seeded:
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        tenant_id = await connection.fetchval("SELECT tenant_id FROM users WHERE email = $1", OWNER_EMAIL)
        busy = await connection.fetchval(
            "SELECT aws_account_id FROM aws_accounts WHERE tenant_id = $1 ORDER BY connected_at DESC LIMIT 1",
            tenant_id,
        )
    finally:
        await connection.close()
    return Seeded(tenant_id=tenant_id, busy_account=busy)


# --- the bare app: the same queries with asyncpg, the same rows as JSON ----------------------------

SIGNALS_SQL = """
SELECT s.id, s.scenario, s.severity, s.title, s.description, s.detected_at, s.resolved_at, s.kind,
       s.region, s.resource, s.remediation, s.docs_url, s.last_seen_at, s.detected_by
FROM signals s
WHERE s.tenant_id = $1
  AND s.account_id = (SELECT a.id FROM aws_accounts a WHERE a.tenant_id = $1 AND a.aws_account_id = $2)
ORDER BY s.detected_at DESC, s.id DESC
LIMIT $3
"""
ACCOUNTS_SQL = """
SELECT aws_account_id, display_name, status, current_srs, last_scan_at, tags
FROM aws_accounts WHERE tenant_id = $1 ORDER BY connected_at, id
"""
ALERTS_SQL = """
SELECT id, aws_account_id, rule_id, rule_name, srs_at_trigger, scenarios_triggered, signal_ids,
       fired_at, acknowledged_at, acknowledged_by, resolved_at
FROM alerts WHERE tenant_id = $1 ORDER BY fired_at DESC, id DESC LIMIT $2
"""
DELIVERIES_SQL = """
SELECT alert_id, event, channel_type, status, attempts, last_status_code, last_error,
       last_attempt_at, delivered_at
FROM alert_deliveries WHERE tenant_id = $1 AND alert_id = ANY($2::varchar[]) ORDER BY created_at, id
"""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


class BareApp:
    """A minimal ASGI app: parse the path, one pooled asyncpg query (two for alerts), msgspec JSON."""

    def __init__(self) -> None:
        self.dsn = os.environ["BENCH_DSN"]
        self.tenant_id = os.environ["BENCH_TENANT_ID"]
        self.pool: asyncpg.Pool | None = None
        self.encoder = msgspec.json.Encoder()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(self.dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert self.pool is not None
        path: str = scope["path"]
        if path == "/accounts":
            body = await self.accounts()
        elif path == "/alerts":
            body = await self.alerts()
        elif path.startswith("/accounts/") and path.endswith("/signals"):
            body = await self.signals(path.split("/")[2])
        else:
            await self.answer(send, 404, {"error": "not found"})
            return
        await self.answer(send, 200, body)

    async def answer(self, send: Any, status: int, body: Any) -> None:
        payload = self.encoder.encode(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def signals(self, aws_account_id: str) -> dict[str, Any]:
        assert self.pool is not None
        rows = await self.pool.fetch(SIGNALS_SQL, self.tenant_id, aws_account_id, 51)
        page = rows[:50]
        return {
            "signals": [
                {
                    "signal_id": r["id"],
                    "scenario": r["scenario"],
                    "severity": r["severity"],
                    "title": r["title"],
                    "description": r["description"] or "",
                    "detected_at": _iso(r["detected_at"]),
                    "resolved_at": _iso(r["resolved_at"]),
                    "kind": r["kind"],
                    "region": r["region"] or "",
                    "resource": r["resource"] or "",
                    "remediation": r["remediation"] or "",
                    "docs_url": r["docs_url"] or "",
                    "last_seen_at": _iso(r["last_seen_at"]) or "",
                    "detected_by": r["detected_by"],
                }
                for r in page
            ],
            "count": len(page),
            "next_token": page[-1]["id"] if len(rows) > 50 else None,
        }

    async def accounts(self) -> dict[str, Any]:
        assert self.pool is not None
        rows = await self.pool.fetch(ACCOUNTS_SQL, self.tenant_id)
        return {
            "accounts": [
                {
                    "aws_account_id": r["aws_account_id"],
                    "display_name": r["display_name"],
                    "status": r["status"],
                    "current_srs": r["current_srs"],
                    "last_scan_at": _iso(r["last_scan_at"]),
                    "tags": json.loads(r["tags"]) if r["tags"] else [],
                }
                for r in rows
            ],
            "total": len(rows),
        }

    async def alerts(self) -> dict[str, Any]:
        assert self.pool is not None
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(ALERTS_SQL, self.tenant_id, 51)
            page = rows[:50]
            deliveries = await connection.fetch(DELIVERIES_SQL, self.tenant_id, [r["id"] for r in page])
        by_alert: dict[str, list[dict[str, Any]]] = {}
        for d in deliveries:
            by_alert.setdefault(d["alert_id"], []).append(
                {
                    "event": d["event"],
                    "channel_type": d["channel_type"],
                    "target": "",
                    "status": d["status"],
                    "attempts": d["attempts"],
                    "last_status_code": d["last_status_code"],
                    "last_error": d["last_error"],
                    "last_attempt_at": _iso(d["last_attempt_at"]),
                    "delivered_at": _iso(d["delivered_at"]),
                }
            )
        return {
            "alerts": [
                {
                    "alert_id": r["id"],
                    "aws_account_id": r["aws_account_id"],
                    "rule_id": r["rule_id"],
                    "rule_name": r["rule_name"],
                    "srs_at_trigger": r["srs_at_trigger"],
                    "scenarios_triggered": json.loads(r["scenarios_triggered"] or "[]"),
                    "signal_ids": json.loads(r["signal_ids"] or "[]"),
                    "fired_at": _iso(r["fired_at"]),
                    "acknowledged_at": _iso(r["acknowledged_at"]),
                    "acknowledged_by": r["acknowledged_by"],
                    "resolved_at": _iso(r["resolved_at"]),
                    "deliveries": by_alert.get(r["id"], []),
                }
                for r in page
            ],
            "count": len(page),
            "next_token": page[-1]["id"] if len(rows) > 50 else None,
        }


def bare_app() -> BareApp:
    """uvicorn's factory for the bare app (``--factory bench.api_throughput:bare_app``)."""
    return BareApp()


# --- the load generator: bounded, keep-alive HTTP/1.1, as light as the servers' own parsing ----------


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    answered: int = 0  # every answer, warm-up included
    cpu_seconds: float = 0.0  # the server process's CPU time over the whole drive

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.answered if self.answered else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, body
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def drive(
    port: int, path: str, headers: dict[str, str], connections: int, seconds: float, warmup: float
) -> Result:
    """``connections`` closed-loop clients for ``warmup`` + ``seconds``; latencies of the last ``seconds``."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    ).encode()
    result = Result()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(request)
                status, _body = await _read_response(reader)
                done = time.perf_counter()
                result.answered += 1
                if sent >= measure_from:
                    if status == 200:
                        result.latencies.append(done - sent)
                    else:
                        result.errors[str(status)] = result.errors.get(str(status), 0) + 1
        except (OSError, asyncio.IncompleteReadError) as exc:
            result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(client() for _ in range(connections)))
    result.seconds = time.perf_counter() - measure_from
    return result


# --- running both servers ----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} (see its log)")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


@contextlib.contextmanager
def started(
    args: list[str], env: dict[str, str], log: Any, health_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(health_url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def login(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/auth/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["id_token"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, port: int, path: str, headers: dict[str, str], args: argparse.Namespace) -> Result:
    before = cpu_seconds(pid)
    result = asyncio.run(drive(port, path, headers, args.connections, args.seconds, args.warmup))
    result.cpu_seconds = cpu_seconds(pid) - before
    return result


def alternated(bare: Any, ours: Any, args: argparse.Namespace) -> tuple[Result, Result]:
    """Both apps measured in ``--rounds`` alternating slices of ``--seconds / --rounds`` each (bare
    first, then Vigilare first, ...), added up: the machine's load drifts, and other sessions' work
    comes and goes within seconds; alternating spreads it over both apps alike."""
    totals = (Result(), Result())
    slice_args = argparse.Namespace(**{**vars(args), "seconds": args.seconds / args.rounds})
    for index in range(args.rounds):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for which in order:
            part = (bare, ours)[which](slice_args)
            total = totals[which]
            total.latencies.extend(part.latencies)
            for name, count in part.errors.items():
                total.errors[name] = total.errors.get(name, 0) + count
            total.seconds += part.seconds
            total.answered += part.answered
            total.cpu_seconds += part.cpu_seconds
    return totals


def load_average() -> str:
    with contextlib.suppress(OSError), open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])
    return "?"


def report(rows: list[tuple[str, Result, Result]]) -> None:
    print()
    print(
        f"{'endpoint':<34} {'app':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU ms/req':>11} {'errors':>7}"
    )
    for endpoint, bare, ours in rows:
        for name, result in (("bare", bare), ("vigilare", ours)):
            errors = sum(result.errors.values())
            print(
                f"{endpoint:<34} {name:<9} {result.rps:>8.0f} {result.percentile(0.5):>8.1f} "
                f"{result.percentile(0.99):>8.1f} {result.cpu_ms_per_request:>11.2f} {errors:>7}"
                + (f"  {result.errors}" if errors else "")
            )
    print()
    print(f"{'endpoint':<34} {'rps vigilare/bare':>18} {'p99 vigilare/bare':>18}  target: >= 0.50, <= 2.0")
    for endpoint, bare, ours in rows:
        rps_ratio = ours.rps / bare.rps if bare.rps else float("nan")
        p99_ratio = ours.percentile(0.99) / bare.percentile(0.99)
        verdict = "ok" if rps_ratio >= 0.5 and p99_ratio <= 2.0 else "MISSED"
        print(f"{endpoint:<34} {rps_ratio:>18.2f} {p99_ratio:>18.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=os.environ.get("VIGILARE_REDIS_URL", ""))
    parser.add_argument("--database-url", help="a database seeded by an earlier run (--keep-database)")
    parser.add_argument(
        "--keep-database", action="store_true", help="keep the seeded database; drop it yourself"
    )
    parser.add_argument("--only", help="comma-separated parts of the endpoints to run, e.g. signals,alerts")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--signals", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint and app")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each measured slice")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating slices per endpoint and app (see alternated)"
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        help="py-spy record `vigilare serve` this many seconds (signals)",
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="vigilare-api-bench-")
    log_path = os.path.join(workdir, "servers.log")
    print(f"servers' output: {log_path}", flush=True)
    try:
        with contextlib.ExitStack() as stack:
            if args.database_url:  # seeded by an earlier run with --keep-database: reuse it
                database_url = args.database_url
                upgrade_to_head(database_url)  # the code may have moved on since it was seeded
                seeded = asyncio.run(seeded_before(database_url))
            else:
                database_url = stack.enter_context(
                    temporary_postgres(args.admin_url, keep=args.keep_database)
                )
                upgrade_to_head(database_url)
                seeded = asyncio.run(seed(database_url, args.accounts, args.signals, args.alerts))
                if args.keep_database:
                    print(f"database kept for --database-url: {database_url}", flush=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("VIGILARE_")}
            env.update(
                {
                    "VIGILARE_DATABASE_URL": database_url,
                    "VIGILARE_SECRET_KEY": SECRET_KEY,
                    "VIGILARE_DATA_DIR": workdir,
                    "VIGILARE_RATE_LIMIT_PER_MINUTE": "0",
                    # Both apps get the same 20 pooled connections (no overflow opened and closed).
                    "VIGILARE_DB_POOL_SIZE": str(POOL_SIZE),
                    "VIGILARE_DB_MAX_OVERFLOW": "0",
                    "BENCH_DSN": _asyncpg_dsn(database_url),
                    "BENCH_TENANT_ID": seeded.tenant_id,
                }
            )
            if args.redis_url:
                env["VIGILARE_REDIS_URL"] = args.redis_url
                env["VIGILARE_QUEUE_NAME"] = f"vigilare-api-bench-{new_id().lower()}"
            ours_port, bare_port = free_port(), free_port()
            with (
                open(log_path, "ab") as log,
                started(
                    [sys.executable, "-m", "vigilare", "serve", "--port", str(ours_port)],
                    env,
                    log,
                    f"http://127.0.0.1:{ours_port}/healthz",
                ) as ours,
                started(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "bench.api_throughput:bare_app",
                        "--port",
                        str(bare_port),
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ],
                    env,
                    log,
                    f"http://127.0.0.1:{bare_port}/accounts",
                ) as bare_process,
            ):
                token = login(f"http://127.0.0.1:{ours_port}")
                auth = {"Authorization": f"Bearer {token}"}
                endpoints = [
                    f"/accounts/{seeded.busy_account}/signals?limit=50",
                    "/accounts",
                    "/alerts",
                ]
                print(f"load before the run: {load_average()}", flush=True)
                rows = []
                if args.only:
                    endpoints = [e for e in endpoints if any(name in e for name in args.only.split(","))]
                for path in endpoints:
                    if args.profile and path == endpoints[0]:
                        bare = measured(bare_process.pid, bare_port, path, {}, args)
                        ours_result = profile_while(ours.pid, args, ours_port, path, auth, workdir)
                    else:
                        bare, ours_result = alternated(
                            lambda part, path=path: measured(bare_process.pid, bare_port, path, {}, part),
                            lambda part, path=path: measured(ours.pid, ours_port, path, auth, part),
                            args,
                        )
                    label = path.replace(seeded.busy_account, "{id}")
                    print(
                        f"  {label}: bare {bare.rps:.0f} req/s, vigilare {ours_result.rps:.0f} req/s",
                        flush=True,
                    )
                    rows.append((label, bare, ours_result))
                print(f"load after the run: {load_average()}", flush=True)
                report(rows)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def profile_while(
    pid: int, args: argparse.Namespace, port: int, path: str, auth: dict[str, str], workdir: str
) -> Result:
    """Drive ``path`` while py-spy samples the server; prints where the samples went."""
    out = os.path.join(tempfile.gettempdir(), "vigilare-api-profile.txt")
    spy = subprocess.Popen(
        [
            shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(args.profile)),
            "--format",
            "raw",
            "--rate",
            "200",
            "--output",
            out,
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result = asyncio.run(
        drive(port, path, auth, args.connections, max(args.seconds, args.profile), args.warmup)
    )
    spy.wait(timeout=60)
    print(f"  py-spy samples (collapsed stacks): {out}", flush=True)
    return result


if __name__ == "__main__":
    main()
