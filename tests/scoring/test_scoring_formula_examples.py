"""Concrete cases of the Security Risk Score a user would recognise."""

from __future__ import annotations

import pytest

from tests.support.scoring import Signal
from vigilare.scoring import compute_score


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("CRITICAL", 61), ("HIGH", 86), ("MEDIUM", 95), ("LOW", 99)],
)
def test_a_single_signal_scores_by_severity(severity: str, expected: int) -> None:
    assert compute_score([Signal("exposure", "open_security_group", severity)]).score == expected


@pytest.mark.parametrize("severity", ["CRITICAL", "HIGH", "MEDIUM", "LOW"])
def test_a_third_party_scenario_is_scored_like_a_built_in_one(severity: str) -> None:
    built_in = compute_score([Signal("compute", "large_fleet", severity)])
    plugin = compute_score([Signal("acme_lambda_audit", "function_url_public", severity)])
    assert plugin.score == built_in.score
    assert plugin.breakdown[0].scenario == "acme_lambda_audit"


def test_severity_letter_case_does_not_matter() -> None:
    assert compute_score([Signal("iam", "new_admin_user", "high")]).score == 86


def test_an_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown severity 'SEVERE'"):
        compute_score([Signal("iam", "new_admin_user", "SEVERE")])


def test_many_lows_in_many_plugins_stay_above_90() -> None:
    lows = [Signal(f"plugin{i}", "check", "LOW") for i in range(200)]
    assert compute_score(lows).score == 90


def test_a_quarantined_key_caps_an_otherwise_clean_account() -> None:
    result = compute_score([Signal("iam", "quarantine_policy", "CRITICAL", "Key quarantined", "user/ci")])
    assert result.score == 10
    assert result.uncapped_score == 61
    assert result.cap is not None
    assert result.cap.points == 51
    assert [(t.scenario, t.kind) for t in result.cap.triggers] == [("iam", "quarantine_policy")]
    assert result.breakdown[0].scenario == "iam"
    assert result.breakdown[0].points == 90
    assert result.top_signals[0].resource == "user/ci"


def test_past_due_invoice_caps_even_at_low_severity() -> None:
    result = compute_score([Signal("billing", "past_due", "LOW")])
    assert result.score == 10
