"""`vigilare demo`: the whole product in one command, with nothing but Python.

Starts the service on its embedded default (SQLite, jobs in process) and a local AWS sandbox with a
compromised and a clean account, then acts as a customer would, through the HTTP API only: signs
up, logs in, creates an alert rule, connects and verifies both accounts, waits for the first scans,
then sets up push for the clean account and delivers AWS Health's abuse report for it through the
ingest route as EventBridge would, and prints a report (the signal and the alert arriving seconds
after the event). The sandbox (`vigilare_sandbox`, moto plus fakes) is its own distribution,
required by the optional `vigilare[demo]` extra and imported lazily.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from vigilare.config import Settings
from vigilare.plugin.model import Severity

COMPROMISED, CLEAN = "111122223333", "444455556666"
DEMO_EMAIL, DEMO_PASSWORD = "demo@vigilare.local", "vigilare-demo-password"
SENTINEL = "123456789012"  # the sandbox's own account plays Vigilare's
# The demo reads the regions its seeded risks live in; a real scan reads every enabled region.
DEMO_REGIONS = "us-east-1,eu-west-1,ap-southeast-2"
SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}


class DemoUnavailable(Exception):
    """The demo extra is not installed; the message says what to install."""


def require_demo_extra() -> None:
    """The demo's AWS is the vigilare-sandbox distribution (moto plus fakes), which the `demo` extra
    requires and the vigilare wheel does not contain: it is imported here, never at module level."""
    try:
        import moto.server  # noqa: F401

        import vigilare_sandbox  # noqa: F401
    except ImportError as exc:
        raise DemoUnavailable(
            "the demo needs the local AWS sandbox (the vigilare-sandbox package, with moto), "
            f"which is missing ({exc}). Install it with:  pip install 'vigilare[demo]'  "
            "- from a checkout of the repository:  pip install -e ./sandbox -e '.[demo]'  "
            "(or run scripts/demo.sh)"
        ) from exc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailCapture(logging.Handler):
    """Keeps the emails the service writes to its log (no SMTP server in the demo)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "email not sent" in record.getMessage():
            self.messages.append(record.getMessage())


@dataclass
class PushArrival:
    """An AWS event pushed through EventBridge, and what came of it, in seconds after delivery."""

    account_id: str
    event: dict[str, Any]
    answer_status: int
    answer_ms: float
    srs_before: int | None
    srs_after: int | None = None
    signal: dict[str, Any] | None = None
    signal_after: float | None = None
    alert: dict[str, Any] | None = None
    alert_after: float | None = None
    push_status: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    checklist: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    push: PushArrival | None = None


@contextlib.contextmanager
def quiet_logs() -> Iterator[MailCapture]:
    capture = MailCapture()
    mail_logger = logging.getLogger("vigilare.mail")
    mail_logger.addHandler(capture)
    mail_logger.setLevel(logging.INFO)
    mail_logger.propagate = False
    # moto answers 500 for some of botocore's newest regions; a scan records that, it is not news here.
    noisy = {
        "uvicorn": logging.WARNING,
        "uvicorn.access": logging.WARNING,
        "uvicorn.error": logging.WARNING,
        "alembic": logging.WARNING,
        "vigilare": logging.WARNING,
        "botocore": logging.WARNING,
        "httpx": logging.WARNING,
        "werkzeug": logging.CRITICAL,
    }
    previous = {name: logging.getLogger(name).level for name in noisy}
    for name, level in noisy.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield capture
    finally:
        mail_logger.removeHandler(capture)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


async def _wait_for_scans(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    scans: dict[str, str],
    console: Console,
    timeout: float = 120,
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(scans)
    with console.status("Scanning both accounts (first scans)...") as status:
        while pending:
            for account_id, scan_id in list(pending.items()):
                scan = (await http.get(f"/accounts/{account_id}/scans/{scan_id}", headers=headers)).json()
                if scan["status"] in ("succeeded", "partial", "failed"):
                    console.print(
                        f"  scan of {account_id} {scan['status']}: {scan['findings_count']} findings"
                    )
                    del pending[account_id]
            status.update(f"Scanning: {len(scans) - len(pending)} of {len(scans)} accounts done...")
            if time.monotonic() > deadline:
                raise TimeoutError("the first scans did not finish in time")
            await asyncio.sleep(0.3)


async def run_customer_journey(base_url: str, sandbox: Any, console: Console) -> DemoResult:
    """Sign up, add a rule, connect and verify both accounts, read the first scans' results; then
    set up push for the clean account and let AWS Health's abuse report arrive through EventBridge."""
    from vigilare_sandbox.seed import register_customer_role

    result = DemoResult()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        signup = await http.post(
            "/auth/signup", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "name": "Demo Corp"}
        )
        signup.raise_for_status()
        tokens = (
            await http.post("/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        ).json()
        headers = {"Authorization": f"Bearer {tokens['id_token']}"}
        console.print(f"Signed up and logged in as [bold]{DEMO_EMAIL}[/]")
        rule = await http.post(
            "/alert-rules",
            headers=headers,
            json={
                "name": "Suspension risk to the on-call inbox",
                "min_srs": 50,
                "channels": [{"type": "email", "to": ["oncall@demo-corp.example"]}],
            },
        )
        rule.raise_for_status()
        console.print("Created an alert rule: email when the score drops below 50 or a HIGH signal appears")
        scans: dict[str, str] = {}
        for account_id, name in ((COMPROMISED, "Production"), (CLEAN, "Staging")):
            created = await http.post(
                "/accounts",
                headers=headers,
                json={"aws_account_id": account_id, "display_name": name, "tags": ["demo"]},
            )
            if created.status_code == 403:  # the Solo trial allows one account: upgrade the demo tenant
                raise RuntimeError(created.json()["error"])
            created.raise_for_status()
            body = created.json()
            # What the customer does with the Terraform snippet: create the role in their account.
            register_customer_role(sandbox, account_id, body["role_name"], body["external_id"], SENTINEL)
            verified = await http.post(f"/accounts/{account_id}/verify", headers=headers)
            verified.raise_for_status()
            scans[account_id] = verified.json()["first_scan_execution_arn"]
            console.print(f"Connected and verified AWS account {account_id} ({name})")
        await _wait_for_scans(http, headers, scans, console)
        result.accounts = (await http.get("/accounts", headers=headers)).json()["accounts"]
        for account_id in (COMPROMISED, CLEAN):
            listed = await http.get(f"/accounts/{account_id}/signals", headers=headers, params={"limit": 200})
            result.signals[account_id] = listed.json()["signals"]
        checklist = await http.get(f"/accounts/{COMPROMISED}/recovery-checklist", headers=headers)
        result.checklist = checklist.json()["checklist"]
        await _wait_for_deliveries(http, headers, result)
        result.push = await push_an_abuse_report(http, headers, sandbox, base_url, console)
        await _wait_for_deliveries(http, headers, result)
    return result


async def _wait_for_deliveries(http: httpx.AsyncClient, headers: dict[str, str], result: DemoResult) -> None:
    """Alert deliveries are jobs of their own: give them a moment to run."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        result.alerts = (await http.get("/alerts", headers=headers)).json()["alerts"]
        if result.alerts and all(
            d.get("delivered_at") or d.get("last_error")
            for a in result.alerts
            for d in a.get("deliveries", [])
        ):
            return
        await asyncio.sleep(0.3)


async def push_an_abuse_report(
    http: httpx.AsyncClient, headers: dict[str, str], sandbox: Any, base_url: str, console: Console
) -> PushArrival:
    """Push for the clean account, then AWS Health's abuse report arriving through EventBridge."""
    from vigilare_sandbox.eventbridge import ApiDestination, health_event_envelope
    from vigilare_sandbox.seed_events import add_abuse_event

    setup = await http.post(f"/accounts/{CLEAN}/push-setup", headers=headers)
    setup.raise_for_status()
    secret = setup.json()
    # What the customer's Terraform creates: an API destination with the secret in its header.
    destination = ApiDestination(f"{base_url}/ingest/aws-events", secret["header_name"], secret["secret"])
    console.print(f"Set up push for {CLEAN}: EventBridge delivers its AWS events to {destination.endpoint}")
    before = (await http.get(f"/accounts/{CLEAN}", headers=headers)).json()
    instance = f"arn:aws:ec2:us-east-1:{CLEAN}:instance/i-0d3e4d5c6b7a8f901"
    deadline = datetime.now(UTC) + timedelta(days=3)
    arn = await asyncio.to_thread(add_abuse_event, sandbox, CLEAN, [instance], deadline=deadline)
    event = await asyncio.to_thread(health_event_envelope, sandbox, CLEAN, arn)
    console.print(f"AWS Health reports abuse from {CLEAN}: EventBridge delivers the event now...")
    sent = time.monotonic()
    answer = await destination.deliver_async(http, event)
    arrival = PushArrival(
        account_id=CLEAN,
        event=event,
        answer_status=answer.status_code,
        answer_ms=(time.monotonic() - sent) * 1000,
        srs_before=before["current_srs"],
    )
    limit = sent + 30
    while time.monotonic() < limit and (arrival.signal is None or arrival.alert is None):
        if arrival.signal is None:
            listed = await http.get(
                f"/accounts/{CLEAN}/signals", headers=headers, params={"scenario": "abuse"}
            )
            pushed = [s for s in listed.json()["signals"] if s["detected_by"] == "event"]
            if pushed:
                arrival.signal, arrival.signal_after = pushed[0], time.monotonic() - sent
        if arrival.alert is None:
            alerts = (await http.get("/alerts", headers=headers, params={"account_id": CLEAN})).json()[
                "alerts"
            ]
            fired = [a for a in alerts if "abuse" in a["scenarios_triggered"]]
            if fired:
                arrival.alert, arrival.alert_after = fired[0], time.monotonic() - sent
        await asyncio.sleep(0.05)
    after = (await http.get(f"/accounts/{CLEAN}", headers=headers)).json()
    arrival.srs_after, arrival.push_status = after["current_srs"], after["push"]
    return arrival


async def console_shows(base_url: str, account_ids: tuple[str, ...]) -> list[str]:
    """Log in to the web console with the demo user, as a browser would; the accounts its overview lists."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as browser:
        form = await browser.get("/app/login")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
        if token is None:
            return []
        fields = {"_csrf_token": token.group(1), "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "next": ""}
        await browser.post("/app/login", data=fields)
        overview = await browser.get("/app/accounts")
    return [account_id for account_id in account_ids if account_id in overview.text]


def print_console(base_url: str, shown: list[str], serving: bool, console: Console) -> None:
    console.rule("Web console")
    console.print(f"Console:   {base_url}/app/")
    console.print(f"Log in as: {DEMO_EMAIL}")
    console.print(f"Password:  {DEMO_PASSWORD}")
    if shown:
        console.print(
            f"Its accounts overview lists {', '.join(shown)}: scores, signals, checklist, the alert."
        )
    if not serving:
        console.print("(--no-serve: the demo stops now; run `vigilare demo` without it to open the console)")


def print_report(result: DemoResult, console: Console) -> None:
    console.rule("[bold]Vigilare report")
    table = Table(title="Accounts", show_lines=False)
    for column in ("AWS account", "Name", "Status", "Security Risk Score"):
        table.add_column(column)
    for account in result.accounts:
        srs = account["current_srs"]
        style = "bold red" if srs is not None and srs < 40 else "green"
        table.add_row(
            account["aws_account_id"],
            account["display_name"] or "",
            account["status"],
            f"[{style}]{srs}[/]" if srs is not None else "-",
        )
    console.print(table)
    for account_id in (COMPROMISED, CLEAN):
        open_signals = [s for s in result.signals.get(account_id, []) if s["resolved_at"] is None]
        open_signals.sort(key=lambda s: -Severity(s["severity"]).rank)
        table = Table(title=f"Top signals of {account_id}")
        table.add_column("Severity")
        table.add_column("Scenario")
        table.add_column("What was seen")
        for signal in open_signals[:25]:
            style = SEVERITY_STYLE.get(signal["severity"], "")
            table.add_row(f"[{style}]{signal['severity']}[/]", signal["scenario"], signal["title"])
        if not open_signals:
            table.add_row("-", "-", "no open signals")
        console.print(table)
    console.rule(f"Recovery checklist for {COMPROMISED}")
    for step in result.checklist:
        console.print(f"[bold]{step['step']}. {step['title']}[/]")
        console.print(f"   {step['description']}")
        console.print(f"   [dim]{step['docs_url']}[/]")
    console.rule("Alerts")
    for alert in result.alerts:
        console.print(
            f"Alert {alert['alert_id']} for {alert['aws_account_id']}: score {alert['srs_at_trigger']} "
            f"at trigger, scenarios {', '.join(alert['scenarios_triggered'])}"
        )
    if not result.alerts:
        console.print("No alert fired.")
    for message in result.emails[:1]:
        console.rule("The alert email (printed: no SMTP server is configured)")
        console.print(message, markup=False, highlight=False)
    if result.push is not None:
        print_push(result.push, console)


def print_push(push: PushArrival, console: Console) -> None:
    console.rule(f"Real-time events: AWS Health abuse report for {push.account_id}, pushed by EventBridge")
    event = push.event
    console.print(
        f"EventBridge delivered {event['detail-type']} {event['detail']['eventTypeCode']} "
        f"(event {event['id']}) to POST /ingest/aws-events: answered {push.answer_status} in "
        f"{push.answer_ms:.0f} ms."
    )
    if push.signal is not None and push.signal_after is not None:
        signal = push.signal
        style = SEVERITY_STYLE.get(signal["severity"], "")
        console.print(
            f"  +{push.signal_after:.1f} s  signal [{style}]{signal['severity']}[/] {signal['scenario']} "
            f"(detected by {signal['detected_by']}): {signal['title']}"
        )
    else:
        console.print("  no signal arrived within 30 s")
    console.print(f"          score of {push.account_id}: {push.srs_before} -> {push.srs_after}")
    if push.alert is not None and push.alert_after is not None:
        alert = push.alert
        console.print(
            f"  +{push.alert_after:.1f} s  alert {alert['alert_id']}: score {alert['srs_at_trigger']} at "
            f"trigger, scenarios {', '.join(alert['scenarios_triggered'])}"
        )
    else:
        console.print("  no alert fired within 30 s")
    status = push.push_status
    console.print(
        f"Push status of {push.account_id}: {status.get('status')} "
        f"({status.get('events_24h')} event(s) in the last 24 hours)"
    )


async def _serve(settings: Settings, port: int) -> tuple[Any, asyncio.Task[None]]:
    import uvicorn

    from vigilare.api.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the API did not start")
        if time.monotonic() > deadline:
            raise TimeoutError("the API did not start within a minute")
        await asyncio.sleep(0.05)
    return server, task


def _seed(sandbox: Any) -> None:
    from vigilare_sandbox.seed import seed_clean_account, seed_compromised_account
    from vigilare_sandbox.seed_invoices import add_past_due_invoice

    seed_compromised_account(sandbox, COMPROMISED)
    # The miners' bill went unpaid: AWS Payments reports the invoice past due (a suspension cap).
    add_past_due_invoice(sandbox, COMPROMISED)
    seed_clean_account(sandbox, CLEAN)


async def run_demo(data_dir: Path, *, serve: bool, console: Console) -> int:
    from vigilare_sandbox import Sandbox

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "demo"),
        ("AWS_SECRET_ACCESS_KEY", "demo"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ[name] = value
    started = time.monotonic()
    with quiet_logs() as mail, Sandbox() as sandbox:
        console.print(
            f"Local AWS sandbox on {sandbox.endpoint_url}; seeding a compromised and a clean account..."
        )
        await asyncio.to_thread(_seed, sandbox)
        port = free_port()
        settings = Settings.from_env(
            {},
            data_dir=str(data_dir),
            aws_endpoint_url=sandbox.endpoint_url,
            sentinel_account_id=SENTINEL,
            scan_regions=DEMO_REGIONS,
            public_url=f"http://127.0.0.1:{port}",
            rate_limit_per_minute=0,
        )
        server, task = await _serve(settings, port)
        base_url = f"http://127.0.0.1:{port}"
        console.print(f"Vigilare API on {base_url} (SQLite in {data_dir}, jobs in process)")
        try:
            await _upgrade_demo_tenant(settings)
            result = await run_customer_journey(base_url, sandbox, console)
            result.emails = list(mail.messages)
            print_report(result, console)
            console.print(f"\nReport ready in {time.monotonic() - started:.0f} s.")
            print_console(base_url, await console_shows(base_url, (COMPROMISED, CLEAN)), serve, console)
            if serve:
                console.rule("Explore the API")
                console.print(f"API docs:  {base_url}/docs   (schema: {base_url}/openapi.json)")
                console.print(f"Log in:    POST {base_url}/auth/login  {DEMO_EMAIL} / {DEMO_PASSWORD}")
                console.print("Press Ctrl-C to stop.")
                await task
        finally:
            server.should_exit = True
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, timeout=15)
    return 0


async def _upgrade_demo_tenant(settings: Settings) -> None:
    """New tenants start on the Solo trial (one account); the demo connects two, as a Team would."""
    from sqlalchemy import event

    from vigilare.auth.models import Tenant

    def on_insert(_mapper: Any, _connection: Any, tenant: Tenant) -> None:
        tenant.plan = "team"

    event.listen(Tenant, "before_insert", on_insert, once=True)


def main(data_dir: str | None, serve: bool) -> int:
    console = Console(highlight=False)
    try:
        require_demo_extra()
    except DemoUnavailable as exc:
        # Unwrapped: the message ends with commands to copy.
        console.print(f"vigilare demo: {exc}", markup=False, soft_wrap=True)
        return 2
    if data_dir:
        folder = Path(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_demo(folder, serve=serve, console=console))
    with tempfile.TemporaryDirectory(prefix="vigilare-demo-") as temporary:
        try:
            return asyncio.run(run_demo(Path(temporary), serve=serve, console=console))
        except KeyboardInterrupt:
            return 0
