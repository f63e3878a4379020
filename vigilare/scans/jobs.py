"""The scan job: lease the account, scan it through the scenario plugins, apply the findings.

arq may run a job twice, and a worker may die mid-scan: the job is idempotent (a finished scan is
not run again, findings are matched by fingerprint) and the account lease, renewed while the scan
runs, lapses quickly when its worker dies so the scheduler can hand the scan to another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec

from vigilare import metrics
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.aws.errors import RoleVerificationError
from vigilare.ids import utcnow
from vigilare.jobs import JobContext, Retry, job
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scans import post_scan
from vigilare.scans.lease import acquire_lease, lease_remaining, release_lease
from vigilare.scans.models import FAILED, FINISHED, PARTIAL, RUNNING, SUCCEEDED, Scan
from vigilare.scans.registry import scenario_registry
from vigilare.scenarios.manager import PluginLoadError
from vigilare.signals.lifecycle import apply_findings

logger = logging.getLogger("vigilare.scans")

EVIDENCE_DATA = ("iam.credential_report", "ec2.instances")


@job("scan_account")
async def run_scan(ctx: JobContext, scan_id: str) -> str:
    settings = ctx.settings
    async with ctx.unit_of_work(cross_tenant=True) as session:
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

    heartbeat = asyncio.create_task(_renew_lease(ctx, scan.account_id, scan_id))
    report: ScanReport | None = None
    error: str | None = None
    try:
        registry = scenario_registry(ctx)
        async with asyncio.timeout(settings.scan_timeout_seconds):
            report = await scan_account(
                target,
                registry.select(),
                collectors=registry.collectors,
                endpoint_url=settings.aws_endpoint_url or None,
                max_concurrency=settings.scan_max_concurrency,
                regions=settings.scan_region_list,
                # Instances per region are evidence for the panic package even when no scenario needs them.
                extra_data=EVIDENCE_DATA,
                state=previous_state,
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
    return await _record(ctx, scan_id, report, error)


async def _renew_lease(ctx: JobContext, account_id: str, scan_id: str) -> None:
    interval = max(ctx.settings.scan_lease_seconds / 3, 0.5)
    while True:
        await asyncio.sleep(interval)
        try:
            async with ctx.unit_of_work(cross_tenant=True) as session:
                await acquire_lease(session, account_id, scan_id, ctx.settings.scan_lease_seconds)
        except Exception:  # a missed heartbeat is not fatal; the next one may get through
            logger.warning("could not renew the scan lease of %s", scan_id, exc_info=True)


async def _record(ctx: JobContext, scan_id: str, report: ScanReport | None, error: str | None) -> str:
    now = utcnow()
    async with ctx.unit_of_work(cross_tenant=True) as session:
        scan = await session.get_one(Scan, scan_id)
        # Locked (FOR NO KEY UPDATE: new rows referencing the account are not held up): pushed events
        # of this account apply their signals one at a time with the scan's.
        account = await session.get_one(AwsAccount, scan.account_id, with_for_update={"key_share": True})
        scan.finished_at = now
        account.last_scan_at = now
        if report is None:
            scan.status, scan.error = FAILED, error
        else:
            complete = {
                sid
                for sid, outcome in report.outcomes.items()
                if outcome.status == "ok" and outcome.data_complete
            }
            await apply_findings(session, account, scan.id, report.findings, complete, now)
            scan.status = SUCCEEDED if report.status == "ok" else PARTIAL
            scan.outcomes = {sid: _outcome(o) for sid, o in report.outcomes.items()}
            scan.collection_errors = [_plain(e) for e in report.collection_errors]
            scan.evidence = report.evidence
            scan.findings_count = len(report.findings)
            account.last_successful_scan_at = now
            # Only a completed scan moves caches and baselines forward; a failed one keeps the old.
            account.scan_state = report.state
            await post_scan.after_scan(session, account, scan, report)
        await release_lease(session, account.id, scan.id)
    metrics.SCANS.labels(scan.trigger, scan.status).inc()
    if scan.started_at is not None:
        metrics.SCAN_DURATION.labels(scan.trigger).observe(max((now - scan.started_at).total_seconds(), 0.0))
    return scan.status


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
