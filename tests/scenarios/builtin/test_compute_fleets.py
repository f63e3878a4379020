"""compute: EC2 Fleet and Spot Fleet requests for GPU or very large capacity, judged against the
region's 30-day baseline (the same baseline and "mining-capable" rule as instances).

Through the sandbox, which answers each fleet's ``CreateTime`` as AWS documents it (DescribeFleets'
FleetData, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_FleetData.html; Spot Fleet's
SpotFleetRequestConfig, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotFleetRequestConfig.html;
moto leaves both out), and in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.aws.freshness import FRESHNESS_KEY, FreshnessPolicy
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.compute import ComputeScenario
from vigilare.scoring.checklist import build_checklist
from vigilare.testing import collected_data
from vigilare_sandbox import Sandbox
from vigilare_sandbox.ec2_fleets import set_create_time
from vigilare_sandbox.seed_aws import SANDBOX_AMI, client_for

REGION = "ap-southeast-2"
NEW_REGION = {"region_first_seen": None, "watched_since": (NOW - timedelta(days=5)).isoformat()}
BASELINED = {
    "region_first_seen": (NOW - timedelta(days=90)).isoformat(),
    "watched_since": (NOW - timedelta(days=90)).isoformat(),
}


def fleet(
    *types: tuple[str | None, int | None, str | None],
    target: int = 4,
    unit: str = "units",
    state: str = "active",
    hours_ago: float = 2,
    kind: str = "EC2 Fleet",
    fleet_id: str = "fleet-0123abcd",
    requirements: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "FleetId": fleet_id,
        "Kind": kind,
        "State": state,
        "Type": "maintain",
        "CreateTime": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "TargetCapacity": target,
        "CapacityUnit": unit,
        "InstanceTypes": [choice(name, vcpus, accel) for name, vcpus, accel in types]
        + ([choice(None, None, None, requirements)] if requirements else []),
    }


def choice(
    name: str | None, vcpus: int | None, accelerators: str | None, requirements: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "InstanceType": name,
        "VCpus": vcpus,
        "Accelerators": accelerators,
        "Weight": None,
        "Requirements": requirements,
    }


async def detect(region_fleets: list[dict[str, Any]], baseline: dict[str, Any]) -> dict[str, list[Any]]:
    capacity = {"instances": [], "spot_requests": [], **baseline}
    data = collected_data(
        regional={"ec2.compute_capacity": {REGION: capacity}, "ec2.fleet_requests": {REGION: region_fleets}},
        account_id=ACCOUNT_ID,
    )
    found: dict[str, list[Any]] = {}
    for finding in await ComputeScenario().detect(data):
        found.setdefault(finding.kind, []).append(finding)
    return found


GPU = ("g5.12xlarge", 48, "4 x NVIDIA A10G")
BIG = ("c5.18xlarge", 72, None)
SMALL = ("t3.micro", 2, None)


@pytest.mark.parametrize(
    "requested",
    [
        fleet(GPU),
        fleet(BIG, kind="Spot Fleet", fleet_id="sfr-0123abcd"),
        fleet(SMALL, ("p3.2xlarge", 8, None)),  # one GPU choice among others is enough
        fleet(requirements={"Accelerated": True, "AcceleratorTypes": ["gpu"], "MinVCpus": 4}),
    ],
    ids=["gpu-ec2-fleet", "large-spot-fleet", "gpu-among-choices", "attribute-based-gpu"],
)
async def test_a_gpu_fleet_in_a_region_without_baseline_is_critical_and_names_the_fleet(
    requested: dict[str, Any],
) -> None:
    [finding] = (await detect([requested], NEW_REGION))["fleet_request_new_region"]
    assert finding.severity is Severity.CRITICAL and finding.region == REGION
    assert requested["FleetId"] in finding.title and REGION in finding.title
    assert finding.details["act_on"] == [f"{requested['Kind']} {requested['FleetId']} in {REGION}"]
    assert finding.resource.endswith(requested["FleetId"]) and finding.resource.startswith(
        f"arn:aws:ec2:{REGION}:"
    )
    assert requested["FleetId"] in finding.remediation  # the command to delete it


@pytest.mark.parametrize(
    ("requested", "baseline", "why"),
    [
        (fleet(SMALL, target=50), NEW_REGION, "no GPU, small instances"),
        (fleet(GPU, state="cancelled"), NEW_REGION, "cancelled"),
        (fleet(GPU, state="deleted_running"), NEW_REGION, "deleted: launches nothing more"),
        (fleet(GPU, hours_ago=24 * 8), NEW_REGION, "created before Vigilare watched the region"),
        (fleet(GPU, target=2), BASELINED, "a small GPU fleet where the account works"),
        (fleet(GPU, target=20, hours_ago=30), BASELINED, "large, but older than a day"),
    ],
    ids=lambda item: item if isinstance(item, str) else "",
)
async def test_no_fleet_finding_under_the_thresholds(
    requested: dict[str, Any], baseline: dict[str, Any], why: str
) -> None:
    assert await detect([requested], baseline) == {}, why


@pytest.mark.parametrize(
    ("requested", "fires"),
    [
        (fleet(GPU, target=8), True),  # 8 instances
        (fleet(GPU, target=7), True),  # 7 x 48 = 336 vCPUs
        (fleet(("g5.xlarge", 4, "1 x NVIDIA A10G"), target=7), False),  # 28 vCPUs, 7 instances
        (fleet(("g5.xlarge", 4, "1 x NVIDIA A10G"), target=256, unit="vcpu"), True),
    ],
)
async def test_a_large_gpu_fleet_in_a_baselined_region_is_high(
    requested: dict[str, Any], fires: bool
) -> None:
    found = await detect([requested], BASELINED)
    assert "fleet_request_new_region" not in found
    assert ("large_fleet_request" in found) is fires
    if fires:
        assert found["large_fleet_request"][0].severity is Severity.HIGH


async def test_fleet_kinds_are_judged_only_when_fleets_were_read() -> None:
    # Fleets are read hourly: a scan that read only instances says nothing about fleets.
    data = collected_data(
        regional={"ec2.compute_capacity": {REGION: {"instances": [], "spot_requests": [], **NEW_REGION}}}
    )
    assert await ComputeScenario().detect(data) == []
    assert ComputeScenario.keys_of_kind("fleet_request_new_region") == (
        "ec2.compute_capacity",
        "ec2.fleet_requests",
    )
    assert ComputeScenario.keys_of_kind("gpu_capacity_new_region") == ("ec2.compute_capacity",)


# --- through the sandbox --------------------------------------------------------------------------


def gpu_launch_template(sandbox: Sandbox, region: str, instance_type: str = "g5.12xlarge") -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", region)
    template = ec2.create_launch_template(
        LaunchTemplateName=f"worker-{instance_type}",
        LaunchTemplateData={"ImageId": SANDBOX_AMI, "InstanceType": instance_type},
    )
    return str(template["LaunchTemplate"]["LaunchTemplateId"])


def create_ec2_fleet(sandbox: Sandbox, region: str, template_id: str, target: int) -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", region)
    return str(
        ec2.create_fleet(
            LaunchTemplateConfigs=[
                {"LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"}}
            ],
            TargetCapacitySpecification={"TotalTargetCapacity": target, "DefaultTargetCapacityType": "spot"},
            Type="maintain",
        )["FleetId"]
    )


def request_spot_fleet(sandbox: Sandbox, region: str, instance_type: str, target: int) -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", region)
    return str(
        ec2.request_spot_fleet(
            SpotFleetRequestConfig={
                "IamFleetRole": f"arn:aws:iam::{ACCOUNT_ID}:role/spot-fleet",
                "AllocationStrategy": "lowestPrice",
                "TargetCapacity": target,
                "LaunchSpecifications": [{"ImageId": SANDBOX_AMI, "InstanceType": instance_type}],
            }
        )["SpotFleetRequestId"]
    )


async def test_gpu_fleets_in_an_unused_region_are_critical_end_to_end(sandbox: Sandbox) -> None:
    # The EC2 Fleet names its instance type only in its launch template (read from there).
    fleet_id = create_ec2_fleet(sandbox, REGION, gpu_launch_template(sandbox, REGION), target=2)
    spot_fleet_id = request_spot_fleet(sandbox, REGION, "p3.8xlarge", target=1)

    report = await scan_sandbox(sandbox, ["compute"])

    assert report.outcomes["compute"].data_complete, report.collection_errors
    fleets = [f for f in report.findings if f.kind == "fleet_request_new_region"]
    assert sorted((f.severity, f.region, f.details["act_on"][0]) for f in fleets) == [
        (Severity.CRITICAL, REGION, f"EC2 Fleet {fleet_id} in {REGION}"),
        (Severity.CRITICAL, REGION, f"Spot Fleet {spot_fleet_id} in {REGION}"),
    ]
    by_id = {f.details["fleet"]["FleetId"]: f for f in fleets}
    assert "4 x NVIDIA A10G" in by_id[fleet_id].description  # the template's g5.12xlarge, described
    # The recovery checklist names the fleets to delete, with their region (issue 12 item 8).
    [step] = [s for s in build_checklist(report.findings) if s.title.startswith("Delete fleet requests")]
    assert f"EC2 Fleet {fleet_id} in {REGION}" in step.description
    assert f"Spot Fleet {spot_fleet_id} in {REGION}" in step.description


async def test_a_fleet_in_a_baselined_region_is_not_an_alarm_and_a_clean_account_has_none(
    sandbox: Sandbox,
) -> None:
    create_ec2_fleet(sandbox, "eu-west-1", gpu_launch_template(sandbox, "eu-west-1", "g5.xlarge"), target=1)
    used_since = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    state = {"ec2.compute_capacity": {"eu-west-1": {"first_seen": used_since, "watched_since": used_since}}}

    report = await scan_sandbox(sandbox, ["compute"], state=state)

    assert report.outcomes["compute"].data_complete
    assert report.findings == []


async def test_an_old_large_fleet_where_the_account_works_is_quiet_a_new_one_is_high(
    sandbox: Sandbox,
) -> None:
    region = "eu-west-1"
    template = gpu_launch_template(sandbox, region, "g5.12xlarge")
    old = create_ec2_fleet(sandbox, region, template, target=8)
    set_create_time(ACCOUNT_ID, region, old, datetime.now(UTC) - timedelta(days=3))
    used_since = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    state = {"ec2.compute_capacity": {region: {"first_seen": used_since, "watched_since": used_since}}}

    quiet = await scan_sandbox(sandbox, ["compute"], state=state, regions=(region,))
    assert [f.kind for f in quiet.findings if "fleet_request" in f.kind] == []

    new = create_ec2_fleet(sandbox, region, template, target=8)
    loud = await scan_sandbox(sandbox, ["compute"], state=state, regions=(region,))
    [finding] = [f for f in loud.findings if f.kind == "large_fleet_request"]
    assert finding.severity is Severity.HIGH and new in finding.title


async def test_fleets_cost_two_calls_in_a_quiet_region_and_are_read_hourly(sandbox: Sandbox) -> None:
    region = "us-east-1"
    with sandbox.recording() as log:
        first = await scan_sandbox(sandbox, ["compute"], regions=(region,))
    fleet_calls = [
        request.operation
        for request in log.to("ec2")
        if request.operation
        in {"DescribeFleets", "DescribeSpotFleetRequests", "DescribeLaunchTemplateVersions"}
    ]
    assert sorted(fleet_calls) == ["DescribeFleets", "DescribeSpotFleetRequests"]

    # Fleets fall due within the hour (at the account's own moment); instances, read at every
    # scan, do not pull them forward: 10 minutes before they are due, they are not read.
    collected, due = first.state[FRESHNESS_KEY]["ec2.fleet_requests"][region]
    assert 30 * 60 <= due - collected <= 60 * 60
    for moment in (collected + 5 * 60, due - 10 * 60):
        steady = FreshnessPolicy(now=datetime.fromtimestamp(moment, UTC), full=False)
        with sandbox.recording() as log:
            await scan_sandbox(sandbox, ["compute"], regions=(region,), state=first.state, policy=steady)
        assert log.to("ec2", "DescribeFleets") == [] and log.to("ec2", "DescribeInstances") != [], moment

    when_due = FreshnessPolicy(now=datetime.fromtimestamp(due + 60, UTC), full=False)
    with sandbox.recording() as log:
        await scan_sandbox(sandbox, ["compute"], regions=(region,), state=first.state, policy=when_due)
    assert len(log.to("ec2", "DescribeFleets")) == 1
