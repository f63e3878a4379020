"""Whole scans against moto: seeded risky states are found once, a clean account yields nothing new.

moto's GetAccountSummary always reports root MFA off (and its credential report has no root row),
so every moto account carries exactly one ``root_mfa_disabled`` finding: the clean-account test
accepts that one explicitly, and nothing else. These scans talk to the sandbox's moto directly (the
`moto` fixture), past the gateway that would add the root row real AWS has.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aioboto3
import msgspec

from tests.support.aws import AccountClients
from tests.support.findings import ACCOUNT_ID
from vigilare.plugin import CollectedData, Finding, Scenario, Severity
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scenarios.manager import load_registry

MOTO_ROOT_MFA = ("root_mfa_disabled", f"arn:aws:iam::{ACCOUNT_ID}:root")
QUARANTINE_V2 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"


async def scan(target: ScanTarget, moto: str, base_session: aioboto3.Session, **kwargs: object) -> ScanReport:
    registry = load_registry()
    return await scan_account(
        target,
        registry.select(["iam", "exposure"]),
        collectors=registry.collectors,
        endpoint_url=moto,
        base_session=base_session,
        **kwargs,  # type: ignore[arg-type]
    )


def by_identity(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    counts = Counter((finding.kind, finding.resource) for finding in findings)
    assert all(count == 1 for count in counts.values()), counts
    return {(finding.kind, finding.resource): finding for finding in findings}


def seed_risky_account(seed: AccountClients) -> str:
    iam = seed("iam")
    iam.create_user(UserName="leaked")
    iam.attach_user_policy(UserName="leaked", PolicyArn=QUARANTINE_V2)
    iam.create_user(UserName="intruder")
    iam.attach_user_policy(UserName="intruder", PolicyArn=ADMINISTRATOR)
    iam.create_user(UserName="deploy")
    iam.create_access_key(UserName="deploy")
    iam.create_access_key(UserName="deploy")

    s3 = seed("s3")
    s3.create_bucket(Bucket="public-reports")
    s3.put_bucket_acl(Bucket="public-reports", ACL="public-read")
    s3.create_bucket(Bucket="dropbox-uploads", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(
        Bucket="dropbox-uploads",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AnyoneUploads",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::dropbox-uploads/*",
                    }
                ],
            }
        ),
    )

    ec2 = seed("ec2", "eu-west-1")
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group_id = ec2.create_security_group(GroupName="ssh-anywhere", Description="ssh", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", SecurityGroupIds=[group_id]
    )
    return group_id


async def test_each_seeded_risky_state_is_found_once_with_its_severity(
    seed: AccountClients, moto: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    group_id = seed_risky_account(seed)

    # All enabled regions, discovered; instances collected for the evidence although no scenario needs them.
    report = await scan(target, moto, base_session, extra_data=["ec2.instances"])

    found = by_identity(report.findings)
    expected = {
        ("quarantine_policy", f"arn:aws:iam::{ACCOUNT_ID}:user/leaked"): Severity.CRITICAL,
        ("new_admin_user", f"arn:aws:iam::{ACCOUNT_ID}:user/intruder"): Severity.HIGH,
        ("access_keys_duplicate", f"arn:aws:iam::{ACCOUNT_ID}:user/deploy"): Severity.MEDIUM,
        ("public_bucket_read", "arn:aws:s3:::public-reports"): Severity.HIGH,
        ("public_bucket_write", "arn:aws:s3:::dropbox-uploads"): Severity.CRITICAL,
        (
            "open_security_group",
            f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:security-group/{group_id}",
        ): Severity.HIGH,
        MOTO_ROOT_MFA: Severity.CRITICAL,
    }
    assert {identity: finding.severity for identity, finding in found.items()} == expected
    assert found[("public_bucket_write", "arn:aws:s3:::dropbox-uploads")].region == "eu-west-1"
    assert report.status == "ok", (report.outcomes, report.collection_errors)
    assert "eu-west-1" in report.regions and "us-east-1" in report.regions
    assert not any(region.startswith(("cn-", "us-gov-")) for region in report.regions)

    # Evidence: plain JSON holding the credential report and the instances per region.
    evidence = json.loads(json.dumps(report.evidence))
    assert {row["user"] for row in evidence["data"]["iam.credential_report"]} == {
        "leaked",
        "intruder",
        "deploy",
    }
    [instance] = evidence["data"]["ec2.instances"]["eu-west-1"]
    assert instance["InstanceType"] == "t3.micro"
    assert evidence["data"]["ec2.instances"]["us-east-1"] == []


async def test_a_clean_account_yields_only_mocos_root_mfa_finding(
    seed: AccountClients, moto: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    iam = seed("iam")
    iam.create_user(UserName="ci")
    iam.create_access_key(UserName="ci")
    seed("s3").create_bucket(Bucket="private-data")
    seed("ec2", "eu-west-1").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)

    report = await scan(target, moto, base_session, regions=["us-east-1", "eu-west-1"])

    assert list(by_identity(report.findings)) == [MOTO_ROOT_MFA]
    assert report.findings[0].details["source"] == "the IAM account summary"
    assert report.status == "ok"
    assert {outcome.status for outcome in report.outcomes.values()} == {"ok"}
    assert all(outcome.data_complete for outcome in report.outcomes.values())


async def test_account_block_public_access_read_through_s3control_hides_public_buckets(
    seed: AccountClients, moto: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    s3 = seed("s3")
    s3.create_bucket(Bucket="public-reports")
    s3.put_bucket_acl(Bucket="public-reports", ACL="public-read")
    seed("s3control").put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )

    report = await scan(target, moto, base_session, regions=["us-east-1"])

    assert report.evidence["data"]["s3.account_public_access_block"]["IgnorePublicAcls"] is True
    assert [finding.kind for finding in report.findings if finding.scenario == "exposure"] == []


async def test_a_rescan_produces_the_same_fingerprints(
    seed: AccountClients, moto: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    seed_risky_account(seed)
    first = await scan(target, moto, base_session, regions=["eu-west-1"])
    second = await scan(target, moto, base_session, regions=["eu-west-1"])
    fingerprints = sorted(finding.fingerprint(ACCOUNT_ID) for finding in first.findings)
    assert fingerprints == sorted(finding.fingerprint(ACCOUNT_ID) for finding in second.findings)
    assert len(set(fingerprints)) == len(fingerprints) == 7


class Crashing(Scenario):
    id = "crashing"
    title = "Has a bug"
    requires = ("iam.account_summary",)

    async def detect(self, data: CollectedData) -> list[Finding]:
        raise KeyError("SummaryMap")


class Slow(Scenario):
    id = "slow"
    title = "Never finishes"
    requires = ("iam.account_summary",)
    time_budget_seconds = 0.5

    async def detect(self, data: CollectedData) -> list[Finding]:
        await asyncio.Event().wait()  # blocks until the time budget cancels it
        return []


async def test_a_crashing_and_a_slow_scenario_make_the_scan_partial_but_not_empty(
    seed: AccountClients, moto: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    iam = seed("iam")
    iam.create_user(UserName="intruder")
    iam.attach_user_policy(UserName="intruder", PolicyArn=ADMINISTRATOR)
    registry = load_registry()

    report = await scan_account(
        target,
        [Crashing, registry.scenarios["iam"], Slow],
        collectors=registry.collectors,
        endpoint_url=moto,
        base_session=base_session,
    )

    assert report.status == "partial"
    assert (report.outcomes["crashing"].status, report.outcomes["slow"].status) == ("failed", "timeout")
    assert report.outcomes["iam"].status == "ok"
    assert ("new_admin_user", f"arn:aws:iam::{ACCOUNT_ID}:user/intruder") in by_identity(report.findings)
    encoded = json.loads(msgspec.json.encode(report))  # the whole report is plain JSON for the job to store
    assert encoded["outcomes"]["crashing"]["error"] == "KeyError: 'SummaryMap'"
