"""The scan job: lease the account, scan it through the scenario plugins, apply the findings.

A scan runs at most once at a time, always: a run takes the account's lease (a fencing token, see
:mod:`vigilare.scans.lease`) in the transaction that marks the scan running, stops as soon as it
loses the lease, and records its results only while the lease is still its own. A scan job may
run more than once (arq may, the outbox relay and recovery hand jobs over again): a finished scan
is not run again, and a second run of a scan whose first run holds the lease leaves it alone.
Anything that fails before the scan is marked running (a database blip) is retried at once; a
worker that dies before or during the scan leaves it to recovery (:mod:`vigilare.scans.recovery`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import orm

from vigilare import metrics
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.aws.calls import CallCount, counting_calls
from vigilare.aws.errors import RoleVerificationError
from vigilare.aws.freshness import FRESHNESS_KEY, FreshnessPolicy
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, Retry, job
from vigilare.plugin import Scenario
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scans import post_scan
from vigilare.scans.capacity import full_scan_slots
from vigilare.scans.lease import (
    Lease,
    LeaseLost,
    acquire_lease,
    lease_holder,
    renew_lease,
    run_leased,
)
from vigilare.scans.models import FAILED, FINISHED, PARTIAL, RUNNING, SUCCEEDED, Scan
from vigilare.scans.registry import scenario_registry
from vigilare.scenarios.manager import PluginLoadError
from vigilare.scoring.service import known_today_point
from vigilare.signals.lifecycle import apply_findings

logger = logging.getLogger("vigilare.scans")

EVIDENCE_DATA = ("iam.credential_report", "ec2.instances")
# A run that could not start (the database did not answer) tries again after this many seconds
# times its attempt, at most this long.
START_RETRY_SECONDS = 2.0
START_RETRY_MAX_SECONDS = 10.0
PARTIAL_TRIGGERS = ("scheduled",)
"""Scans that collect only the due keys; every other trigger (verify, manual, event) collects all."""
PUSH_LIVE_WITHIN = timedelta(hours=2)
"""Push counts as delivering while an event (at least the hourly heartbeat) arrived this recently."""
# The ingest package depends on this one: its table is named here, not imported.
_INGEST_EVENTS = sa.table("ingest_events", sa.column("account_id"), sa.column("received_at"))


def pushed_lately(now: datetime) -> sa.ColumnElement[bool]:
    """Whether the account (the statement's ``aws_accounts`` row) had an event from its EventBridge
    lately, since its current connection: then what push delivers needs polling only for
    reconciliation. A column of the account's own SELECT, not a round trip of its own."""
    return sa.exists().where(
        _INGEST_EVENTS.c.account_id == AwsAccount.id,
        _INGEST_EVENTS.c.received_at >= now - PUSH_LIVE_WITHIN,
        sa.or_(AwsAccount.connected_at.is_(None), _INGEST_EVENTS.c.received_at >= AwsAccount.connected_at),
    )


def freshness_policy(trigger: str, account: AwsAccount, now: datetime, pushed: bool) -> FreshnessPolicy:
    """A scheduled scan of an account scanned before collects what is due; any other scan, all."""
    state = account.scan_state or {}
    capabilities = account.capabilities or {}
    unavailable = frozenset(
        name
        for name, value in capabilities.items()
        if isinstance(value, dict) and value.get("available") is False
    )
    return FreshnessPolicy(
        now=now,
        full=trigger not in PARTIAL_TRIGGERS or FRESHNESS_KEY not in state,
        push_live=pushed,
        unavailable_capabilities=unavailable,
    )


@dataclass(frozen=True, slots=True)
class _Started:
    lease: Lease
    # Event loop time by which the lease lapses unless renewed (from before it was taken).
    valid_until: float
    target: ScanTarget
    previous_state: dict[str, Any]
    policy: FreshnessPolicy


@job("scan_account")
async def run_scan(ctx: JobContext, scan_id: str) -> str:
    try:
        started = await _start(ctx, scan_id)
    except Retry:
        raise
    except Exception as exc:
        # Nothing has run yet: a transient failure (the database) must not leave the scan queued.
        if ctx.is_last_attempt:
            raise
        logger.warning("scan %s could not start (%s: %s); trying again", scan_id, type(exc).__name__, exc)
        raise Retry(defer_seconds=min(START_RETRY_SECONDS * ctx.attempt, START_RETRY_MAX_SECONDS)) from exc
    if isinstance(started, str):
        return started
    settings = ctx.settings
    report: ScanReport | None = None
    error: str | None = None
    scenarios: list[type[Scenario]] = []
    aws_calls = CallCount()
    try:
        registry = scenario_registry(ctx)
        scenarios = list(registry.select())
        with counting_calls() as aws_calls:
            async with asyncio.timeout(settings.scan_timeout_seconds):
                work = scan_account(
                    started.target,
                    scenarios,
                    collectors=registry.collectors,
                    endpoint_url=settings.aws_endpoint_url or None,
                    max_concurrency=settings.scan_max_concurrency,
                    regions=settings.scan_region_list,
                    # Instances per region are evidence for the panic package, needed or not.
                    extra_data=EVIDENCE_DATA,
                    state=started.previous_state,
                    policy=started.policy,
                    direct_calls=settings.aws_direct_calls,
                )
                if started.policy.full:
                    # A full scan waits for one of the process's full-scan slots, its lease renewed.
                    work = full_scan_slots(settings.scan_full_concurrency).run(work)
                report = await run_leased(
                    work,
                    renew=lambda: _renew(ctx, started.lease),
                    seconds=settings.scan_lease_seconds,
                    valid_until=started.valid_until,
                )
    except LeaseLost as exc:
        logger.warning("scan %s stopped: %s", scan_id, exc)
        return "stopped: lease lost"
    except RoleVerificationError as exc:
        error = f"cannot assume the Vigilare role: {exc.reason}"
    except PluginLoadError as exc:
        # Start-up loads the plugins, so this is rare; retrying cannot fix a broken plugin.
        logger.error("scan %s: the scenario plugins could not be loaded: %s", scan_id, exc)
        error = f"the scenario plugins could not be loaded: {exc}"
    except TimeoutError:
        error = f"scan did not finish within {settings.scan_timeout_seconds} seconds"
    return await _record(ctx, started.lease, report, error, scenarios, aws_calls.calls)


async def _start(ctx: JobContext, scan_id: str) -> _Started | str:
    """Take the lease and mark the scan running, in one transaction; a string says why not."""
    settings = ctx.settings
    before = asyncio.get_running_loop().time()
    async with ctx.unit_of_work(cross_tenant=True) as session:
        # The scan's row first, then its account's: the order every writer of both locks them in.
        scan = await session.get(Scan, scan_id, with_for_update={"key_share": True})
        if scan is None or scan.status in FINISHED:
            return "nothing to do"
        now = utcnow()
        account, pushed = (
            await session.execute(
                sa.select(AwsAccount, pushed_lately(now)).where(AwsAccount.id == scan.account_id)
            )
        ).one()
        if account.status != ACTIVE:
            scan.status, scan.finished_at, scan.error = FAILED, utcnow(), f"account is {account.status}"
            return "account not active"
        lease = await acquire_lease(session, account.id, scan.id, settings.scan_lease_seconds, now)
        if lease is None:
            holder, remaining = await lease_holder(session, account.id)
            if holder == scan.id:
                # This scan is running elsewhere (its job was handed over twice): never twice at once.
                # If that run dies, its lease lapses and recovery hands the scan over again.
                return "already running"
            # Another scan of this account is running: come back when it ends.
            raise Retry(defer_seconds=min(max(remaining, 2.0), 30.0))
        scan.status, scan.started_at, scan.attempts = RUNNING, now, scan.attempts + 1
        scan.handed_at = now
        target = ScanTarget.for_scan(
            aws_account_id=account.aws_account_id,
            role_name=account.role_name,
            external_id=account.external_id,
            tenant_id=account.tenant_id,
            scan_id=scan.id,
        )
        previous_state = dict(account.scan_state or {})
        policy = freshness_policy(scan.trigger, account, now, bool(pushed))
    return _Started(lease, before + settings.scan_lease_seconds, target, previous_state, policy)


async def _renew(ctx: JobContext, lease: Lease) -> bool:
    async with ctx.unit_of_work(cross_tenant=True) as session:
        return await renew_lease(session, lease, ctx.settings.scan_lease_seconds)


async def _record(
    ctx: JobContext,
    lease: Lease,
    report: ScanReport | None,
    error: str | None,
    scenarios: list[type[Scenario]],
    aws_calls: int,
) -> str:
    now = utcnow()
    # The scan job ends with this transaction: its outbox row goes with it (one transaction a scan
    # fewer than deleting it after the run).
    async with ctx.final_unit_of_work(cross_tenant=True) as session:
        scan = await session.get_one(Scan, lease.scan_id, with_for_update={"key_share": True})
        # Locked (FOR NO KEY UPDATE: new rows referencing the account are not held up): pushed events
        # of this account apply their signals one at a time with the scan's, and no run can take
        # the lease until this transaction ends. Its scan state is replaced below, never read here:
        # not decoded for nothing; its evidence (deferred) is read only by a scan that collected
        # only the due keys, which overlays it with what it read.
        options = [orm.defer(AwsAccount.scan_state)]
        if report is not None and not report.full:
            options.append(orm.undefer(AwsAccount.evidence))
        account = await session.get_one(
            AwsAccount, lease.account_id, with_for_update={"key_share": True}, options=options
        )
        if not lease.held_on(account):
            # Fenced: this run lost its lease while it scanned, and another run owns the scan now.
            logger.warning("scan %s: this run lost its lease; its results are dropped", scan.id)
            return "stopped: lease lost"
        if report is None:
            scan.finished_at, scan.status, scan.error = now, FAILED, error
            account.last_scan_at = now
            # Released with the account's other change, as below.
            account.lease_scan_id, account.lease_until = None, None
        else:
            by_id = {scenario.id: scenario for scenario in scenarios}

            def resolvable(scenario_id: str, kind: str, region: str) -> bool:
                scenario = by_id.get(scenario_id)
                return scenario is not None and report.resolves(scenario, kind, region)

            # What the scan's and the account's rows need is read before either is changed, so each
            # is written once (a change made before a read is flushed by it: one UPDATE each time).
            change = await apply_findings(session, account, scan.id, report.findings, resolvable, now)
            # Read before the account's last completed scan moves to this one.
            today_point = known_today_point(account, account.last_successful_scan_at, now)
            scan.finished_at = now
            scan.status = SUCCEEDED if report.status == "ok" else PARTIAL
            scan.outcomes = {sid: _outcome(o) for sid, o in report.outcomes.items()}
            scan.collection_errors = [_plain(e) for e in report.collection_errors]
            # The scan's row keeps what it read; the account, the latest of every key.
            scan.evidence = report.evidence
            scan.findings_count = len(report.findings)
            account.last_scan_at = now
            account.last_successful_scan_at = now
            # Only a completed scan moves caches and baselines forward; a failed one keeps the old.
            account.scan_state = report.state
            account.evidence = report.evidence if report.full else _carried_evidence(account.evidence, report)
            # The lease is released with the account's other changes (one UPDATE): the row is locked
            # and still this run's (checked above), as release_lease would check.
            account.lease_scan_id, account.lease_until = None, None
            await post_scan.after_scan(session, account, scan, report, change.still_open, today_point)
    metrics.SCANS.labels(scan.trigger, scan.status).inc()
    metrics.SCAN_AWS_CALLS.labels(scan.trigger).observe(aws_calls)
    if scan.started_at is not None:
        metrics.SCAN_DURATION.labels(scan.trigger).observe(max((now - scan.started_at).total_seconds(), 0.0))
    return scan.status


def _carried_evidence(previous: dict[str, Any] | None, report: ScanReport) -> dict[str, Any]:
    """The account's evidence after a scan that collected only the due keys: the ``previous``
    evidence overlaid with what this one collected (per region for regional keys), so the account's
    evidence always holds the latest data of every key."""
    merged = dict(report.evidence)
    data: dict[str, Any] = dict((previous or {}).get("data") or {})
    for key, value in (report.evidence.get("data") or {}).items():
        earlier = data.get(key)
        if isinstance(value, dict) and isinstance(earlier, dict) and key in report.regional_keys:
            data[key] = {**earlier, **value}
        else:
            data[key] = value
    merged["data"] = data
    return merged


def _outcome(outcome: Any) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "duration_ms": outcome.duration_ms,
        "findings": outcome.finding_count,
        "data_complete": outcome.data_complete,
        "error": outcome.error,
    }


def _plain(error: Any) -> dict[str, Any]:
    plain: dict[str, Any] = msgspec.to_builtins(error)
    return plain
