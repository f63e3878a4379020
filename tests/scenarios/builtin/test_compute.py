"""compute: GPU / very large instances in a region without a 30-day baseline, large fleets where the
account does work, spot requests, in every enabled region (opt-in regions included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import TEST_REGIONS, scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW, one_per_kind
from vigilare.aws.collect import enabled_regions
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.compute import ComputeScenario
from vigilare.testing import collected_data
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import SANDBOX_AMI, client_for, launch_instances

NEW_REGION_FIRST_SEEN = (NOW - timedelta(days=29)).isoformat()
BASELINED_FIRST_SEEN = (NOW - timedelta(days=31)).isoformat()


def instance(
    instance_type: str,
    *,
    hours_ago: float = 2,
    vcpus: int | None = None,
    accelerators: str | None = None,
    state: str = "running",
    number: int = 1,
) -> dict[str, Any]:
    return {
        "InstanceId": f"i-{number:017x}",
        "InstanceType": instance_type,
        "State": state,
        "LaunchTime": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "VCpus": vcpus,
        "Accelerators": accelerators,
        "Lifecycle": "on-demand",
    }


def capacity(
    first_seen: str | None, instances: list[dict[str, Any]], spot: list[dict[str, Any]] | None = None
):
    return {"instances": instances, "spot_requests": spot or [], "region_first_seen": first_seen}


async def detect(region_capacity: dict[str, Any], region: str = "ap-southeast-2") -> dict[str, Any]:
    data = collected_data(regional={"ec2.compute_capacity": {region: region_capacity}}, account_id=ACCOUNT_ID)
    return one_per_kind(await ComputeScenario().detect(data))


@pytest.mark.parametrize(
    "launched",
    [
        instance("p3.8xlarge", vcpus=32, accelerators="4 x NVIDIA V100"),
        instance("g5.xlarge", vcpus=4),  # accelerated family even when its type was not described
        instance("inf2.xlarge", vcpus=4),
        instance("trn1.2xlarge", vcpus=8),
        instance("dl1.24xlarge", vcpus=96),
        instance("c5.18xlarge", vcpus=72),
        instance("m5.16xlarge", vcpus=64),
    ],
    ids=lambda item: item["InstanceType"],
)
async def test_mining_capable_instance_in_a_region_without_baseline_is_critical(
    launched: dict[str, Any],
) -> None:
    found = await detect(capacity(NEW_REGION_FIRST_SEEN, [launched]))
    finding = found["gpu_capacity_new_region"]
    assert finding.severity is Severity.CRITICAL
    assert finding.region == "ap-southeast-2"
    assert launched["InstanceId"] in finding.description and "ap-southeast-2" in finding.title
    assert "2026-04-23" in finding.description  # since when the region is used
    assert finding.remediation and finding.docs_url.startswith("https://docs.aws.amazon.com/")


@pytest.mark.parametrize(
    ("region_capacity", "why"),
    [
        (capacity(NEW_REGION_FIRST_SEEN, [instance("m5.12xlarge", vcpus=48)]), "48 vCPUs, no GPU"),
        (capacity(NEW_REGION_FIRST_SEEN, [instance("m5.16xlarge", vcpus=63)]), "63 vCPUs"),
        (
            capacity(NEW_REGION_FIRST_SEEN, [instance("p3.2xlarge", vcpus=8, hours_ago=25)]),
            "launched 25 h ago",
        ),
        (capacity(NEW_REGION_FIRST_SEEN, [instance("p3.2xlarge", vcpus=8, state="stopped")]), "stopped"),
        (capacity(BASELINED_FIRST_SEEN, [instance("p3.2xlarge", vcpus=8)]), "region used for 31 days"),
    ],
    ids=lambda item: item if isinstance(item, str) else "",
)
async def test_no_critical_capacity_finding_under_the_thresholds(
    region_capacity: dict[str, Any], why: str
) -> None:
    assert await detect(region_capacity) == {}, why


@pytest.mark.parametrize(
    ("watched_days", "fires"),
    [(10, True), (1, False)],  # Vigilare watched the launch happen / the instance predates Vigilare
)
async def test_capacity_seen_launching_in_a_new_region_stays_critical_while_it_runs(
    watched_days: int, fires: bool
) -> None:
    miner = instance("p4d.24xlarge", vcpus=96, hours_ago=72)  # running for 3 days
    region_capacity = {
        **capacity((NOW - timedelta(days=3)).isoformat(), [miner]),
        "watched_since": (NOW - timedelta(days=watched_days)).isoformat(),
    }
    found = await detect(region_capacity)
    assert ("gpu_capacity_new_region" in found) is fires
    if fires:
        assert found["gpu_capacity_new_region"].severity is Severity.CRITICAL
        assert "72 hours ago" in found["gpu_capacity_new_region"].description


@pytest.mark.parametrize(
    ("count", "vcpus", "fires"),
    [(8, 8, True), (7, 8, False), (4, 64, True), (3, 64, False)],  # 8 instances, or 256 vCPUs
)
async def test_large_fleet_in_a_baselined_region_is_high(count: int, vcpus: int, fires: bool) -> None:
    fleet = [instance("g5.2xlarge", vcpus=vcpus, number=n) for n in range(count)]
    found = await detect(capacity(BASELINED_FIRST_SEEN, fleet))
    assert "gpu_capacity_new_region" not in found
    assert ("large_fleet" in found) is fires
    if fires:
        assert found["large_fleet"].severity is Severity.HIGH
        assert f"{count} GPU" in found["large_fleet"].title


def spot(state: str) -> dict[str, Any]:
    return {
        "SpotInstanceRequestId": "sir-1234abcd",
        "State": state,
        "InstanceType": "p3.16xlarge",
        "InstanceId": None,
        "CreateTime": (NOW - timedelta(hours=1)).isoformat(),
    }


@pytest.mark.parametrize(
    ("first_seen", "state", "fires"),
    [
        (NEW_REGION_FIRST_SEEN, "open", True),
        (NEW_REGION_FIRST_SEEN, "active", True),
        (NEW_REGION_FIRST_SEEN, "cancelled", False),
        (BASELINED_FIRST_SEEN, "open", False),
    ],
)
async def test_open_spot_requests_in_a_region_without_baseline_are_high(
    first_seen: str, state: str, fires: bool
) -> None:
    found = await detect(capacity(first_seen, [], [spot(state)]))
    assert ("spot_requests" in found) is fires
    if fires:
        assert found["spot_requests"].severity is Severity.HIGH
        assert (
            "sir-1234abcd" in str(found["spot_requests"].details)
            and "p3.16xlarge" in found["spot_requests"].description
        )


class _RegionsSession:
    home_region = "us-east-1"

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        assert (service, operation, params.get("AllRegions")) == ("ec2", "describe_regions", True)
        return {
            "Regions": [
                {"RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
                {"RegionName": "af-south-1", "OptInStatus": "opted-in"},
                {"RegionName": "me-south-1", "OptInStatus": "not-opted-in"},
                {"RegionName": "cn-north-1", "OptInStatus": "opt-in-not-required"},
            ]
        }


async def test_every_enabled_region_is_read_including_opted_in_ones() -> None:
    assert await enabled_regions(_RegionsSession()) == ["af-south-1", "us-east-1"]  # type: ignore[arg-type]


# --- through the sandbox --------------------------------------------------------------------------


async def test_gpu_capacity_in_an_unused_region_is_found_end_to_end(sandbox: Sandbox) -> None:
    launch_instances(sandbox, ACCOUNT_ID, "us-east-1", "t3.micro")
    gpu_ids = launch_instances(sandbox, ACCOUNT_ID, "ap-southeast-2", "p3.8xlarge", count=2)
    report = await scan_sandbox(sandbox, ["compute"])
    assert report.outcomes["compute"].data_complete, report.collection_errors
    found = one_per_kind(report.findings)
    assert set(found) == {"gpu_capacity_new_region"}
    finding = found["gpu_capacity_new_region"]
    assert finding.severity is Severity.CRITICAL and finding.region == "ap-southeast-2"
    assert all(gpu_id in finding.description for gpu_id in gpu_ids)
    baselines = report.state["ec2.compute_capacity"]
    assert set(baselines) == set(TEST_REGIONS)
    assert baselines["eu-west-1"]["first_seen"] is None and baselines["eu-west-1"]["watched_since"]


async def test_region_baseline_from_earlier_scans_turns_new_capacity_into_planned_work(
    sandbox: Sandbox,
) -> None:
    launch_instances(sandbox, ACCOUNT_ID, "ap-southeast-2", "p3.8xlarge", count=2)
    used_since = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    state = {"ec2.compute_capacity": {"ap-southeast-2": {"first_seen": used_since}}}
    report = await scan_sandbox(sandbox, ["compute"], state=state)
    assert report.outcomes["compute"].data_complete
    assert report.findings == []  # 2 x 32 vCPUs in a region used for 40 days: no fleet, no alarm
    assert report.state["ec2.compute_capacity"]["ap-southeast-2"]["first_seen"] == used_since


async def test_spot_requests_in_an_unused_region_are_found_end_to_end(sandbox: Sandbox) -> None:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", "eu-west-1")
    request_id = ec2.request_spot_instances(
        SpotPrice="5.00",
        InstanceCount=1,
        LaunchSpecification={"ImageId": SANDBOX_AMI, "InstanceType": "g4dn.xlarge"},
    )["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    report = await scan_sandbox(sandbox, ["compute"])
    found = one_per_kind(report.findings)
    assert found["spot_requests"].severity is Severity.HIGH
    assert found["spot_requests"].region == "eu-west-1"
    assert request_id in str(found["spot_requests"].details)


async def test_terminated_gpu_capacity_is_no_longer_reported(sandbox: Sandbox) -> None:
    gpu_ids = launch_instances(sandbox, ACCOUNT_ID, "ap-southeast-2", "g5.12xlarge")
    first = await scan_sandbox(sandbox, ["compute"])
    assert "gpu_capacity_new_region" in one_per_kind(first.findings)

    client_for(sandbox, ACCOUNT_ID, "ec2", "ap-southeast-2").terminate_instances(InstanceIds=gpu_ids)
    second = await scan_sandbox(sandbox, ["compute"], state=first.state)
    assert second.outcomes["compute"].data_complete
    assert second.findings == []
    # The region stays known as used from the first sighting on.
    for remembered in ("first_seen", "watched_since"):
        assert (
            second.state["ec2.compute_capacity"]["ap-southeast-2"][remembered]
            == first.state["ec2.compute_capacity"]["ap-southeast-2"][remembered]
        )
