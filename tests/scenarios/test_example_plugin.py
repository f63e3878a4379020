"""The example third-party plugin, once pip-installed, is discovered and runs in a real scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any

import aioboto3
import pytest

from tests.support.aws import AccountClients
from tests.support.findings import ACCOUNT_ID
from vigilare.aws.freshness import FreshnessPolicy
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import list_plugins, load_registry
from vigilare_sandbox import RequestLog

EXAMPLE_DISTRIBUTION = "vigilare-example-scenario"

try:
    metadata.distribution(EXAMPLE_DISTRIBUTION)
except metadata.PackageNotFoundError:
    pytest.skip(
        f"{EXAMPLE_DISTRIBUTION} is not installed: pip install -e plugins/vigilare-example-scenario",
        allow_module_level=True,
    )


def test_the_example_plugin_is_listed_with_its_origin_and_version() -> None:
    [example] = [plugin for plugin in list_plugins() if plugin.origin == EXAMPLE_DISTRIBUTION]
    assert example.name == "example-imdsv1"
    assert example.version == metadata.version(EXAMPLE_DISTRIBUTION)
    assert example.scenario_ids == ("imdsv1", "ebs-default-encryption")
    assert example.collector_keys == ("example.ebs_default_encryption",)


async def test_the_example_scenario_runs_in_a_scan_next_to_the_builtins(
    seed: AccountClients, aws_endpoint: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    ec2 = seed("ec2", "eu-west-1")
    legacy = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "optional"}
    )["Instances"][0]["InstanceId"]
    ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "required"}
    )

    registry = load_registry()
    report = await scan_account(
        target,
        registry.select(),
        collectors=registry.collectors,
        endpoint_url=aws_endpoint,
        base_session=base_session,
        regions=["eu-west-1"],
    )

    assert report.outcomes["imdsv1"].status == "ok"
    assert {"iam", "exposure", "imdsv1"} <= set(report.outcomes)
    [finding] = [finding for finding in report.findings if finding.scenario == "imdsv1"]
    assert finding.resource == f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:instance/{legacy}"
    assert finding.title.startswith(f"Instance {legacy} in eu-west-1 accepts IMDSv1 since its launch on ")


async def test_the_example_collectors_freshness_is_honoured(
    aws_endpoint: str, target: ScanTarget, base_session: aioboto3.Session, aws_requests: RequestLog
) -> None:
    """The example plugin's collector declares `freshness=timedelta(hours=6)`: a scheduled scan within
    half of that after its first read does not call GetEbsEncryptionByDefault (the key first falls
    due at the account's own moment in the second half, then every 6 hours), its signals stay as
    they are; a scan 6 hours on reads it."""
    registry = load_registry()
    [scenario] = [s for s in registry.select() if s.id == "ebs-default-encryption"]
    assert registry.collectors["example.ebs_default_encryption"].freshness == timedelta(hours=6)
    regions = ["eu-west-1", "us-east-1"]

    async def scan(state: dict | None, policy: FreshnessPolicy | None) -> Any:
        return await scan_account(
            target,
            [scenario],
            collectors=registry.collectors,
            endpoint_url=aws_endpoint,
            base_session=base_session,
            regions=regions,
            state=state,
            policy=policy,
        )

    def reads() -> int:
        return len(aws_requests.to("ec2", "GetEbsEncryptionByDefault"))

    first = await scan(None, None)  # the account's first scan: everything
    assert reads() == 2
    assert {f.region for f in first.findings} == set(regions)
    start = datetime.now(UTC)

    five_hours_on = await scan(
        first.state, FreshnessPolicy(now=start + timedelta(hours=2, minutes=55), full=False)
    )
    assert reads() == 2, "read again before it was 3 hours old"
    assert "ebs-default-encryption" not in five_hours_on.outcomes  # nothing to judge: not run
    assert not five_hours_on.resolves(scenario, "ebs_default_unencrypted", "eu-west-1")

    seven_hours_on = await scan(
        five_hours_on.state, FreshnessPolicy(now=start + timedelta(hours=6), full=False)
    )
    assert reads() == 4
    assert seven_hours_on.resolves(scenario, "ebs_default_unencrypted", "eu-west-1")

    manual = await scan(seven_hours_on.state, FreshnessPolicy(now=start + timedelta(hours=7, minutes=5)))
    assert reads() == 6, "a manual scan reads everything"
    assert {f.region for f in manual.findings} == set(regions)
