"""Runs scenarios over already-collected data: no AWS here, so detector tests need none either."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Literal

import msgspec

from vigilare.scenarios.data import CollectedData
from vigilare.scenarios.model import Finding, Scenario

logger = logging.getLogger(__name__)

OutcomeStatus = Literal["ok", "failed", "timeout"]


class ScenarioOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How one scenario's detection went in one scan."""

    scenario_id: str
    status: OutcomeStatus
    duration_ms: int
    data_complete: bool
    """False when some of the data the scenario requires could not be collected (region or item)."""
    finding_count: int = 0
    error: str | None = None


class DetectionResult(msgspec.Struct, frozen=True, kw_only=True):
    findings: list[Finding]
    outcomes: dict[str, ScenarioOutcome]


async def run_detectors(data: CollectedData, scenarios: Sequence[type[Scenario]]) -> DetectionResult:
    """Run every scenario concurrently, each bounded by its own time budget.

    A scenario that raises, times out or returns something other than its own findings is recorded
    in its outcome and contributes no finding; the others are unaffected.
    """
    results = await asyncio.gather(*(_run_one(data, scenario) for scenario in scenarios))
    findings: list[Finding] = []
    outcomes: dict[str, ScenarioOutcome] = {}
    for scenario_findings, outcome in results:
        findings.extend(scenario_findings)
        outcomes[outcome.scenario_id] = outcome
    return DetectionResult(findings=findings, outcomes=outcomes)


async def _run_one(data: CollectedData, scenario: type[Scenario]) -> tuple[list[Finding], ScenarioOutcome]:
    started = time.perf_counter()
    data_complete = data.is_complete(*scenario.requires)
    status: OutcomeStatus = "ok"
    error: str | None = None
    findings: list[Finding] = []
    try:
        produced = await asyncio.wait_for(scenario().detect(data), timeout=scenario.time_budget_seconds)
        findings = _checked_findings(scenario, produced)
    except TimeoutError:
        status, error = "timeout", f"exceeded its time budget of {scenario.time_budget_seconds:g} s"
    except Exception as exc:
        logger.exception("scenario %s failed", scenario.id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    duration_ms = round((time.perf_counter() - started) * 1000)
    outcome = ScenarioOutcome(
        scenario_id=scenario.id,
        status=status,
        duration_ms=duration_ms,
        data_complete=data_complete,
        finding_count=len(findings),
        error=error,
    )
    return findings, outcome


def _checked_findings(scenario: type[Scenario], produced: object) -> list[Finding]:
    if not isinstance(produced, list):
        raise TypeError(f"detect() returned {type(produced).__name__}, not a list of findings")
    unique: dict[tuple[str, str, str], Finding] = {}
    for finding in produced:
        if not isinstance(finding, Finding):
            raise TypeError(f"detect() returned {finding!r}, not a Finding")
        if finding.scenario != scenario.id:
            raise ValueError(f"returned a finding of scenario {finding.scenario!r}, not {scenario.id!r}")
        # The fingerprint must be unique within a scan: keep the most severe of identical findings.
        identity = (finding.region, finding.resource, finding.kind)
        kept = unique.get(identity)
        if kept is None or finding.severity.rank > kept.severity.rank:
            unique[identity] = finding
    return list(unique.values())
