"""Seeding building blocks for what moto stores (IAM, EC2, S3, CloudWatch, CE results, contacts).

Each function acts in `account_id` by assuming `arn:aws:iam::<account_id>:role/sandbox-seeder`
through the gateway (moto lets a role ARN in any account act in that account) and uses sync boto3.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from vigilare_sandbox.sandbox import Sandbox

SEEDER_ROLE = "sandbox-seeder"
QUARANTINE_POLICY_ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"
# moto does not validate AMIs unless told to; any well-formed id launches.
SANDBOX_AMI = "ami-12c6146b"


def assumed_credentials(sandbox: Sandbox, account_id: str) -> dict[str, str]:
    """Credentials acting in `account_id` on the sandbox, as boto3 / aioboto3 keyword arguments."""
    sts = boto3.client(
        "sts",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",  # noqa: S106 - moto accepts any secret
    )
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{SEEDER_ROLE}", RoleSessionName="sandbox-seed"
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def session_for(sandbox: Sandbox, account_id: str) -> boto3.Session:
    """A boto3 session acting in `account_id` on the sandbox."""
    return boto3.Session(**assumed_credentials(sandbox, account_id))


def client_for(sandbox: Sandbox, account_id: str, service: str, region: str = "us-east-1") -> Any:
    """A (cached) client acting in `account_id`. No retries: a local moto that fails will fail again."""
    key = (account_id, service, region)
    cached = sandbox.seed_clients.get(key)
    if cached is not None:
        return cached
    session_key = (account_id, "__session__", "")
    session = sandbox.seed_clients.get(session_key)
    if session is None:
        session = sandbox.seed_clients[session_key] = session_for(sandbox, account_id)
    client = session.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    if service == "s3control":
        # s3control puts the account id in front of the host name, which 127.0.0.1 cannot resolve.
        host = sandbox.endpoint_url.split("://", 1)[1]

        def strip_account(request: Any, **_: Any) -> None:
            request.url = request.url.replace(f"{account_id}.{host}", host)

        client.meta.events.register("before-send.s3-control", strip_account)
    sandbox.seed_clients[key] = client
    return client


@dataclass(frozen=True)
class ExposedKey:
    user_name: str
    access_key_id: str


def create_quarantined_user(sandbox: Sandbox, account_id: str, user_name: str) -> ExposedKey:
    """An IAM user with an access key and AWS's compromised-key quarantine policy attached."""
    iam = client_for(sandbox, account_id, "iam")
    iam.create_user(UserName=user_name)
    access_key_id = iam.create_access_key(UserName=user_name)["AccessKey"]["AccessKeyId"]
    iam.attach_user_policy(UserName=user_name, PolicyArn=QUARANTINE_POLICY_ARN)
    return ExposedKey(user_name, access_key_id)


def launch_instances(
    sandbox: Sandbox, account_id: str, region: str, instance_type: str, count: int = 1
) -> list[str]:
    """Running instances of a type (e.g. p3.8xlarge, g5.12xlarge) in a region."""
    ec2 = client_for(sandbox, account_id, "ec2", region)
    reservation = ec2.run_instances(
        ImageId=SANDBOX_AMI, InstanceType=instance_type, MinCount=count, MaxCount=count
    )
    return [instance["InstanceId"] for instance in reservation["Instances"]]


def put_billing_charges(sandbox: Sandbox, account_id: str, charges: list[tuple[datetime, float]]) -> None:
    """`AWS/Billing EstimatedCharges` (USD, month-to-date, us-east-1) data points."""
    cloudwatch = client_for(sandbox, account_id, "cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="AWS/Billing",
        MetricData=[
            {
                "MetricName": "EstimatedCharges",
                "Dimensions": [{"Name": "Currency", "Value": "USD"}],
                "Timestamp": moment,
                "Value": amount,
                "Unit": "None",
            }
            for moment, amount in charges
        ],
    )


def queue_cost_and_usage(
    sandbox: Sandbox, account_id: str, daily: Sequence[Mapping[str, float] | Mapping[tuple[str, str], float]]
) -> None:
    """Queue one `ce:GetCostAndUsage` answer: DAILY costs, one mapping per day, ending yesterday,
    grouped by SERVICE (keys "service") or by SERVICE then REGION (keys ("service", "region")), as
    Cost Explorer answers a request with that GroupBy.

    moto hands queued results to GetCostAndUsage calls in order (one per distinct request).
    """
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=len(daily))
    results_by_time = []
    for offset, costs in enumerate(daily):
        day = first_day + timedelta(days=offset)
        results_by_time.append(
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [key] if isinstance(key, str) else list(key),
                        "Metrics": {"UnblendedCost": {"Amount": f"{amount:.2f}", "Unit": "USD"}},
                    }
                    for key, amount in costs.items()
                ],
                "Estimated": day >= today - timedelta(days=1),
            }
        )
    payload = {"account_id": account_id, "results": [{"ResultsByTime": results_by_time}]}
    request = urllib.request.Request(  # noqa: S310 - http to the loopback sandbox
        sandbox.endpoint_url + "/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback sandbox
        response.read()


def put_ses_reputation(
    sandbox: Sandbox, account_id: str, region: str, bounce_rate: float, complaint_rate: float
) -> None:
    """`AWS/SES Reputation.BounceRate` / `Reputation.ComplaintRate` (fractions: 0.05 is 5 %)."""
    cloudwatch = client_for(sandbox, account_id, "cloudwatch", region)
    now = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace="AWS/SES",
        MetricData=[
            {"MetricName": name, "Timestamp": now - timedelta(minutes=5), "Value": value, "Unit": "None"}
            for name, value in (
                ("Reputation.BounceRate", bounce_rate),
                ("Reputation.ComplaintRate", complaint_rate),
            )
        ],
    )


def create_public_bucket(
    sandbox: Sandbox, account_id: str, bucket: str, via_acl: bool = True, via_policy: bool = True
) -> None:
    """A bucket anyone can read: a public-read ACL and/or a policy granting s3:GetObject to '*'."""
    s3 = client_for(sandbox, account_id, "s3")
    s3.create_bucket(Bucket=bucket)
    if via_acl:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    if via_policy:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


@dataclass(frozen=True)
class OpenSecurityGroup:
    group_id: str
    instance_id: str


def create_world_open_security_group(
    sandbox: Sandbox, account_id: str, region: str, port: int = 22
) -> OpenSecurityGroup:
    """A security group allowing 0.0.0.0/0 and ::/0 on `port`, attached to a running instance."""
    ec2 = client_for(sandbox, account_id, "ec2", region)
    group_id = ec2.create_security_group(
        GroupName=f"open-{port}", Description=f"open to the world on {port}"
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            }
        ],
    )
    instance = ec2.run_instances(
        ImageId=SANDBOX_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1, SecurityGroupIds=[group_id]
    )["Instances"][0]
    return OpenSecurityGroup(group_id, instance["InstanceId"])


def create_logging_trail(sandbox: Sandbox, account_id: str, name: str = "org-trail") -> str:
    """A multi-region trail that is logging; returns its ARN."""
    s3 = client_for(sandbox, account_id, "s3")
    bucket = f"cloudtrail-{account_id}"
    s3.create_bucket(Bucket=bucket)
    cloudtrail = client_for(sandbox, account_id, "cloudtrail")
    trail_arn: str = cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)[
        "TrailARN"
    ]
    cloudtrail.start_logging(Name=name)
    return trail_arn


def stop_trail_logging(sandbox: Sandbox, account_id: str, name: str) -> None:
    client_for(sandbox, account_id, "cloudtrail").stop_logging(Name=name)


def ensure_guardduty_detector(sandbox: Sandbox, account_id: str, region: str) -> str:
    guardduty = client_for(sandbox, account_id, "guardduty", region)
    existing: list[str] = guardduty.list_detectors()["DetectorIds"]
    if existing:
        return existing[0]
    detector_id: str = guardduty.create_detector(Enable=True)["DetectorId"]
    return detector_id


def set_security_contact(sandbox: Sandbox, account_id: str, email: str = "security@example.com") -> None:
    client_for(sandbox, account_id, "account").put_alternate_contact(
        AlternateContactType="SECURITY",
        EmailAddress=email,
        Name="Security Team",
        PhoneNumber="+1-555-0100",
        Title="Security",
    )


def remove_security_contact(sandbox: Sandbox, account_id: str) -> None:
    """No SECURITY alternate contact (moto has none until one is put; this makes it explicit)."""
    client_for(sandbox, account_id, "account").delete_alternate_contact(AlternateContactType="SECURITY")


ATTACKER_ACCOUNT = "666655554444"


def create_backdoor_role(
    sandbox: Sandbox, account_id: str, role_name: str, trusted_account: str = ATTACKER_ACCOUNT
) -> str:
    """A role any principal of `trusted_account` may assume (the usual persistence); returns its ARN."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn: str = client_for(sandbox, account_id, "iam").create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(document)
    )["Role"]["Arn"]
    return role_arn


def create_saml_provider(sandbox: Sandbox, account_id: str, name: str) -> str:
    """A SAML identity provider created now (IAM requires metadata of at least 1000 characters)."""
    metadata = (
        '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example">'
        + "<!-- "
        + "x" * 1000
        + " --></EntityDescriptor>"
    )
    provider_arn: str = client_for(sandbox, account_id, "iam").create_saml_provider(
        Name=name, SAMLMetadataDocument=metadata
    )["SAMLProviderArn"]
    return provider_arn


def create_public_snapshot(sandbox: Sandbox, account_id: str, region: str, size_gib: int = 8) -> str:
    """An EBS snapshot any AWS account may create a volume from (group `all`); returns its id."""
    ec2 = client_for(sandbox, account_id, "ec2", region)
    volume = ec2.create_volume(Size=size_gib, AvailabilityZone=f"{region}a")
    snapshot_id: str = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description="db backup")["SnapshotId"]
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    return snapshot_id


def put_bedrock_usage(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    model_id: str,
    invocations: float,
    tokens: float,
    *,
    days_ago: float = 0.1,
) -> None:
    """`AWS/Bedrock` Invocations and token counts for one model at one moment, as the runtime
    endpoint publishes them (dimension ModelId; input and output tokens split evenly)."""
    cloudwatch = client_for(sandbox, account_id, "cloudwatch", region)
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    dimensions = [{"Name": "ModelId", "Value": model_id}]
    cloudwatch.put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Timestamp": moment,
                "Value": value,
                "Unit": "Count",
            }
            for name, value in (
                ("Invocations", invocations),
                ("InputTokenCount", tokens / 2),
                ("OutputTokenCount", tokens / 2),
            )
        ],
    )
