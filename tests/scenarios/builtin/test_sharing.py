"""The ``sharing`` scenario: EBS snapshots and AMIs shared with everyone.

Through the sandbox, which answers DescribeSnapshots' ``OwnerIds``/``RestorableByUserIds`` filters as
AWS documents (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html;
moto ignores them, the stand-in applies them), and in memory.
"""

from __future__ import annotations

from typing import Any

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.sharing import SharingScenario
from vigilare.testing import RunScenario
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import SANDBOX_AMI, client_for


def seed_snapshot(sandbox: Sandbox, region: str, *, public: bool, shared_with: str | None = None) -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", region)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{region}a")
    snapshot_id: str = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    if public:
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot_id,
            Attribute="createVolumePermission",
            OperationType="add",
            GroupNames=["all"],
        )
    if shared_with:
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot_id,
            Attribute="createVolumePermission",
            OperationType="add",
            UserIds=[shared_with],
        )
    return snapshot_id


def seed_image(sandbox: Sandbox, region: str, *, public: bool) -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", region)
    instance = ec2.run_instances(ImageId=SANDBOX_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    image_id: str = ec2.create_image(InstanceId=instance["Instances"][0]["InstanceId"], Name="golden")[
        "ImageId"
    ]
    if public:
        ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    return image_id


async def test_public_snapshots_and_images_are_high_in_their_region(sandbox: Sandbox) -> None:
    public_snapshot = seed_snapshot(sandbox, "eu-west-1", public=True)
    seed_snapshot(sandbox, "eu-west-1", public=False)
    seed_snapshot(sandbox, "us-east-1", public=False, shared_with="111122223333")  # shared, not public
    public_image = seed_image(sandbox, "us-east-1", public=True)
    seed_image(sandbox, "us-east-1", public=False)

    report = await scan_sandbox(sandbox, [SharingScenario])

    assert report.outcomes["sharing"].status == "ok"
    assert sorted((f.kind, f.severity, f.region, f.resource) for f in report.findings) == [
        ("public_ami", Severity.HIGH, "us-east-1", f"arn:aws:ec2:us-east-1::image/{public_image}"),
        ("public_snapshot", Severity.HIGH, "eu-west-1", f"arn:aws:ec2:eu-west-1::snapshot/{public_snapshot}"),
    ]


async def test_private_snapshots_and_images_are_not_reported(sandbox: Sandbox) -> None:
    seed_snapshot(sandbox, "us-east-1", public=False)
    seed_image(sandbox, "us-east-1", public=False)

    report = await scan_sandbox(sandbox, [SharingScenario])

    assert report.outcomes["sharing"].status == "ok"
    assert report.findings == []


async def test_a_region_with_nothing_public_costs_two_calls(sandbox: Sandbox) -> None:
    seed_snapshot(sandbox, "us-east-1", public=False)
    with sandbox.recording() as log:
        await scan_sandbox(sandbox, [SharingScenario], regions=("us-east-1",))
    assert sorted(request.operation for request in log.to("ec2")) == ["DescribeImages", "DescribeSnapshots"]


async def test_the_finding_names_the_snapshot_and_how_to_close_it(run_scenario: RunScenario) -> None:
    public: dict[str, Any] = {
        "snapshots": [
            {"SnapshotId": "snap-0abc", "VolumeId": "vol-1", "VolumeSize": 100, "Encrypted": False}
        ],
        "images": [],
    }
    [finding] = await run_scenario(
        SharingScenario, regional={"ec2.public_images": {"ap-southeast-2": public}}
    )
    assert finding.title == "EBS snapshot snap-0abc in ap-southeast-2 is public"
    assert "--snapshot-id snap-0abc" in finding.remediation and "unencrypted" in finding.description
