"""Runs scenarios over already-collected data: no AWS here, so detector tests need none either."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from vigilare.plugin.data import CollectedData
from vigilare.plugin.model import Finding, Scenario, Severity

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

    A scenario that raises, times out or returns something other than a list of findings is recorded
    in its outcome and contributes no finding; the others are unaffected. A finding that breaks its
    scenario's declaration (another scenario's id, a kind or severity its ``emits`` does not declare)
    is refused alone: the scenario's other findings are kept, and its outcome is ``failed`` with the
    reason, so its open signals are not resolved on this scan. Findings with the same fingerprint
    collapse to the most severe, so ``findings`` holds one finding per fingerprint.
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
        kept, refused = _declared_findings(scenario, produced)
        findings = most_severe_per_fingerprint(kept, data.account_id)
        if refused:
            status, error = "failed", _refused_error(refused)
            logger.warning("scenario %s refused findings: %s", scenario.id, "; ".join(dict.fromkeys(refused)))
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


def _declared_findings(scenario: type[Scenario], produced: object) -> tuple[list[Finding], list[str]]:
    """The findings that keep the scenario's declaration, and why each of the others was refused."""
    if not isinstance(produced, list):
        raise TypeError(f"detect() returned {type(produced).__name__}, not a list of findings")
    kept: list[Finding] = []
    refused: list[str] = []
    for finding in produced:
        if not isinstance(finding, Finding):
            raise TypeError(f"detect() returned {finding!r}, not a Finding")
        reason = refusal_reason(scenario, finding)
        if reason is None:
            kept.append(finding)
        else:
            refused.append(reason)
    return kept, refused


def refusal_reason(scenario: type[Scenario], finding: Finding) -> str | None:
    """Why ``finding`` breaks ``scenario``'s declaration (another scenario's id, a kind or severity
    its ``emits`` does not declare), or None when it keeps it."""
    if finding.scenario != scenario.id:
        return f"returned a finding of scenario {finding.scenario!r}, not {scenario.id!r}"
    severities = scenario.emits.get(finding.kind)
    if severities is None:
        return f"returned a finding of kind {finding.kind!r}, which its `emits` does not declare"
    if not isinstance(finding.severity, Severity) or finding.severity not in severities:
        declared = ", ".join(severities)
        return f"returned a {finding.severity} finding of kind {finding.kind!r}, declared as {declared} only"
    return None


def _refused_error(reasons: list[str]) -> str:
    count = "1 finding" if len(reasons) == 1 else f"{len(reasons)} findings"
    distinct = list(dict.fromkeys(reasons))
    others = f"; {len(distinct) - 1} other reason(s) in the log" if len(distinct) > 1 else ""
    return f"refused {count}: {distinct[0]}{others}"


def most_severe_per_fingerprint(findings: Iterable[Finding], aws_account_id: str) -> list[Finding]:
    """One finding per fingerprint, the most severe where a scenario reported the same one twice.

    The only place findings are deduplicated: a scan's findings leave the runner unique by fingerprint,
    which is what the signal lifecycle keys them by.
    """
    kept: dict[str, Finding] = {}
    for finding in findings:
        fingerprint = finding.fingerprint(aws_account_id)
        previous = kept.get(fingerprint)
        if previous is None or finding.severity.rank > previous.severity.rank:
            kept[fingerprint] = finding
    return list(kept.values())
