"""Every kind a registered scenario declares is scored, and the score's special cases name real kinds."""

from __future__ import annotations

import pytest

from tests.support.scoring import (
    BUILT_IN_KINDS,
    BUILTIN_SCENARIOS,
    DECLARED_SEVERITIES,
    PLANNED_KINDS,
    Signal,
)
from vigilare.plugin import Severity
from vigilare.scoring import compute_score
from vigilare.scoring.formula import SEVERITY_POINTS, SUSPENSION_CAPS, SUSPENSION_CEILING

# One signal alone, by severity (test_scoring_formula_examples has the arithmetic).
SINGLE_SIGNAL_SCORE = {"CRITICAL": 61, "HIGH": 86, "MEDIUM": 95, "LOW": 99}


def test_the_registry_holds_every_built_in_scenario_and_the_example_plugin() -> None:
    assert {scenario.id for scenario in BUILTIN_SCENARIOS} == {
        "abuse", "activity", "bedrock", "billing", "compute", "email", "exposure", "hygiene", "iam",
        "persistence", "root", "sharing", "takeover", "threat", "workloads",
    }  # fmt: skip
    assert ("imdsv1", "imdsv1_enabled", "MEDIUM") in DECLARED_SEVERITIES


def test_every_severity_has_its_points() -> None:
    assert list(SEVERITY_POINTS) == list(Severity)


@pytest.mark.parametrize(("scenario", "kind", "severity"), DECLARED_SEVERITIES)
def test_every_declared_kind_and_severity_is_scored(scenario: str, kind: str, severity: str) -> None:
    result = compute_score([Signal(scenario, kind, severity, resource="r-1")])
    assert result.top_signals[0].severity is Severity(severity)
    assert result.top_signals[0].penalty == SEVERITY_POINTS[Severity(severity)]
    if (scenario, kind) in SUSPENSION_CAPS:
        assert result.score == SUSPENSION_CEILING
    else:
        assert result.score == SINGLE_SIGNAL_SCORE[severity]


@pytest.mark.parametrize(("scenario", "kind"), sorted(SUSPENSION_CAPS.keys() - PLANNED_KINDS))
def test_every_suspension_cap_is_a_critical_kind_a_built_in_scenario_declares(
    scenario: str, kind: str
) -> None:
    assert (scenario, kind) in BUILT_IN_KINDS
    assert (scenario, kind, "CRITICAL") in DECLARED_SEVERITIES
