"""Detector tests: the account and "now" of data built by `vigilare.testing.collected_data`, another
account, and findings indexed by kind."""

from __future__ import annotations

from collections.abc import Sequence

from vigilare.plugin import Finding
from vigilare.testing import ACCOUNT_ID, COLLECTED_AT

OTHER_ACCOUNT_ID = "444455556666"
NOW = COLLECTED_AT

__all__ = ["ACCOUNT_ID", "NOW", "OTHER_ACCOUNT_ID", "grouped_by_kind", "kind_names", "one_per_kind"]


def kind_names(findings: Sequence[Finding]) -> list[str]:
    """The kinds found, sorted, repeats kept."""
    return sorted(finding.kind for finding in findings)


def one_per_kind(findings: Sequence[Finding]) -> dict[str, Finding]:
    """Findings by kind; fails when a kind is found twice."""
    by_kind: dict[str, Finding] = {}
    for finding in findings:
        assert finding.kind not in by_kind, f"two {finding.kind} findings: {findings}"
        by_kind[finding.kind] = finding
    return by_kind


def grouped_by_kind(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings by kind, each kind with all its findings in order."""
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.kind, []).append(finding)
    return grouped
