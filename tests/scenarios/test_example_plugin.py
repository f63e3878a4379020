"""The example third-party plugin, once pip-installed, is discovered and runs in a real scan."""

from __future__ import annotations

from importlib import metadata

import aioboto3
import pytest

from tests.support.aws import AccountClients
from tests.support.findings import ACCOUNT_ID
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import list_plugins, load_registry

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
    assert example.scenario_ids == ("imdsv1",)


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
