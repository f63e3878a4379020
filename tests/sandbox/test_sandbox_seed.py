"""The two ready-made accounts show, through the plain AWS APIs, what their names promise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.support.botocore_model import ClientFactory
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import (
    CompromisedAccount,
    register_customer_role,
    seed_clean_account,
    seed_compromised_account,
)
from vigilare_sandbox.seed_aws import QUARANTINE_POLICY_ARN


@pytest.fixture
def compromised(sandbox: Sandbox, account_id: str) -> CompromisedAccount:
    return seed_compromised_account(sandbox, account_id)


def test_compromised_account_has_quarantined_key_and_risk_and_abuse_events(
    compromised: CompromisedAccount, make_client: ClientFactory
) -> None:
    account = compromised.account_id
    entities = make_client("iam", account).list_entities_for_policy(PolicyArn=QUARANTINE_POLICY_ARN)
    health = make_client("health", account)
    events = health.describe_events(filter={"eventStatusCodes": ["open"]})["events"]
    affected = health.describe_affected_entities(filter={"eventArns": [compromised.risk_event_arn]})

    assert [user["UserName"] for user in entities["PolicyUsers"]] == ["ci-deploy"]
    assert {(event["service"], event["eventTypeCode"]) for event in events} == {
        ("RISK", "AWS_RISK_CREDENTIALS_EXPOSED"),
        ("ABUSE", "AWS_ABUSE_EC2_PORT_SCANNING_REPORT"),
    }
    assert affected["entities"][0]["entityValue"] == compromised.exposed_key.access_key_id


def test_compromised_account_runs_gpus_spends_and_mails_badly(
    compromised: CompromisedAccount, make_client: ClientFactory
) -> None:
    account = compromised.account_id
    ec2 = make_client("ec2", account, compromised.gpu_region)
    running = [
        instance["InstanceType"]
        for reservation in ec2.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
    ]
    charges = make_client("cloudwatch", account).get_metric_statistics(
        Namespace="AWS/Billing",
        MetricName="EstimatedCharges",
        Dimensions=[{"Name": "Currency", "Value": "USD"}],
        StartTime=datetime.now(UTC) - timedelta(days=40),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    costs = make_client("ce", account).get_cost_and_usage(
        TimePeriod={"Start": "2020-01-01", "End": "2020-01-15"},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
    )["ResultsByTime"]
    ses = make_client("sesv2", account, compromised.ses_region).get_account()
    bounce = make_client("cloudwatch", account, compromised.ses_region).get_metric_statistics(
        Namespace="AWS/SES",
        MetricName="Reputation.BounceRate",
        StartTime=datetime.now(UTC) - timedelta(hours=2),
        EndTime=datetime.now(UTC),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]

    assert sorted(running) == ["g5.12xlarge", "p3.8xlarge", "p3.8xlarge"]
    assert max(point["Maximum"] for point in charges) == 1850.0
    assert float(costs[-1]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"]) > 900
    assert ses["EnforcementStatus"] == "PROBATION"
    assert bounce[0]["Maximum"] == 0.08


def test_compromised_account_is_exposed_and_its_trails_were_silenced(
    compromised: CompromisedAccount, make_client: ClientFactory
) -> None:
    account = compromised.account_id
    grants = make_client("s3", account).get_bucket_acl(Bucket=compromised.public_bucket)["Grants"]
    policy = json.loads(
        make_client("s3", account).get_bucket_policy(Bucket=compromised.public_bucket)["Policy"]
    )
    group = make_client("ec2", account).describe_security_groups(
        GroupIds=[compromised.open_security_group.group_id]
    )
    cloudtrail = make_client("cloudtrail", account)
    trail_status = cloudtrail.get_trail_status(Name=compromised.stopped_trail_arn)
    history = cloudtrail.lookup_events()["Events"]

    assert any(grant["Grantee"].get("URI", "").endswith("/global/AllUsers") for grant in grants)
    assert policy["Statement"][0]["Principal"] == "*"
    assert group["SecurityGroups"][0]["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert trail_status["IsLogging"] is False
    # Sign-in and trail tampering, then the leaked key's persistence (IAM calls are recorded in us-east-1).
    assert {event["EventName"] for event in history} == {
        "ConsoleLogin",
        "StopLogging",
        "DeleteTrail",
        "CreateUser",
        "AttachUserPolicy",
        "CreateAccessKey",
    }
    root_login = next(event for event in history if event["EventName"] == "ConsoleLogin")
    assert json.loads(root_login["CloudTrailEvent"])["additionalEventData"]["MFAUsed"] == "No"


def test_compromised_account_has_high_guardduty_findings_and_no_security_contact(
    compromised: CompromisedAccount, make_client: ClientFactory
) -> None:
    account = compromised.account_id
    guardduty = make_client("guardduty", account, compromised.gpu_region)
    high = guardduty.list_findings(
        DetectorId=compromised.guardduty_detector_id,
        FindingCriteria={"Criterion": {"severity": {"GreaterThanOrEqual": 7}}},
    )["FindingIds"]

    assert sorted(high) == sorted(compromised.guardduty_high_finding_ids)
    with pytest.raises(ClientError) as missing:
        make_client("account", account).get_alternate_contact(AlternateContactType="SECURITY")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_clean_account_is_watched_and_quiet(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    clean = seed_clean_account(sandbox, account_id)

    cloudtrail = make_client("cloudtrail", account_id)
    trails = cloudtrail.describe_trails()["trailList"]
    contact = make_client("account", account_id).get_alternate_contact(AlternateContactType="SECURITY")
    guardduty = make_client("guardduty", account_id, "eu-west-1")
    detector = clean.guardduty_detectors["eu-west-1"]

    assert [trail["IsMultiRegionTrail"] for trail in trails] == [True]
    assert cloudtrail.get_trail_status(Name=clean.trail_arn)["IsLogging"] is True
    assert guardduty.get_detector(DetectorId=detector)["Status"] == "ENABLED"
    assert guardduty.list_findings(DetectorId=detector)["FindingIds"] == []
    assert contact["AlternateContact"]["EmailAddress"] == "security@example.com"
    assert make_client("health", account_id).describe_events()["events"] == []
    assert make_client("sesv2", account_id).get_account()["EnforcementStatus"] == "HEALTHY"
    buckets = make_client("s3", account_id).list_buckets()["Buckets"]
    assert [bucket["Name"] for bucket in buckets] == [f"cloudtrail-{account_id}"]
    iam = make_client("iam", account_id)
    assert iam.list_entities_for_policy(PolicyArn=QUARANTINE_POLICY_ARN)["PolicyUsers"] == []


def test_customer_role_is_created_as_onboarding_asks(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    role_arn = register_customer_role(sandbox, account_id, "VigilareAudit", "ext-abc", "999900001111")

    iam = make_client("iam", account_id)
    role = iam.get_role(RoleName="VigilareAudit")["Role"]
    attached = iam.list_attached_role_policies(RoleName="VigilareAudit")["AttachedPolicies"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]

    assert role["Arn"] == role_arn
    assert statement["Principal"] == {"AWS": "arn:aws:iam::999900001111:root"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-abc"}}
    assert sorted(policy["PolicyName"] for policy in attached) == ["SecurityAudit", "ViewOnlyAccess"]
    assert iam.list_role_policies(RoleName="VigilareAudit")["PolicyNames"] == ["VigilareReadOnlyAdditions"]
