"""The fleet-request collector keeps its calls bounded: a launch template is read once however many
open fleets use it, and never for a fleet that can launch nothing more (deleted or cancelled).

Fleet answers as AWS documents them: DescribeFleets
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeFleets.html) and
DescribeLaunchTemplateVersions
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLaunchTemplateVersions.html).
"""

from __future__ import annotations

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import SANDBOX_AMI, client_for

REGION = "eu-west-1"


def template(sandbox: Sandbox, name: str, instance_type: str) -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", REGION)
    created = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": SANDBOX_AMI, "InstanceType": instance_type}
    )
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


def fleet(sandbox: Sandbox, template_id: str) -> str:
    ec2 = client_for(sandbox, ACCOUNT_ID, "ec2", REGION)
    return str(
        ec2.create_fleet(
            LaunchTemplateConfigs=[
                {"LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"}}
            ],
            TargetCapacitySpecification={"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "spot"},
        )["FleetId"]
    )


async def test_a_template_is_read_once_and_only_for_open_fleets(sandbox: Sandbox) -> None:
    shared = template(sandbox, "shared", "g5.xlarge")
    first, second = fleet(sandbox, shared), fleet(sandbox, shared)
    closed_template = template(sandbox, "closed", "p3.2xlarge")
    closed = fleet(sandbox, closed_template)
    client_for(sandbox, ACCOUNT_ID, "ec2", REGION).delete_fleets(FleetIds=[closed], TerminateInstances=True)

    with sandbox.recording() as log:
        report = await scan_sandbox(sandbox, ["compute"], regions=(REGION,))

    reads = log.to("ec2", "DescribeLaunchTemplateVersions")
    assert [request.form().get("LaunchTemplateId") for request in reads] == [shared]
    fleets = {item["FleetId"]: item for item in report.evidence["data"]["ec2.fleet_requests"][REGION]}
    assert {
        fleets[first]["InstanceTypes"][0]["InstanceType"],
        fleets[second]["InstanceTypes"][0]["InstanceType"],
    } == {"g5.xlarge"}
    assert (
        fleets[closed]["State"] == "deleted_terminating"
        and fleets[closed]["InstanceTypes"][0]["InstanceType"] is None
    )
