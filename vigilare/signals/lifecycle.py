"""The signal lifecycle: a finding seen again updates its open occurrence, one no longer seen in a
complete scan of its scenario is resolved, one that comes back opens a new occurrence.

A scan speaks for the findings whose data it read completely (:func:`apply_findings`: data keys
are collected on their own clocks, and a signal whose data a scan did not collect stays open); a pushed event
speaks only for the findings it names (:func:`apply_event_findings`): it opens, updates or resolves
those and leaves every other signal as it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from vigilare.accounts.models import AwsAccount
from vigilare.ids import new_id
from vigilare.plugin.model import Finding
from vigilare.signals.models import EVENT, Signal, finding_values


@dataclass
class LifecycleChange:
    opened: list[Signal]
    updated: list[Signal]
    resolved: list[Signal]
    still_open: list[Signal] = field(default_factory=list)
    """The account's open signals after the change, oldest first (as ``open_signals`` reads them)."""

    @property
    def any(self) -> bool:
        return bool(self.opened or self.updated or self.resolved)


def _by_fingerprint(findings: Iterable[Finding], aws_account_id: str) -> dict[str, Finding]:
    """Findings keyed by fingerprint. A scan's findings are unique by fingerprint: the scenario runner
    keeps the most severe of duplicates (``most_severe_per_fingerprint``), so a duplicate here is a bug."""
    keyed: dict[str, Finding] = {}
    for finding in findings:
        fingerprint = finding.fingerprint(aws_account_id)
        if fingerprint in keyed:
            raise ValueError(
                f"two findings of {finding.scenario!r} share the fingerprint of {finding.kind!r} on "
                f"{finding.resource!r} in {finding.region!r}: deduplicate them before applying them"
            )
        keyed[fingerprint] = finding
    return keyed


def _differs(row: Signal, values: dict[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


async def apply_findings(
    session: AsyncSession,
    account: AwsAccount,
    scan_id: str,
    findings: Iterable[Finding],
    resolvable: Callable[[str, str, str], bool],
    now: datetime,
) -> LifecycleChange:
    """Apply one scan's findings. Idempotent: applying the same scan twice changes nothing more.

    An open signal the scan did not see is resolved only when ``resolvable(scenario, kind,
    region)``: the scan read completely every data key that kind of signal is read from.

    A steady-state scan mostly sees again what it saw before: those signals (nothing but their
    last sighting changed) are written in one statement, not one UPDATE each.
    """
    seen = _by_fingerprint(findings, account.aws_account_id)
    open_rows = {
        row.fingerprint: row
        for row in await session.scalars(
            select(Signal).where(Signal.account_id == account.id, Signal.resolved_at.is_(None))
        )
    }
    change = LifecycleChange(opened=[], updated=[], resolved=[])
    sighted_again: list[Signal] = []
    for fingerprint, finding in seen.items():
        row = open_rows.get(fingerprint)
        values = finding_values(finding)
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
        elif _differs(row, values):
            for name, value in values.items():
                setattr(row, name, value)
            row.last_seen_at, row.last_scan_id = now, scan_id
            change.updated.append(row)
        else:
            sighted_again.append(row)
            change.updated.append(row)
    for fingerprint, row in open_rows.items():
        if fingerprint not in seen and resolvable(row.scenario, row.kind, row.region):
            row.resolved_at = now
            change.resolved.append(row)
    await session.flush()
    if sighted_again:
        await session.execute(
            update(Signal)
            .where(Signal.id.in_([row.id for row in sighted_again]))
            .values(last_seen_at=now, last_scan_id=scan_id)
            .execution_options(synchronize_session=False)
        )
        for row in sighted_again:  # what the statement wrote, without a flush of its own
            set_committed_value(row, "last_seen_at", now)
            set_committed_value(row, "last_scan_id", scan_id)
    change.still_open = sorted(
        (row for row in [*open_rows.values(), *change.opened] if row.resolved_at is None),
        key=lambda row: (row.detected_at, row.id),
    )
    return change


async def apply_event_findings(
    session: AsyncSession,
    account: AwsAccount,
    findings: Iterable[Finding],
    resolved: Iterable[Finding],
    event: dict[str, Any],
    now: datetime,
) -> LifecycleChange:
    """Apply what one event proves: open or update the signals of ``findings``, resolve the open
    signals of ``resolved``. ``event`` (its id, source, detail type) is kept in each touched
    signal's ``details["event"]``; a signal it opens is ``detected_by`` ``event``."""
    seen = _by_fingerprint(findings, account.aws_account_id)
    gone = {finding.fingerprint(account.aws_account_id) for finding in resolved} - set(seen)
    open_rows = {
        row.fingerprint: row
        for row in await session.scalars(
            select(Signal).where(
                Signal.account_id == account.id,
                Signal.resolved_at.is_(None),
                Signal.fingerprint.in_([*seen, *gone]),
            )
        )
    }
    change = LifecycleChange(opened=[], updated=[], resolved=[])
    for fingerprint, finding in seen.items():
        values = finding_values(finding)
        values["details"] = {**values["details"], "event": event}
        row = open_rows.get(fingerprint)
        if row is None:
            row = Signal(
                id=new_id(),
                tenant_id=account.tenant_id,
                account_id=account.id,
                fingerprint=fingerprint,
                detected_at=now,
                last_seen_at=now,
                last_scan_id=None,
                detected_by=EVENT,
                **values,
            )
            session.add(row)
            change.opened.append(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.last_seen_at = now
            change.updated.append(row)
    for fingerprint in gone:
        row = open_rows.get(fingerprint)
        if row is not None:
            row.resolved_at = now
            change.resolved.append(row)
    await session.flush()
    return change
