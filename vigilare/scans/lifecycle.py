"""The signal lifecycle: a finding seen again updates its open occurrence, one no longer seen in a
complete scan of its scenario is resolved, one that comes back opens a new occurrence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.ids import new_id
from vigilare.plugin import Finding, Severity
from vigilare.scans.models import Signal

_RANK = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}


@dataclass
class LifecycleChange:
    opened: list[Signal]
    updated: list[Signal]
    resolved: list[Signal]


def _severity(value: Severity | str) -> str:
    return value.value if isinstance(value, Severity) else str(value)


def _dedupe(findings: Iterable[Finding], aws_account_id: str) -> dict[str, Finding]:
    """One finding per fingerprint; if a scenario reports the same one twice, keep the worse."""
    seen: dict[str, Finding] = {}
    for finding in findings:
        key = finding.fingerprint(aws_account_id)
        kept = seen.get(key)
        if kept is None or _RANK.get(_severity(finding.severity), 0) > _RANK.get(_severity(kept.severity), 0):
            seen[key] = finding
    return seen


async def apply_findings(
    session: AsyncSession,
    account: AwsAccount,
    scan_id: str,
    findings: Iterable[Finding],
    complete_scenarios: set[str],
    now: datetime,
) -> LifecycleChange:
    """Apply one scan's findings. Idempotent: applying the same scan twice changes nothing more."""
    seen = _dedupe(findings, account.aws_account_id)
    open_rows = {
        row.fingerprint: row
        for row in await session.scalars(
            select(Signal).where(Signal.account_id == account.id, Signal.resolved_at.is_(None))
        )
    }
    change = LifecycleChange(opened=[], updated=[], resolved=[])
    for fingerprint, finding in seen.items():
        row = open_rows.get(fingerprint)
        values = _values(finding)
        if row is None:
            row = Signal(
                id=new_id(),
                tenant_id=account.tenant_id,
                account_id=account.id,
                fingerprint=fingerprint,
                detected_at=now,
                last_seen_at=now,
                last_scan_id=scan_id,
                **values,
            )
            session.add(row)
            change.opened.append(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.last_seen_at, row.last_scan_id = now, scan_id
            change.updated.append(row)
    for fingerprint, row in open_rows.items():
        if fingerprint not in seen and row.scenario in complete_scenarios:
            row.resolved_at = now
            change.resolved.append(row)
    await session.flush()
    return change


def _values(finding: Finding) -> Mapping[str, object]:
    return {
        "scenario": finding.scenario,
        "kind": finding.kind,
        "severity": _severity(finding.severity),
        "title": finding.title[:500],
        "description": finding.description,
        "region": finding.region[:32],
        "resource": finding.resource[:1024],
        "remediation": finding.remediation,
        "docs_url": finding.docs_url[:1024],
        "details": dict(finding.details),
    }
