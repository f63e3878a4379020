"""Detector tests for the example plugin: data built in memory, no AWS.

``run_scenario`` is the fixture Vigilare's pytest plugin (:mod:`vigilare.testing`) provides to
every project that has Vigilare installed: it runs the scenario through the scanner's own checks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vigilare_example_scenario import plugin

from vigilare.plugin import CollectionError, Severity
from vigilare.testing import ACCOUNT_ID, RunScenario

LAUNCHED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def instance(
    instance_id: str, *, tokens: str = "optional", state: str = "running", endpoint: str = "enabled"
) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "InstanceType": "t3.micro",
        "LaunchTime": LAUNCHED,
        "State": {"Name": state},
        "MetadataOptions": {"HttpTokens": tokens, "HttpEndpoint": endpoint},
        "Tags": [{"Key": "Name", "Value": "web"}],
    }


async def test_an_instance_accepting_imdsv1_is_reported_in_plain_words(run_scenario: RunScenario) -> None:
    [finding] = await run_scenario(
        plugin.Imdsv1Instances, regional={"ec2.instances": {"eu-west-1": [instance("i-0abc")]}}
    )
    assert finding.scenario == "imdsv1" and finding.kind == "imdsv1_enabled"
    assert finding.severity is Severity.MEDIUM
    assert finding.title == "Instance i-0abc (web) in eu-west-1 accepts IMDSv1 since its launch on 2026-03-01"
    assert finding.resource == f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:instance/i-0abc"


@pytest.mark.parametrize(
    "safe",
    [
        instance("i-1", tokens="required"),
        instance("i-2", state="terminated"),
        instance("i-3", endpoint="disabled"),
    ],
    ids=["imdsv2-only", "terminated", "metadata-off"],
)
async def test_safe_instances_are_not_reported(run_scenario: RunScenario, safe: dict[str, Any]) -> None:
    findings = await run_scenario(plugin.Imdsv1Instances, regional={"ec2.instances": {"us-east-1": [safe]}})
    assert findings == []


async def test_a_failed_region_marks_the_outcome_incomplete(run_scenario: RunScenario) -> None:
    failed = CollectionError(key="ec2.instances", region="ap-southeast-6", error="InternalError")
    run = await run_scenario.run(
        plugin.Imdsv1Instances, regional={"ec2.instances": {"us-east-1": []}}, errors=[failed]
    )
    assert run.outcome.data_complete is False


def test_the_hooks_register_the_scenarios_and_the_collector() -> None:
    assert plugin.vigilare_scenarios() == [plugin.Imdsv1Instances, plugin.UnencryptedEbsDefault]
    [collector] = plugin.vigilare_collectors()
    assert collector.key == "example.ebs_default_encryption" and collector.regional
    assert collector.freshness == timedelta(hours=6)


async def test_unencrypted_default_is_reported_per_region(run_scenario: RunScenario) -> None:
    [finding] = await run_scenario(
        plugin.UnencryptedEbsDefault,
        regional={"example.ebs_default_encryption": {"eu-west-1": False, "us-east-1": True}},
    )
    assert finding.region == "eu-west-1" and finding.severity is Severity.LOW
