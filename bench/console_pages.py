"""Server time of each web console page for a tenant with 1,000 accounts.

Seeds one tenant the way scans leave it (accounts with scores, 30 days of score history, open and
resolved signals, a last scan each, fired alerts with their deliveries, alert rules, a team), runs
the API with its console (`create_app`, under uvicorn on loopback, as `vigilare serve` does), logs
in through the login form and requests every page. Server time is measured inside the server: from
the request reaching the app to the last byte of its answer. Target: under 100 ms per page.

    python -m bench.console_pages --accounts 1000 --requests 20

Needs PostgreSQL (a temporary database on the local server unless --database-url is given).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import insert, text

from bench.scan_throughput import temporary_postgres
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.api.app import create_app
from vigilare.auth.models import Tenant, User
from vigilare.auth.passwords import hash_password
from vigilare.config import Settings
from vigilare.db.engine import CrossTenantSessions, create_engine, create_session_factory
from vigilare.db.migrate import upgrade_to_head
from vigilare.ids import new_id, utcnow
from vigilare.scans.models import SUCCEEDED, Scan
from vigilare.scoring.models import ScorePoint
from vigilare.signals.models import Signal

EMAIL, PASSWORD = "owner@bench.test", "bench-password-1"
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
TARGET_MS = 100.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerTimer:
    """ASGI wrapper recording, per request path, the time from arrival to the end of the answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        key = scope["path"] + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times[key].append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed_send)


async def seed(settings: Settings, accounts: int) -> dict[str, str]:
    """One tenant on the Enterprise plan (no account limit) with ``accounts`` accounts; returns
    identifiers of rows the pages below ask for."""
    engine = create_engine(settings.database_url)
    now, today = utcnow(), utcnow().date()
    tenant_id, owner_id = new_id(), new_id()
    account_rows, points, signals, scans = [], [], [], []
    for index in range(accounts):
        account_id = new_id()
        score = (index * 37) % 101
        account_rows.append(
            {
                "id": account_id,
                "tenant_id": tenant_id,
                "aws_account_id": f"{100000000000 + index}",
                "display_name": f"Account {index}",
                "tags": ["bench"],
                "external_id": "e" * 40,
                "role_name": "VigilareAudit",
                "status": ACTIVE,
                "connected_at": now - timedelta(days=60),
                "verified_at": now - timedelta(days=60),
                "current_srs": score,
                "last_scan_at": now - timedelta(minutes=5),
                "capabilities": {},
            }
        )
        points += [
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "account_id": account_id,
                "day": today - timedelta(days=back),
                "srs": min(100, score + back),
                "computed_at": now,
            }
            for back in range(30)
        ]
        for number in range(10):
            seen = now - timedelta(hours=number)
            signals.append(
                {
                    "id": new_id(),
                    "tenant_id": tenant_id,
                    "account_id": account_id,
                    "fingerprint": new_id(),
                    "scenario": ("iam", "exposure", "billing", "hygiene")[number % 4],
                    "kind": "stale_key",
                    "severity": SEVERITIES[(index + number) % 4],
                    "title": f"Signal {number} of account {index}",
                    "description": "seeded by the console benchmark",
                    "region": "us-east-1",
                    "resource": f"arn:aws:iam::{100000000000 + index}:user/u{number}",
                    "remediation": "Rotate it.",
                    "docs_url": "https://docs.aws.amazon.com/",
                    "details": {},
                    "detected_at": seen,
                    "last_seen_at": seen,
                    "resolved_at": now if number >= 7 else None,
                }
            )
        scans.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "account_id": account_id,
                "trigger": "scheduled",
                "status": SUCCEEDED,
                "queued_at": now - timedelta(minutes=6),
                "started_at": now - timedelta(minutes=6),
                "finished_at": now - timedelta(minutes=5),
                "outcomes": {"iam": {"status": "ok", "findings": 3}},
                "collection_errors": [],
                "evidence": {},
                "findings_count": 7,
            }
        )
    rule_id = new_id()
    alerts, deliveries = [], []
    for index in range(300):
        alert_id = new_id()
        alerts.append(
            {
                "id": alert_id,
                "tenant_id": tenant_id,
                "rule_id": rule_id,
                "rule_name": "On-call",
                "account_id": account_rows[index]["id"],
                "aws_account_id": account_rows[index]["aws_account_id"],
                "srs_at_trigger": account_rows[index]["current_srs"],
                "scenarios_triggered": ["iam"],
                "signal_ids": [],
                "signals": [{"severity": "HIGH", "scenario": "iam", "title": "Seeded"}],
                "fired_at": now - timedelta(minutes=index),
            }
        )
        deliveries.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "alert_id": alert_id,
                "event": "trigger",
                "channel": {"type": "email", "to": ["oncall@bench.test"]},
                "channel_type": "email",
                "status": "delivered",
                "attempts": 1,
                "created_at": now,
                "delivered_at": now,
            }
        )
    try:
        async with CrossTenantSessions(create_session_factory(engine))() as session:
            session.add(Tenant(id=tenant_id, name="Bench Corp", plan="enterprise", status="active"))
            await session.flush()
            session.add(
                User(
                    id=owner_id,
                    tenant_id=tenant_id,
                    email=EMAIL,
                    name="Bench Owner",
                    role="owner",
                    status="active",
                    password_hash=await hash_password(PASSWORD),
                )
            )
            session.add_all(
                User(
                    id=new_id(),
                    tenant_id=tenant_id,
                    email=f"member{n}@bench.test",
                    name=f"Member {n}",
                    role="member",
                    status="active",
                )
                for n in range(10)
            )
            session.add(
                AlertRule(
                    id=rule_id,
                    tenant_id=tenant_id,
                    name="On-call",
                    channels=[{"type": "email", "to": ["oncall@bench.test"]}],
                )
            )
            for model, rows in (
                (AwsAccount, account_rows),
                (ScorePoint, points),
                (Signal, signals),
                (Scan, scans),
                (Alert, alerts),
                (AlertDelivery, deliveries),
            ):
                await session.flush()
                for start in range(0, len(rows), 5000):
                    await session.execute(insert(model), rows[start : start + 5000])
            await session.commit()
        # As autovacuum would soon after such a load: the planner needs statistics of the new rows.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    worst = min(account_rows, key=lambda row: row["current_srs"])
    return {
        "worst": worst["aws_account_id"],
        "scan": next(s["id"] for s in scans if s["account_id"] == worst["id"]),
        "alert": alerts[0]["id"],
        "rule": rule_id,
    }


def pages(ids: dict[str, str], accounts: int) -> list[str]:
    account = f"/app/accounts/{ids['worst']}"
    last_page = max(1, (accounts + 49) // 50)
    return [
        "/app/accounts",
        f"/app/accounts?page={last_page}",
        account,
        f"{account}?severity=HIGH",
        f"{account}/recovery-checklist",
        f"{account}/scans/{ids['scan']}",
        f"{account}/setup",
        "/app/accounts/connect",
        "/app/alerts",
        f"/app/alerts/{ids['alert']}",
        "/app/alert-rules",
        f"/app/alert-rules/{ids['rule']}",
        "/app/alert-rules/new",
        "/app/settings/integrations",
        "/app/settings/team",
        "/app/settings/billing",
    ]


async def run(args: argparse.Namespace) -> None:
    workdir = tempfile.mkdtemp(prefix="vigilare-bench-")
    port = args.port or free_port()
    settings = Settings.from_env(
        {},
        data_dir=workdir,
        database_url=args.database_url,
        secret_key="bench-" + "k" * 40,
        public_url=f"http://127.0.0.1:{port}",
        rate_limit_per_minute=0,
    )
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    started = time.perf_counter()
    ids = await seed(settings, args.accounts)
    print(f"seeded {args.accounts} accounts in {time.perf_counter() - started:.1f} s")

    timer = ServerTimer(create_app(settings))
    config = uvicorn.Config(timer, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # start-up failed: say why
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.05)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            form = await http.get("/app/login")
            found = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
            assert found, "no form token on the login page"
            fields = {"_csrf_token": found.group(1), "email": EMAIL, "password": PASSWORD, "next": ""}
            logged_in = await http.post("/app/login", data=fields)
            assert logged_in.status_code == 303, logged_in.text
            for path in pages(ids, args.accounts):
                for attempt in range(args.requests + 1):
                    response = await http.get(path)
                    assert response.status_code == 200, (path, response.status_code)
                    if attempt == 0:  # warm-up: first compilation of the page's template
                        timer.times.pop(path, None)
    finally:
        server.should_exit = True
        await serving

    print(f"server time per page, {args.requests} requests each (target < {TARGET_MS:.0f} ms):")
    print(f"{'page':58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    worst = 0.0
    for path in pages(ids, args.accounts):
        samples = sorted(timer.times[path])
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        worst = max(worst, p95)
        print(f"{path:58} {statistics.median(samples):8.1f} {p95:8.1f} {samples[-1]:8.1f}")
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"slowest p95: {worst:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
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
