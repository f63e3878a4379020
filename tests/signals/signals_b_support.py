"""Helpers of the signal tests: scanning a sandbox account directly and building in-memory data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import aioboto3

from tests.conftest import TEST_REGIONS
from vigilare.plugin import Finding, Scenario
from vigilare.sandbox import Sandbox
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scenarios.builtin.abuse import AbuseScenario
from vigilare.scenarios.builtin.email import EmailScenario
from vigilare.scenarios.builtin.hygiene import HygieneScenario
from vigilare.scenarios.builtin.root import RootScenario

ACCOUNT_ID = "111122223333"
NOW = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)
REGIONS = TEST_REGIONS.split(",")
MY_SCENARIOS: Sequence[type[Scenario]] = (AbuseScenario, RootScenario, EmailScenario, HygieneScenario)
MY_SCENARIO_IDS = {scenario.id for scenario in MY_SCENARIOS}


async def scan_sandbox(
    sandbox: Sandbox, account_id: str, scenarios: Sequence[type[Scenario]] = MY_SCENARIOS
) -> ScanReport:
    """A scan of ``account_id`` through the sandbox, as the scan job runs it."""
    target = ScanTarget(aws_account_id=account_id, role_name="VigilareAudit", external_id="ext-signals")
    return await scan_account(
        target,
        scenarios,
        endpoint_url=sandbox.endpoint_url,
        regions=REGIONS,
        base_session=aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
    )


def kinds(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.kind, []).append(finding)
    return grouped
