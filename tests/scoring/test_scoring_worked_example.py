"""The worked example of docs/scoring.md, recomputed: the document cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.scoring import Signal
from vigilare.scoring import compute_score

DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"

EXAMPLE = [
    Signal("iam", "root_access_keys", "CRITICAL", "Root user has access keys", "root"),
    Signal("iam", "access_key_old", "MEDIUM", "Access key older than 90 days", "alice"),
    Signal("iam", "access_key_old", "MEDIUM", "Access key older than 90 days", "bob"),
    Signal("iam", "access_key_old", "MEDIUM", "Access key older than 90 days", "carol"),
    Signal("exposure", "public_bucket_read", "HIGH", "Bucket is publicly readable", "assets-prod"),
    Signal("exposure", "public_bucket_read", "HIGH", "Bucket is publicly readable", "logs-archive"),
    Signal("hygiene", "no_security_contact", "MEDIUM", "No security alternate contact", "account"),
    Signal("acme_lambda_audit", "old_runtime", "LOW", "Lambda runtime is deprecated", "fn-resize"),
    Signal("acme_lambda_audit", "old_runtime", "LOW", "Lambda runtime is deprecated", "fn-thumbs"),
]
SES_SHUTDOWN = Signal("email", "ses_shutdown", "CRITICAL", "SES sending shut down", "us-east-1")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _table_rows(doc: str) -> list[list[str]]:
    section = doc.split("## Worked example", 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def _fmt(value: float) -> str:
    return f"{value:g}"


def test_doc_table_matches_each_signal_cost(doc: str) -> None:
    result = compute_score(EXAMPLE, top_n=len(EXAMPLE))
    computed = [
        [c.scenario, c.kind, c.severity.value, c.resource or "", _fmt(c.penalty), f"{c.points:.2f}"]
        for c in result.top_signals
    ]
    documented = [[row[0], row[1], row[2], row[3], row[5], row[6]] for row in _table_rows(doc)]
    assert documented == computed


def test_doc_states_the_score_penalty_and_breakdown(doc: str) -> None:
    result = compute_score(EXAMPLE)
    assert (result.score, result.penalty) == (42, 87.75)
    assert f"**P = {_fmt(result.penalty)}**" in doc
    assert f"**SRS = {result.score}**" in doc
    breakdown = ", ".join(f"{loss.scenario} {loss.points}" for loss in result.breakdown)
    assert f"Breakdown of the {100 - result.score} points lost: **{breakdown}**" in doc


def test_doc_states_the_capped_score(doc: str) -> None:
    result = compute_score([*EXAMPLE, SES_SHUTDOWN])
    assert result.cap is not None
    assert (result.score, result.uncapped_score, result.cap.points) == (10, 25, 15)
    assert f"P = {_fmt(result.penalty)}, the formula\nalone gives {result.uncapped_score}" in doc
    assert f"**SRS = {result.score}** (the cap took {result.cap.points} points)" in doc
    breakdown = ", ".join(f"{loss.scenario} {loss.points}" for loss in result.breakdown)
    assert f"the 90 points lost: **{breakdown}**" in doc


def test_doc_numbers_in_the_prose_are_the_codes() -> None:
    one = compute_score([Signal("iam", "root_access_keys", "CRITICAL")]).score
    two = compute_score(
        [Signal("iam", "root_access_keys", "CRITICAL"), Signal("root", "root_login_no_mfa", "CRITICAL")]
    )
    text = DOC.read_text(encoding="utf-8")
    assert f"costs {100 - one} points of score" in text
    assert re.search(rf"of another kind {one - two.score} more", text)
    assert f"SRS ≥ 90 > {one}" in text
