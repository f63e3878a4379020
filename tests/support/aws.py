"""Vigilare's AWS identity in the tests and scans of sandbox accounts, as the scan job runs them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aioboto3

from tests.support.findings import ACCOUNT_ID
from vigilare.aws.freshness import FreshnessPolicy
from vigilare.plugin import Scenario
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scenarios.manager import load_registry
from vigilare_sandbox import Sandbox

# Vigilare's own AWS identity in tests: moto's default account, which customer roles trust.
SENTINEL_ACCOUNT_ID = "123456789012"
# Every region works against the sandbox, but each costs moto a warm-up after every reset.
TEST_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
ROLE_NAME = "VigilareAudit"
EXTERNAL_ID = "ext-0123456789abcdef"

AccountClients = Callable[..., Any]
"""seed(service, region="us-east-1") -> a boto3 client acting in one sandbox account."""


def sentinel_session() -> aioboto3.Session:
    """Vigilare's own (sentinel) credentials, as the worker would have them."""
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


async def scan_sandbox(
    sandbox: Sandbox,
    scenarios: Sequence[str | type[Scenario]],
    *,
    account_id: str = ACCOUNT_ID,
    regions: Sequence[str] = TEST_REGIONS,
    state: Mapping[str, Any] | None = None,
    policy: FreshnessPolicy | None = None,
    direct_calls: bool = True,
) -> ScanReport:
    """A scan of `account_id` through the sandbox with the scenarios named (ids or classes) and every
    registered collector, as the scan job runs it."""
    registry = load_registry()
    selected = [
        registry.scenarios[scenario] if isinstance(scenario, str) else scenario for scenario in scenarios
    ]
    target = ScanTarget(aws_account_id=account_id, role_name=ROLE_NAME, external_id="ext-signals")
    return await scan_account(
        target,
        selected,
        collectors=registry.collectors,
        endpoint_url=sandbox.endpoint_url,
        regions=list(regions),
        base_session=sentinel_session(),
        state=state,
        policy=policy,
        direct_calls=direct_calls,
    )
