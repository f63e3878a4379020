"""Detector-test data and ways to read findings: collected data built in memory (no AWS, "now"
fixed), and findings indexed by kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from vigilare.plugin import CollectedData, Finding

ACCOUNT_ID = "111122223333"
OTHER_ACCOUNT_ID = "444455556666"
NOW = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)


def in_memory(
    values: dict[str, Any] | None = None, regional: dict[str, dict[str, Any]] | None = None, **kwargs: Any
) -> CollectedData:
    """Collected data of ACCOUNT_ID for detector tests: no AWS involved, "now" fixed at NOW."""
    return CollectedData(
        account_id=ACCOUNT_ID, collected_at=NOW, values=values or {}, regional=regional, **kwargs
    )


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
