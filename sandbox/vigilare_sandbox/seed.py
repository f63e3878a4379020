"""Ready-made sandbox accounts and the customer's cross-account role.

Building blocks live in `seed_aws` (moto-side) and `seed_events` (fake-side); this module composes
them into the two profiles the tests and the demo use, and registers customer roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.accounts.onboarding import (
    ADDITIONS_POLICY_NAME,
    MANAGED_POLICY_ARNS,
    additions_policy,
    trust_policy,
)
from vigilare_sandbox import seed_aws, seed_compute, seed_events, seed_invoices
from vigilare_sandbox.sandbox import Sandbox
from vigilare_sandbox.seed_aws import client_for
from vigilare_sandbox.state import SupportPlan

COMPROMISED_GPU_REGION = "ap-southeast-2"
COMPROMISED_SES_REGION = "us-east-1"


def register_customer_role(
    sandbox: Sandbox, account_id: str, role_name: str, external_id: str, trusted_account: str
) -> str:
    """Create the customer's audit role in moto as onboarding asks them to, and make the gateway
    enforce its trust policy (caller in `trusted_account`, `sts:ExternalId` equal). Returns its ARN."""
    # Exactly the role the onboarding snippets create.
    iam = client_for(sandbox, account_id, "iam")
    role_arn: str = iam.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust_policy(trusted_account, external_id))
    )["Role"]["Arn"]
    for policy_arn in MANAGED_POLICY_ARNS:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    iam.put_role_policy(
        RoleName=role_name, PolicyName=ADDITIONS_POLICY_NAME, PolicyDocument=json.dumps(additions_policy())
    )
    sandbox.register_guarded_role(role_arn, external_id, trusted_account)
    return role_arn


def seed_billing_charges(
    sandbox: Sandbox, account_id: str, last_month_total: float, month_to_date: float
) -> None:
    """`EstimatedCharges` as AWS publishes it: month-to-date, rising through the month, restarting
    at each month's first day. Last month closes at `last_month_total`; today reads `month_to_date`."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    month_start = now.replace(day=1, hour=0)
    hours_into_month = max(int((now - month_start).total_seconds() // 3600), 1)
    points = [(month_start - timedelta(hours=1), last_month_total)]
    step = max(hours_into_month // 12, 1)  # about a dozen points this month, the last one now
    for hours in [*range(step, hours_into_month, step), hours_into_month]:
        points.append(
            (month_start + timedelta(hours=hours), round(month_to_date * hours / hours_into_month, 2))
        )
    seed_aws.put_billing_charges(sandbox, account_id, points)


@dataclass
class CompromisedAccount:
    """What `seed_compromised_account` planted, for assertions."""

    account_id: str
    exposed_key: seed_aws.ExposedKey
    risk_event_arn: str
    risk_deadline: datetime
    abuse_event_arn: str
    gpu_region: str
    gpu_instance_ids: list[str]
    public_bucket: str
    open_security_group: seed_aws.OpenSecurityGroup
    root_login_event_id: str
    stopped_trail_arn: str
    deleted_trail_arn: str
    tampering_event_ids: list[str]
    guardduty_detector_id: str
    guardduty_high_finding_ids: list[str]
    guardduty_low_finding_id: str
    cost_anomaly_id: str
    ses_region: str
    backdoor_role_arn: str = ""
    identity_provider_arn: str = ""
    persistence_user_arn: str = ""
    public_snapshot_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def seed_compromised_account(sandbox: Sandbox, account_id: str) -> CompromisedAccount:
    """An account in the state AWS suspends accounts from: every scenario has something to find."""
    deadline = (datetime.now(UTC) + timedelta(days=5)).replace(second=0, microsecond=0)
    seed_events.set_support_plan(sandbox, account_id, SupportPlan.BUSINESS)

    exposed = seed_aws.create_quarantined_user(sandbox, account_id, "ci-deploy")
    risk_arn = seed_events.add_exposed_credentials_event(sandbox, account_id, exposed.access_key_id, deadline)

    gpu_ids = seed_aws.launch_instances(sandbox, account_id, COMPROMISED_GPU_REGION, "p3.8xlarge", count=2)
    gpu_ids += seed_aws.launch_instances(sandbox, account_id, COMPROMISED_GPU_REGION, "g5.12xlarge", count=1)
    instance_arns = [
        f"arn:aws:ec2:{COMPROMISED_GPU_REGION}:{account_id}:instance/{gpu_id}" for gpu_id in gpu_ids
    ]
    abuse_arn = seed_events.add_abuse_event(sandbox, account_id, instance_arns[:1], deadline=deadline)

    # Last month about $40; this month already far past it, nearly all of it GPU capacity.
    seed_billing_charges(sandbox, account_id, last_month_total=40.0, month_to_date=1850.0)
    quiet_days = [{"Amazon Elastic Compute Cloud - Compute": 1.1, "Amazon Simple Storage Service": 0.2}] * 13
    seed_aws.queue_cost_and_usage(
        sandbox,
        account_id,
        [
            *quiet_days,
            {"Amazon Elastic Compute Cloud - Compute": 912.0, "Amazon Simple Storage Service": 0.2},
        ],
    )
    anomaly_id = seed_events.add_cost_anomaly(
        sandbox, account_id, total_impact=910.0, region=COMPROMISED_GPU_REGION
    )

    seed_events.set_ses_enforcement(sandbox, account_id, COMPROMISED_SES_REGION, "PROBATION")
    seed_aws.put_ses_reputation(
        sandbox, account_id, COMPROMISED_SES_REGION, bounce_rate=0.08, complaint_rate=0.002
    )

    bucket = f"public-assets-{account_id}"
    seed_aws.create_public_bucket(sandbox, account_id, bucket)
    open_group = seed_aws.create_world_open_security_group(sandbox, account_id, "us-east-1", port=22)

    seed_events.set_root_security(sandbox, account_id, mfa=False)
    root_login = seed_events.add_root_console_login(sandbox, account_id, mfa_used=False)
    stopped_trail = seed_aws.create_logging_trail(sandbox, account_id, "org-trail")
    seed_aws.stop_trail_logging(sandbox, account_id, "org-trail")
    deleted_trail = f"arn:aws:cloudtrail:us-east-1:{account_id}:trail/audit-trail"
    tampering = seed_events.add_trail_tampering(
        sandbox,
        account_id,
        [("StopLogging", stopped_trail), ("DeleteTrail", deleted_trail)],
        access_key_id=exposed.access_key_id,
    )

    detector = seed_aws.ensure_guardduty_detector(sandbox, account_id, COMPROMISED_GPU_REGION)
    high_findings = [
        seed_events.add_guardduty_finding(
            sandbox,
            account_id,
            COMPROMISED_GPU_REGION,
            detector,
            finding_type,
            severity,
            instance_id=gpu_ids[0],
        )
        for finding_type, severity in (
            ("CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0),
            ("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", 8.0),
            ("Backdoor:EC2/C&CActivity.B", 9.1),
        )
    ]
    low_finding = seed_events.add_guardduty_finding(
        sandbox, account_id, COMPROMISED_GPU_REGION, detector, "Recon:EC2/PortProbeUnprotectedPort", 2.0
    )
    seed_aws.remove_security_contact(sandbox, account_id)
    backdoor_role = seed_aws.create_backdoor_role(sandbox, account_id, "aws-support-access")
    identity_provider = seed_aws.create_saml_provider(sandbox, account_id, "sso-okta")
    public_snapshot = seed_aws.create_public_snapshot(sandbox, account_id, COMPROMISED_GPU_REGION)
    # The leaked key making itself at home: a new admin user with its own key, GuardDuty deleted in
    # a region nobody watches (event history records IAM calls in us-east-1, as AWS does).
    iam_source, admin = "iam.amazonaws.com", "arn:aws:iam::aws:policy/AdministratorAccess"
    persistence_user = "svc-backup"
    for event_name, parameters in (
        ("CreateUser", {"userName": persistence_user}),
        ("AttachUserPolicy", {"userName": persistence_user, "policyArn": admin}),
        ("CreateAccessKey", {"userName": persistence_user}),
    ):
        seed_events.add_write_call(
            sandbox, account_id, event_name, iam_source, parameters, access_key_id=exposed.access_key_id
        )
    seed_events.add_write_call(
        sandbox,
        account_id,
        "DeleteDetector",
        "guardduty.amazonaws.com",
        {"detectorId": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"},
        region="eu-west-1",
        access_key_id=exposed.access_key_id,
    )

    # Before its GPU burst the leaked key asked for G-instance quota there; AWS opened a support case.
    gpu_quota_request = seed_compute.add_quota_request(
        sandbox,
        account_id,
        COMPROMISED_GPU_REGION,
        "L-DB2E81BA",
        256,
        status="CASE_OPENED",
        created=datetime.now(UTC) - timedelta(hours=20),
    )

    return CompromisedAccount(
        account_id=account_id,
        exposed_key=exposed,
        risk_event_arn=risk_arn,
        risk_deadline=deadline,
        abuse_event_arn=abuse_arn,
        gpu_region=COMPROMISED_GPU_REGION,
        gpu_instance_ids=gpu_ids,
        public_bucket=bucket,
        open_security_group=open_group,
        root_login_event_id=root_login,
        stopped_trail_arn=stopped_trail,
        deleted_trail_arn=deleted_trail,
        tampering_event_ids=tampering,
        guardduty_detector_id=detector,
        guardduty_high_finding_ids=high_findings,
        guardduty_low_finding_id=low_finding,
        cost_anomaly_id=anomaly_id,
        ses_region=COMPROMISED_SES_REGION,
        backdoor_role_arn=backdoor_role,
        identity_provider_arn=identity_provider,
        persistence_user_arn=f"arn:aws:iam::{account_id}:user/{persistence_user}",
        public_snapshot_id=public_snapshot,
        extra={"gpu_quota_request_id": gpu_quota_request},
    )


@dataclass
class CleanAccount:
    account_id: str
    trail_arn: str
    guardduty_detectors: dict[str, str]  # region -> detector id


def seed_clean_account(sandbox: Sandbox, account_id: str) -> CleanAccount:
    """A well-kept account: multi-region CloudTrail logging, GuardDuty on everywhere with no
    findings, EBS encrypted by default, a SECURITY contact, steady modest spend (its invoices paid,
    their due dates past), healthy SES, nothing public or open."""
    seed_events.set_support_plan(sandbox, account_id, SupportPlan.BUSINESS)
    trail_arn = seed_aws.create_logging_trail(sandbox, account_id, "org-trail")
    detectors: dict[str, str] = {}
    regions = client_for(sandbox, account_id, "ec2").describe_regions()["Regions"]
    for region in (entry["RegionName"] for entry in regions):
        try:
            detectors[region] = seed_aws.ensure_guardduty_detector(sandbox, account_id, region)
            client_for(sandbox, account_id, "ec2", region).enable_ebs_encryption_by_default()
        except ClientError:
            continue  # moto answers some of botocore's newest regions with errors; AWS would too, there
    seed_aws.set_security_contact(sandbox, account_id)
    seed_billing_charges(
        sandbox, account_id, last_month_total=120.0, month_to_date=_steady_month_to_date(120.0)
    )
    seed_aws.queue_cost_and_usage(
        sandbox,
        account_id,
        [{"Amazon Elastic Compute Cloud - Compute": 3.1, "Amazon Simple Storage Service": 0.9}] * 14,
    )
    seed_aws.put_ses_reputation(sandbox, account_id, "us-east-1", bounce_rate=0.004, complaint_rate=0.0001)
    seed_invoices.add_paid_invoices(sandbox, account_id)
    return CleanAccount(account_id=account_id, trail_arn=trail_arn, guardduty_detectors=detectors)


def _steady_month_to_date(monthly_total: float) -> float:
    now = datetime.now(UTC)
    return round(monthly_total * max(now.day - 1 + now.hour / 24, 0.1) / 30, 2)


MEMBER_SCP_DENIED_REGION = "ap-east-1"


@dataclass
class MemberAccount:
    account_id: str
    management_account: str
    organization_trail_arn: str
    scp_denied_region: str


def seed_member_account(
    sandbox: Sandbox,
    account_id: str,
    management_account: str = "111100002222",
    scp_denied_region: str = MEMBER_SCP_DENIED_REGION,
) -> MemberAccount:
    """A well-kept member account of an AWS Organization, as it looks from inside:

    - CloudTrail: no trail of its own; the organization's trail (owned by the management account)
      is a shadow trail, visible only with ``includeShadowTrails``;
    - root: managed centrally (no password, no access keys, no MFA);
    - billing alerts are off at the payer, so ``AWS/Billing`` publishes nothing here;
    - a service control policy denies every action in ``scp_denied_region``;
    - AWS Payments refuses it (INVALID_ACCOUNT_STATE): the management account pays the invoices;
    - otherwise clean: GuardDuty on, a SECURITY contact, steady spend in Cost Explorer, healthy SES.
    """
    seed_events.set_support_plan(sandbox, account_id, SupportPlan.BUSINESS)
    trail_arn = seed_events.add_organization_trail(sandbox, account_id, management_account)
    seed_events.set_root_security(sandbox, account_id, mfa=False, access_keys=False, password=False)
    regions = client_for(sandbox, account_id, "ec2").describe_regions()["Regions"]
    for region in (entry["RegionName"] for entry in regions):
        if region == scp_denied_region:
            continue
        try:
            seed_aws.ensure_guardduty_detector(sandbox, account_id, region)
        except ClientError:
            continue  # moto answers some of botocore's newest regions with errors
    seed_aws.set_security_contact(sandbox, account_id)
    seed_aws.queue_cost_and_usage(
        sandbox,
        account_id,
        [{"Amazon Elastic Compute Cloud - Compute": 2.4, "Amazon Simple Storage Service": 0.6}] * 14,
    )
    seed_aws.put_ses_reputation(sandbox, account_id, "us-east-1", bounce_rate=0.003, complaint_rate=0.0001)
    seed_invoices.refuse_payments(sandbox, account_id, "INVALID_ACCOUNT_STATE")
    # Last: the policy denies the seeder too, as it would anyone in the account.
    seed_events.deny_region_by_scp(sandbox, account_id, scp_denied_region)
    return MemberAccount(
        account_id=account_id,
        management_account=management_account,
        organization_trail_arn=trail_arn,
        scp_denied_region=scp_denied_region,
    )
