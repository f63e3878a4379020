"""The scan job: lease the account, scan it through the scenario plugins, apply the findings.

arq may run a job twice, and a worker may die mid-scan: the job is idempotent (a finished scan is
not run again, findings are matched by fingerprint) and the account lease, renewed while the scan
runs, lapses quickly when its worker dies so the scheduler can hand the scan to another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.aws.errors import RoleVerificationError
from vigilare.aws.freshness import FRESHNESS_KEY, FreshnessPolicy
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, Retry, job
from vigilare.plugin import Scenario
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scans import post_scan
from vigilare.scans.lease import acquire_lease, lease_remaining, release_lease
from vigilare.scans.models import FAILED, FINISHED, PARTIAL, RUNNING, SUCCEEDED, Scan
from vigilare.scans.registry import scenario_registry
from vigilare.scenarios.manager import PluginLoadError
from vigilare.signals.lifecycle import apply_findings

logger = logging.getLogger("vigilare.scans")

EVIDENCE_DATA = ("iam.credential_report", "ec2.instances")
PARTIAL_TRIGGERS = ("scheduled",)
"""Scans that collect only the due keys; every other trigger (verify, manual, event) collects all."""
PUSH_LIVE_WITHIN = timedelta(hours=2)
"""Push counts as delivering while an event (at least the hourly heartbeat) arrived this recently."""
# The ingest package depends on this one: its table is named here, not imported.
_INGEST_EVENTS = sa.table("ingest_events", sa.column("account_id"), sa.column("received_at"))


async def push_live(session: AsyncSession, account: AwsAccount, now: datetime) -> bool:
    """Whether the account's EventBridge delivered an event to Vigilare lately (on its current
    connection): then what push delivers needs polling only for reconciliation."""
    since = (
        max(now - PUSH_LIVE_WITHIN, account.connected_at) if account.connected_at else now - PUSH_LIVE_WITHIN
    )
    found = await session.scalar(
        sa.select(sa.literal(1))
        .select_from(_INGEST_EVENTS)
        .where(_INGEST_EVENTS.c.account_id == account.id, _INGEST_EVENTS.c.received_at >= since)
        .limit(1)
    )
    return found is not None


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


@job("scan_account")
async def run_scan(ctx: JobContext, scan_id: str) -> str:
    settings = ctx.settings
    async with ctx.unit_of_work() as session:
        scan = await session.get(Scan, scan_id)
        if scan is None or scan.status in FINISHED:
            return "nothing to do"
        account = await session.get_one(AwsAccount, scan.account_id)
        if account.status != ACTIVE:
            scan.status, scan.finished_at, scan.error = FAILED, utcnow(), f"account is {account.status}"
            return "account not active"
        if not await acquire_lease(session, account.id, scan.id, settings.scan_lease_seconds):
            wait = await lease_remaining(session, account.id)
            # Another scan of this account is running: never two at once. Come back when it ends.
            raise Retry(defer_seconds=min(max(wait, 2.0), 30.0))
        scan.status, scan.started_at, scan.attempts = RUNNING, utcnow(), scan.attempts + 1
        target = ScanTarget.for_scan(
            aws_account_id=account.aws_account_id,
            role_name=account.role_name,
            external_id=account.external_id,
            tenant_id=account.tenant_id,
            scan_id=scan.id,
        )
        previous_state = dict(account.scan_state or {})
        now = utcnow()
        policy = freshness_policy(scan.trigger, account, now, await push_live(session, account, now))

    heartbeat = asyncio.create_task(_renew_lease(ctx, scan.account_id, scan_id))
    report: ScanReport | None = None
    error: str | None = None
    scenarios: list[type[Scenario]] = []
    try:
        registry = scenario_registry(ctx)
        scenarios = list(registry.select())
        async with asyncio.timeout(settings.scan_timeout_seconds):
            report = await scan_account(
                target,
                scenarios,
                collectors=registry.collectors,
                endpoint_url=settings.aws_endpoint_url or None,
                max_concurrency=settings.scan_max_concurrency,
                regions=settings.scan_region_list,
                # Instances per region are evidence for the panic package even when no scenario needs them.
                extra_data=EVIDENCE_DATA,
                state=previous_state,
                policy=policy,
            )
    except RoleVerificationError as exc:
        error = f"cannot assume the Vigilare role: {exc.reason}"
    except PluginLoadError as exc:
        # Start-up loads the plugins, so this is rare; retrying cannot fix a broken plugin.
        logger.error("scan %s: the scenario plugins could not be loaded: %s", scan_id, exc)
        error = f"the scenario plugins could not be loaded: {exc}"
    except TimeoutError:
        error = f"scan did not finish within {settings.scan_timeout_seconds} seconds"
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    return await _record(ctx, scan_id, report, error, scenarios)


async def _renew_lease(ctx: JobContext, account_id: str, scan_id: str) -> None:
    interval = max(ctx.settings.scan_lease_seconds / 3, 0.5)
    while True:
        await asyncio.sleep(interval)
        try:
            async with ctx.unit_of_work() as session:
                await acquire_lease(session, account_id, scan_id, ctx.settings.scan_lease_seconds)
        except Exception:  # a missed heartbeat is not fatal; the next one may get through
            logger.warning("could not renew the scan lease of %s", scan_id, exc_info=True)


async def _record(
    ctx: JobContext,
    scan_id: str,
    report: ScanReport | None,
    error: str | None,
    scenarios: list[type[Scenario]],
) -> str:
    now = utcnow()
    async with ctx.unit_of_work() as session:
        scan = await session.get_one(Scan, scan_id)
        # Locked (FOR NO KEY UPDATE: new rows referencing the account are not held up): pushed events
        # of this account apply their signals one at a time with the scan's.
        account = await session.get_one(AwsAccount, scan.account_id, with_for_update={"key_share": True})
        scan.finished_at = now
        account.last_scan_at = now
        if report is None:
            scan.status, scan.error = FAILED, error
        else:
            by_id = {scenario.id: scenario for scenario in scenarios}

            def resolvable(scenario_id: str, kind: str, region: str) -> bool:
                scenario = by_id.get(scenario_id)
                return scenario is not None and report.resolves(scenario, kind, region)

            await apply_findings(session, account, scan.id, report.findings, resolvable, now)
            scan.status = SUCCEEDED if report.status == "ok" else PARTIAL
            scan.outcomes = {sid: _outcome(o) for sid, o in report.outcomes.items()}
            scan.collection_errors = [_plain(e) for e in report.collection_errors]
            scan.evidence = report.evidence if report.full else await _carried_evidence(session, scan, report)
            scan.findings_count = len(report.findings)
            account.last_successful_scan_at = now
            # Only a completed scan moves caches and baselines forward; a failed one keeps the old.
            account.scan_state = report.state
            await post_scan.after_scan(session, account, scan, report)
        await release_lease(session, account.id, scan.id)
    return scan.status


async def _carried_evidence(session: AsyncSession, scan: Scan, report: ScanReport) -> dict[str, Any]:
    """The evidence of a scan that collected only the due keys: the previous completed scan's,
    overlaid with what this one collected (per region for regional keys), so the last scan's
    evidence always holds the latest data of every key."""
    previous = await session.scalar(
        sa.select(Scan.evidence)
        .where(
            Scan.account_id == scan.account_id,
            Scan.id != scan.id,
            Scan.status.in_((SUCCEEDED, PARTIAL)),
        )
        .order_by(Scan.finished_at.desc())
        .limit(1)
    )
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
