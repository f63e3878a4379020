"""Issue 12 items 1, 2, 4 and 6: the answers real AWS accounts give, which moto alone does not.

The sandbox's gateway imitates each behaviour as the AWS reference documents it
(sandbox/vigilare_sandbox/field.py names the pages); these tests scan through it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aioboto3
import boto3

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, scan_sandbox
from tests.support.findings import ACCOUNT_ID
from vigilare.aws.collect import _Context
from vigilare.aws.collectors.billing import USAGE_BEFORE_CREDITS, _maximum_charges
from vigilare.aws.session import AccountSession
from vigilare.plugin.state import StateStore
from vigilare_sandbox import Sandbox, seed_aws, seed_events
from vigilare_sandbox.seed_aws import assumed_credentials
from vigilare_sandbox.state import CostLine

MANAGEMENT_ACCOUNT = "111100002222"


def _kinds(report) -> list[str]:
    return sorted(finding.kind for finding in report.findings)


# 1. CloudWatch's period rule --------------------------------------------------------------------


def test_the_stand_in_returns_no_datapoints_for_a_period_that_does_not_suit_the_start(sandbox: Sandbox):
    # CloudWatch API reference, GetMetricStatistics, Period: a start 15-63 days ago needs a multiple
    # of 300 s, or no data points come back.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=20)
    seed_aws.put_billing_charges(sandbox, ACCOUNT_ID, [(start + timedelta(days=1), 75.0)])
    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        **assumed_credentials(sandbox, ACCOUNT_ID),
    )

    def points(period: int) -> list:
        return cloudwatch.get_metric_statistics(
            Namespace="AWS/Billing",
            MetricName="EstimatedCharges",
            Dimensions=[{"Name": "Currency", "Value": "USD"}],
            StartTime=start,
            EndTime=now,
            Period=period,
            Statistics=["Maximum"],
        )["Datapoints"]

    assert points(20 * 86400 + 60) == []  # a multiple of 60 s only
    assert [point["Maximum"] for point in points(20 * 86400 + 300)] == [75.0]


async def test_month_to_date_charges_are_read_when_the_month_started_over_15_days_ago(
    sandbox: Sandbox, aws_endpoint: str, base_session: aioboto3.Session
):
    # A span of 20 days and 7 minutes: a period rounded to the minute is not a multiple of 300 s.
    now = datetime.now(UTC)
    start = now - timedelta(days=20, minutes=7)
    seed_aws.put_billing_charges(
        sandbox, ACCOUNT_ID, [(start + timedelta(days=2), 310.0), (now - timedelta(hours=1), 1490.0)]
    )
    async with AccountSession(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-test",
        endpoint_url=aws_endpoint,
        base_session=base_session,
    ) as session:
        ctx = _Context(session, "billing.estimated_charges", None, [], StateStore(None), {})
        assert await _maximum_charges(ctx, start, now) == 1490.0


# 2. AWS Organizations: organization trails, centrally managed root, billing alerts off ----------


async def test_an_organization_trail_counts_and_is_named_as_such(sandbox: Sandbox):
    trail_arn = seed_events.add_organization_trail(sandbox, ACCOUNT_ID, MANAGEMENT_ACCOUNT, "org-audit")

    report = await scan_sandbox(sandbox, ["hygiene"])

    assert "no_multiregion_trail" not in _kinds(report)
    trails = report.evidence["data"]["cloudtrail.trails"]["us-east-1"]
    assert [(t["TrailARN"], t["OrganizationTrail"], t["ManagedBy"]) for t in trails] == [
        (trail_arn, True, MANAGEMENT_ACCOUNT)
    ]
    # Kept once, in its home region, although every region shows its shadow.
    assert all(not report.evidence["data"]["cloudtrail.trails"][r] for r in ("eu-west-1", "ap-southeast-2"))


async def test_a_stopped_organization_trail_is_reported_as_the_organization_s(sandbox: Sandbox):
    seed_events.add_organization_trail(sandbox, ACCOUNT_ID, MANAGEMENT_ACCOUNT, "org-audit", logging=False)

    report = await scan_sandbox(sandbox, ["root"])

    [stopped] = [f for f in report.findings if f.kind == "cloudtrail_stopped"]
    assert f"org-audit (organization trail of {MANAGEMENT_ACCOUNT})" in stopped.title


async def test_a_centrally_managed_root_without_password_or_keys_is_not_a_root_mfa_finding(sandbox: Sandbox):
    seed_events.set_root_security(sandbox, ACCOUNT_ID, mfa=False, access_keys=False, password=False)

    report = await scan_sandbox(sandbox, ["iam"])

    assert not {"root_mfa_disabled", "root_access_keys"} & set(_kinds(report))
    assert report.evidence["data"]["iam.account_summary"]["AccountPasswordPresent"] == 0


async def test_a_root_with_a_password_and_no_mfa_is_still_a_finding(sandbox: Sandbox):
    seed_events.set_root_security(sandbox, ACCOUNT_ID, mfa=False, access_keys=False, password=True)

    report = await scan_sandbox(sandbox, ["iam"])

    assert "root_mfa_disabled" in _kinds(report)


async def test_a_missing_billing_metric_is_a_capability_gap_not_no_spike(sandbox: Sandbox):
    # Nothing published to AWS/Billing: billing alerts are off at the payer.
    seed_aws.queue_cost_and_usage(sandbox, ACCOUNT_ID, [{"Amazon Simple Storage Service": 0.4}] * 14)

    report = await scan_sandbox(sandbox, ["billing"])

    assert report.status == "ok"
    capability = {c.name: c for c in report.capabilities}["billing_metric"]
    assert capability.available is False and "billing alerts" in capability.reason
    assert report.outcomes["billing"].data_complete is False  # open spend signals are not resolved
    assert report.evidence["data"]["billing.estimated_charges"] is None


async def test_the_billing_metric_present_records_the_capability_available(sandbox: Sandbox):
    seed_aws.put_billing_charges(sandbox, ACCOUNT_ID, [(datetime.now(UTC) - timedelta(hours=2), 12.0)])

    report = await scan_sandbox(sandbox, ["billing"])

    assert {c.name: c.available for c in report.capabilities}["billing_metric"] is True


# 4. Root access keys: the live summary, not a report up to 4 hours old --------------------------


def test_the_stand_in_s_credential_report_goes_started_then_complete_and_is_kept_4_hours(sandbox: Sandbox):
    iam = boto3.client(
        "iam",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        **assumed_credentials(sandbox, ACCOUNT_ID),
    )
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    first = iam.get_credential_report()["Content"].decode()
    iam.create_user(UserName="after-the-report")
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    assert iam.get_credential_report()["Content"].decode() == first  # the same copy

    seed_events.age_credential_report(sandbox, ACCOUNT_ID, hours=4.5)
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert "after-the-report" in iam.get_credential_report()["Content"].decode()


async def test_root_keys_created_after_the_credential_report_are_found(sandbox: Sandbox):
    seed_events.set_root_security(sandbox, ACCOUNT_ID, mfa=True, access_keys=False)
    first = await scan_sandbox(sandbox, ["iam"])
    assert "root_access_keys" not in _kinds(first)

    seed_events.set_root_security(sandbox, ACCOUNT_ID, mfa=True, access_keys=True)
    second = await scan_sandbox(sandbox, ["iam"])

    [keys] = [f for f in second.findings if f.kind == "root_access_keys"]
    assert keys.details["source"] == "the IAM account summary"
    assert "within the last 4 hours" in keys.description
    root_row = second.evidence["data"]["iam.credential_report"][0]
    assert root_row["access_key_1_active"] == "false"  # the report still says no keys


# 6. Service control policies -------------------------------------------------------------------


async def test_a_region_denied_by_scp_is_a_capability_not_a_collection_error(sandbox: Sandbox):
    seed_events.deny_region_by_scp(sandbox, ACCOUNT_ID, "ap-east-1")

    report = await scan_sandbox(sandbox, ["root", "hygiene"], regions=("us-east-1", "eu-west-1", "ap-east-1"))

    assert report.status == "ok"
    assert report.collection_errors == []
    capability = {c.name: c for c in report.capabilities}["scp_denied:ap-east-1"]
    assert capability.available is False
    assert capability.reason.startswith("denied by SCP in ap-east-1: ")
    assert "cloudtrail:DescribeTrails" in capability.reason
    # The trail check still runs on the regions that answered: no trail at all is a finding.
    assert "no_multiregion_trail" in _kinds(report)
    assert "ap-east-1" not in report.evidence["data"]["cloudtrail.trails"]


async def test_an_action_the_role_lacks_is_named_in_one_capability_not_a_collection_error(sandbox: Sandbox):
    # A role set up before the fleet checks existed: AWS refuses with an implicit deny ("because no
    # identity-based policy allows the ec2:DescribeFleets action"; IAM User Guide, "Troubleshoot
    # access denied error messages").
    seed_events.role_lacks(sandbox, ACCOUNT_ID, "ec2:DescribeFleets")
    seed_aws.launch_instances(sandbox, ACCOUNT_ID, "eu-west-1", "p4d.24xlarge", count=2)

    report = await scan_sandbox(sandbox, ["compute"], regions=("us-east-1", "eu-west-1"))

    assert report.status == "ok"
    assert report.collection_errors == []
    capability = {c.name: c for c in report.capabilities}["role_policy"]
    assert capability.available is False
    assert capability.reason.startswith("the Vigilare role may not call ec2:DescribeFleets (refused in ")
    assert f"/app/accounts/{ACCOUNT_ID}/setup" in capability.reason
    # What the role may still read is read: the GPU launch in a new region is found.
    assert "gpu_capacity_new_region" in _kinds(report)
    assert report.evidence["data"].get("ec2.fleet_requests", {}) == {}


# 3. Credits hide spend ------------------------------------------------------------------------


def _burning_credits(sandbox: Sandbox) -> None:
    """Two quiet weeks in us-east-1, then a GPU day in a new region, all paid by promotional credits."""
    today = datetime.now(UTC).date()
    lines = []
    for offset in range(14, 1, -1):
        day = today - timedelta(days=offset)
        lines += [
            CostLine(day, "Amazon Elastic Compute Cloud - Compute", "us-east-1", 1.3),
            CostLine(day, "Amazon Elastic Compute Cloud - Compute", "us-east-1", -1.3, "Credit"),
        ]
    yesterday = today - timedelta(days=1)
    lines += [
        CostLine(yesterday, "Amazon Elastic Compute Cloud - Compute", "ap-southeast-2", 912.0),
        CostLine(yesterday, "Amazon Elastic Compute Cloud - Compute", "ap-southeast-2", -912.0, "Credit"),
    ]
    seed_events.add_cost_lines(sandbox, ACCOUNT_ID, lines)


def test_the_stand_in_nets_credits_unless_record_types_are_filtered(sandbox: Sandbox):
    _burning_credits(sandbox)
    ce = boto3.client(
        "ce",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        **assumed_credentials(sandbox, ACCOUNT_ID),
    )
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    today = datetime.now(UTC).date().isoformat()

    def total(**extra) -> float:
        answer = ce.get_cost_and_usage(
            TimePeriod={"Start": day, "End": today}, Granularity="DAILY", Metrics=["UnblendedCost"], **extra
        )
        return float(answer["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"])

    assert total() == 0.0
    assert total(Filter=USAGE_BEFORE_CREDITS) == 912.0


async def test_spend_paid_by_credits_still_spikes_and_opens_a_new_region(sandbox: Sandbox):
    _burning_credits(sandbox)

    report = await scan_sandbox(sandbox, ["billing"])

    kinds = _kinds(report)
    assert "daily_spend_spike" in kinds
    [new_region] = [f for f in report.findings if f.kind == "new_region_spend"]
    assert new_region.region == "ap-southeast-2"
