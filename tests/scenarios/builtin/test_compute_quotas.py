"""compute: EC2 vCPU quota increase requests (GPU/accelerated and standard families), the warning
before a mining burst, judged against the region's baseline and the GPU capacity launched there.

Through the sandbox, which answers Service Quotas' ListRequestedServiceQuotaChangeHistory as AWS
documents it (newest first, ServiceCode and Status filters, pages of MaxResults with NextToken:
https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListRequestedServiceQuotaChangeHistory.html;
moto has no such operation), and in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.compute import ComputeScenario
from vigilare.scoring.checklist import build_checklist
from vigilare.testing import collected_data
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import launch_instances
from vigilare_sandbox.seed_compute import add_quota_request

REGION = "ap-southeast-2"
NEW_REGION = {"region_first_seen": None, "watched_since": (NOW - timedelta(days=5)).isoformat()}
BASELINED = {"region_first_seen": (NOW - timedelta(days=90)).isoformat(), "watched_since": None}
GPU_ON_DEMAND = ("L-DB2E81BA", "Running On-Demand G and VT instances", True)
P_SPOT = ("L-7212CCBC", "All P Spot Instance Requests", True)
STANDARD = ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", False)


def request(
    quota: tuple[str, str, bool],
    desired: float,
    *,
    status: str = "PENDING",
    hours_ago: float = 3,
    request_id: str = "4c1b2a3d",
) -> dict[str, Any]:
    code, name, accelerated = quota
    return {
        "Id": request_id,
        "CaseId": None,
        "QuotaCode": code,
        "QuotaName": name,
        "DesiredValue": desired,
        "Status": status,
        "Created": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "Requester": f"arn:aws:iam::{ACCOUNT_ID}:user/ci-deploy",
        "Accelerated": accelerated,
    }


async def detect(
    requests: list[dict[str, Any]], baseline: dict[str, Any], instances: list[dict[str, Any]] | None = None
) -> list[Any]:
    capacity = {"instances": instances or [], "spot_requests": [], **baseline}
    data = collected_data(
        regional={
            "ec2.compute_capacity": {REGION: capacity},
            "servicequotas.ec2_requests": {REGION: requests},
        },
        account_id=ACCOUNT_ID,
    )
    return [f for f in await ComputeScenario().detect(data) if f.kind == "quota_increase_request"]


MINER = {
    "InstanceId": "i-0miner",
    "InstanceType": "g5.12xlarge",
    "State": "running",
    "LaunchTime": (NOW - timedelta(hours=1)).isoformat(),
    "VCpus": 48,
    "Accelerators": "4 x NVIDIA A10G",
    "Lifecycle": "on-demand",
}


@pytest.mark.parametrize(
    ("asked", "baseline", "instances", "severity"),
    [
        (request(GPU_ON_DEMAND, 96), NEW_REGION, None, Severity.HIGH),
        (request(P_SPOT, 192, status="CASE_OPENED"), NEW_REGION, None, Severity.HIGH),
        (request(GPU_ON_DEMAND, 96, status="APPROVED"), BASELINED, None, Severity.MEDIUM),
        (request(GPU_ON_DEMAND, 96), BASELINED, [MINER], Severity.HIGH),  # with GPU capacity launched
        (request(STANDARD, 64), NEW_REGION, None, Severity.HIGH),
        (request(STANDARD, 512), BASELINED, None, Severity.MEDIUM),
    ],
    ids=["gpu-new-region", "p-spot-case-opened", "gpu-where-the-account-works", "gpu-with-gpu-capacity",
         "standard-new-region", "large-standard"],
)  # fmt: skip
async def test_a_recent_gpu_or_vcpu_quota_request_is_a_warning(
    asked: dict[str, Any],
    baseline: dict[str, Any],
    instances: list[dict[str, Any]] | None,
    severity: Severity,
) -> None:
    [finding] = await detect([asked], baseline, instances)
    assert finding.severity is severity and finding.region == REGION
    assert asked["QuotaName"] in finding.title and REGION in finding.title
    assert finding.details["act_on"] == [
        f"quota request {asked['Id']} ({asked['QuotaName']}, {asked['DesiredValue']:g} vCPUs, "
        f"{asked['Status']}) in {REGION}"
    ]
    assert finding.resource == f"arn:aws:servicequotas:{REGION}:{ACCOUNT_ID}:ec2/{asked['QuotaCode']}"
    if instances:
        assert "i-0miner" in finding.description


@pytest.mark.parametrize(
    ("asked", "why"),
    [
        (request(STANDARD, 128), "a standard quota, modest, where the account works"),
        (request(GPU_ON_DEMAND, 96, status="INVALID_REQUEST"), "an invalid request changes nothing"),
    ],
    ids=lambda item: item if isinstance(item, str) else "",
)
async def test_no_quota_finding_for_ordinary_requests(asked: dict[str, Any], why: str) -> None:
    assert await detect([asked], BASELINED) == [], why


async def test_one_finding_per_quota_from_its_latest_request() -> None:
    older = request(GPU_ON_DEMAND, 32, hours_ago=48, request_id="older")
    newer = request(GPU_ON_DEMAND, 256, hours_ago=2, request_id="newer")
    [finding] = await detect([older, newer], NEW_REGION)
    assert "256 vCPUs" in finding.title and finding.details["request"]["Id"] == "newer"


# --- through the sandbox --------------------------------------------------------------------------


async def test_a_gpu_quota_request_in_an_unused_region_is_found_on_the_second_page(sandbox: Sandbox) -> None:
    gpu_request = add_quota_request(
        sandbox, ACCOUNT_ID, REGION, "L-DB2E81BA", 192, status="CASE_OPENED",
        created=datetime.now(UTC) - timedelta(hours=5),
    )  # fmt: skip
    # 100 newer requests for a quota Vigilare does not watch (FPGA) push it onto the second page.
    for _ in range(100):
        add_quota_request(sandbox, ACCOUNT_ID, REGION, "L-74FC7D96", 8, created=datetime.now(UTC))
    add_quota_request(
        sandbox, ACCOUNT_ID, REGION, "L-3819A6DF", 64, created=datetime.now(UTC) - timedelta(days=9)
    )
    add_quota_request(sandbox, ACCOUNT_ID, "eu-west-1", "L-1216C47A", 32)  # ordinary, but eu-west-1 is unused

    with sandbox.recording() as log:
        report = await scan_sandbox(sandbox, ["compute"])

    assert report.outcomes["compute"].data_complete, report.collection_errors
    quota = sorted(
        (f.region, f.severity, f.details["request"]["Id"])
        for f in report.findings
        if f.kind == "quota_increase_request"
    )
    assert quota[0] == (REGION, Severity.HIGH, gpu_request)
    assert quota[1][:2] == ("eu-west-1", Severity.HIGH)  # a standard request in a region without use
    assert len(quota) == 2  # the 9-day-old spot request and the FPGA ones are not reported
    pages = log.to("servicequotas", "ListRequestedServiceQuotaChangeHistory")
    assert all(page.json()["ServiceCode"] == "ec2" for page in pages)
    assert len(pages) == 4  # one per region, two in the region with 102 requests
    [step] = [s for s in build_checklist(report.findings) if s.title.startswith("Check GPU and vCPU quota")]
    asked = "Running On-Demand G and VT instances, 192 vCPUs, CASE_OPENED"
    assert f"quota request {gpu_request} ({asked}) in {REGION}" in step.description


async def test_a_clean_account_has_no_quota_finding(sandbox: Sandbox) -> None:
    launch_instances(sandbox, ACCOUNT_ID, "us-east-1", "t3.micro")
    report = await scan_sandbox(sandbox, ["compute"])
    assert report.outcomes["compute"].data_complete
    assert [f for f in report.findings if f.kind == "quota_increase_request"] == []
