"""compute: Lightsail instances created in a region the account does not use (by EC2 or Lightsail),
or many at once, read only in the regions that offer Lightsail.

Through the sandbox, which answers Lightsail GetInstances as AWS documents it (``createdAt``,
``bundleId``, ``state``, paged by ``pageToken``:
https://docs.aws.amazon.com/lightsail/2016-11-28/api-reference/API_GetInstances.html; moto has no
Lightsail), and in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.aws.collectors.lightsail import lightsail_regions
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.compute import ComputeScenario
from vigilare.scoring.checklist import build_checklist
from vigilare.testing import collected_data
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_compute import add_lightsail_instance

REGION = "eu-west-2"
EC2_UNUSED = {"instances": [], "spot_requests": [], "region_first_seen": None, "watched_since": None}
EC2_BASELINED = {**EC2_UNUSED, "region_first_seen": (NOW - timedelta(days=60)).isoformat()}


def lightsail(*instances: dict[str, Any], first_seen: str | None = None) -> dict[str, Any]:
    created = [instance["CreatedAt"] for instance in instances]
    return {
        "instances": list(instances),
        "region_first_seen": first_seen or (min(created) if created else None),
        "watched_since": (NOW - timedelta(days=10)).isoformat(),
    }


def server(name: str, *, hours_ago: float = 2, state: str = "running") -> dict[str, Any]:
    return {
        "Name": name,
        "Arn": f"arn:aws:lightsail:{REGION}:{ACCOUNT_ID}:Instance/{name}",
        "CreatedAt": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "BundleId": "large_3_0",
        "BlueprintId": "ubuntu_22_04",
        "State": state,
        "CpuCount": 2,
        "RamSizeInGb": 8.0,
    }


async def detect(ec2: dict[str, Any], region_lightsail: dict[str, Any]) -> list[Any]:
    data = collected_data(
        regional={"ec2.compute_capacity": {REGION: ec2}, "lightsail.instances": {REGION: region_lightsail}}
    )
    return [f for f in await ComputeScenario().detect(data) if f.kind == "lightsail_instances"]


async def test_a_lightsail_instance_in_an_unused_region_is_high_and_named() -> None:
    [finding] = await detect(EC2_UNUSED, lightsail(server("wordpress-1")))
    assert finding.severity is Severity.HIGH and finding.region == REGION
    assert "not been using" in finding.title
    assert finding.details["act_on"] == [f"Lightsail instance wordpress-1 (large_3_0) in {REGION}"]


@pytest.mark.parametrize(
    ("ec2", "region_lightsail", "why"),
    [
        (EC2_BASELINED, lightsail(server("api-1")), "EC2 has used the region for 60 days"),
        (
            EC2_UNUSED,
            lightsail(server("api-2"), first_seen=(NOW - timedelta(days=45)).isoformat()),
            "Lightsail has been used there for 45 days",
        ),
        (EC2_UNUSED, lightsail(server("old", hours_ago=24 * 12)), "created before Vigilare watched"),
        (EC2_UNUSED, lightsail(server("off", state="stopped")), "stopped"),
        (EC2_BASELINED, lightsail(*(server(f"web-{n}") for n in range(4))), "4 at once is not a burst"),
    ],
    ids=lambda item: item if isinstance(item, str) else "",
)
async def test_no_lightsail_finding_where_the_account_works(
    ec2: dict[str, Any], region_lightsail: dict[str, Any], why: str
) -> None:
    assert await detect(ec2, region_lightsail) == [], why


async def test_five_new_lightsail_instances_at_once_are_high_even_where_the_account_works() -> None:
    burst = lightsail(
        *(server(f"node-{n}") for n in range(5)), first_seen=(NOW - timedelta(days=90)).isoformat()
    )
    [finding] = await detect(EC2_BASELINED, burst)
    assert finding.severity is Severity.HIGH and "5 were created within 24 hours" in finding.title
    assert len(finding.details["act_on"]) == 5


# --- through the sandbox --------------------------------------------------------------------------


async def test_lightsail_is_read_only_where_it_is_offered_and_a_new_instance_is_found(
    sandbox: Sandbox,
) -> None:
    assert "us-west-1" not in lightsail_regions() and "sa-east-1" not in lightsail_regions()
    add_lightsail_instance(sandbox, ACCOUNT_ID, "eu-west-1", "miner-7", bundle_id="2xlarge_3_0")
    add_lightsail_instance(
        sandbox, ACCOUNT_ID, "eu-west-1", "blog", created=datetime.now(UTC) - timedelta(days=200)
    )  # used for months: the region has a Lightsail baseline

    with sandbox.recording() as log:
        report = await scan_sandbox(sandbox, ["compute"], regions=("us-west-1", "eu-west-1", "sa-east-1"))

    assert report.collection_errors == [] and report.outcomes["compute"].data_complete
    assert len(log.to("lightsail", "GetInstances")) == 1  # eu-west-1 only; no error elsewhere
    assert report.evidence["data"]["lightsail.instances"]["us-west-1"] is None
    # Lightsail has been used in eu-west-1 for 200 days: one new instance is not an alarm.
    assert [f for f in report.findings if f.kind == "lightsail_instances"] == []
    assert report.state["lightsail.instances"]["eu-west-1"]["first_seen"] is not None


async def test_new_lightsail_instances_in_an_unused_region_end_to_end(sandbox: Sandbox) -> None:
    for n in range(3):
        add_lightsail_instance(sandbox, ACCOUNT_ID, "ap-southeast-2", f"proxy-{n}")

    report = await scan_sandbox(sandbox, ["compute"])

    [finding] = [f for f in report.findings if f.kind == "lightsail_instances"]
    assert finding.severity is Severity.HIGH and finding.region == "ap-southeast-2"
    [step] = [s for s in build_checklist(report.findings) if s.title.startswith("Delete Lightsail")]
    assert "Lightsail instance proxy-0 (micro_3_0) in ap-southeast-2" in step.description
