"""Seeding building blocks for what the fake serves: Health events, CloudTrail history, GuardDuty
findings, Cost Explorer anomalies, SES enforcement, support plan. Records look like AWS's own."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from vigilare_sandbox.sandbox import Sandbox
from vigilare_sandbox.state import (
    AffectedEntity,
    CostAnomaly,
    CostLine,
    GuardDutyFinding,
    HealthEvent,
    OrganizationTrail,
    SesAccount,
    SupportPlan,
    TrailEvent,
)

CONSOLE_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def set_support_plan(sandbox: Sandbox, account_id: str, plan: SupportPlan) -> None:
    """Basic or Developer makes every Health call fail with SubscriptionRequiredException."""
    with sandbox.state.lock:
        sandbox.state.account(account_id).support_plan = plan


def deadline_sentence(deadline: datetime) -> str:
    """How the seeded notices state AWS's deadline (the scanner may parse this)."""
    moment = deadline.astimezone(UTC)
    return f"If you do not respond by {moment:%Y-%m-%d %H:%M} UTC, we may suspend your account."


def add_health_event(
    sandbox: Sandbox,
    account_id: str,
    service: str,
    event_type_code: str,
    description: str,
    affected_entities: list[str],
    status_code: str = "open",
    started: datetime | None = None,
    region: str = "global",
) -> str:
    """An account-specific Health event (category `issue`) and its affected entities; returns its ARN.

    Entities are ARNs or plain values (an access key id): ARNs are also served as `entityValue`.
    """
    started = started or _now() - timedelta(hours=3)
    suffix = uuid.uuid4().hex[:12]
    event_arn = f"arn:aws:health:{region}::event/{service}/{event_type_code}/{event_type_code}_{suffix}"
    event = HealthEvent(
        arn=event_arn,
        service=service,
        event_type_code=event_type_code,
        event_type_category="issue",
        region=region,
        start_time=started,
        last_updated_time=started,
        status_code=status_code,
        description=description,
    )
    with sandbox.state.lock:
        account = sandbox.state.account(account_id)
        account.health_events[event_arn] = event
        for entity in affected_entities:
            entity_arn = (
                entity
                if entity.startswith("arn:")
                else f"arn:aws:health:{region}:{account_id}:entity/{entity}"
            )
            account.affected_entities.append(AffectedEntity(event_arn, entity, entity_arn, started))
    return event_arn


def add_exposed_credentials_event(
    sandbox: Sandbox, account_id: str, access_key_id: str, deadline: datetime
) -> str:
    """AWS_RISK_CREDENTIALS_EXPOSED about `access_key_id`, with AWS's deadline in the text."""
    description = (
        f"We have become aware that the AWS Access Key {access_key_id}, along with the corresponding "
        "Secret Key, is publicly available online. To protect your account from excessive charges, "
        "we have attached the AWSCompromisedKeyQuarantineV2 policy to the IAM user. Please rotate the "
        "key, check your account for unwanted usage and reply to the support case. "
        + deadline_sentence(deadline)
    )
    return add_health_event(
        sandbox, account_id, "RISK", "AWS_RISK_CREDENTIALS_EXPOSED", description, [access_key_id]
    )


def add_abuse_event(
    sandbox: Sandbox,
    account_id: str,
    resource_arns: list[str],
    event_type_code: str = "AWS_ABUSE_EC2_PORT_SCANNING_REPORT",
    deadline: datetime | None = None,
) -> str:
    description = (
        "We have received a report that resources in your account have been implicated in activity "
        "that resembles port scanning of remote hosts on the internet. Please stop this activity and "
        "reply to the abuse case."
    )
    if deadline is not None:
        description += " " + deadline_sentence(deadline)
    return add_health_event(sandbox, account_id, "ABUSE", event_type_code, description, resource_arns)


def add_trail_event(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    event_name: str,
    event_source: str,
    user_identity: dict[str, Any],
    source_ip: str,
    when: datetime | None = None,
    read_only: bool = False,
    resources: list[tuple[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    username: str | None = None,
) -> str:
    """One CloudTrail management event in a region's LookupEvents history; returns its EventId."""
    when = when or _now() - timedelta(hours=1)
    event_id = str(uuid.uuid4())
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": user_identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": CONSOLE_USER_AGENT,
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
        **(extra or {}),
    }
    event = TrailEvent(
        region=region,
        event_id=event_id,
        event_name=event_name,
        event_time=when,
        event_source=event_source,
        username=username,
        read_only=read_only,
        access_key_id=user_identity.get("accessKeyId") or None,
        resources=resources or [],
        record=record,
    )
    with sandbox.state.lock:
        sandbox.state.account(account_id).trail_events.append(event)
    return event_id


def add_root_console_login(
    sandbox: Sandbox,
    account_id: str,
    mfa_used: bool = False,
    source_ip: str = "203.0.113.77",
    region: str = "us-east-1",
    when: datetime | None = None,
) -> str:
    """A successful root ConsoleLogin (userIdentity.type Root, additionalEventData.MFAUsed)."""
    root_identity = {
        "type": "Root",
        "principalId": account_id,
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
        "accessKeyId": "",
    }
    return add_trail_event(
        sandbox,
        account_id,
        region,
        "ConsoleLogin",
        "signin.amazonaws.com",
        root_identity,
        source_ip,
        when=when,
        username="root",
        extra={
            "eventType": "AwsConsoleSignIn",
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {
                "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                "MobileVersion": "No",
                "MFAUsed": "Yes" if mfa_used else "No",
            },
        },
    )


def iam_user_identity(account_id: str, user_name: str, access_key_id: str) -> dict[str, Any]:
    """A CloudTrail ``userIdentity`` of an IAM user calling with an access key."""
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + uuid.uuid4().hex[:17].upper(),
        "arn": f"arn:aws:iam::{account_id}:user/{user_name}",
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "userName": user_name,
    }


def add_trail_tampering(
    sandbox: Sandbox,
    account_id: str,
    actions: list[tuple[str, str]],
    user_name: str = "ci-deploy",
    access_key_id: str = "AKIAIOSFODNN7EXAMPLE",
    region: str = "us-east-1",
    source_ip: str = "198.51.100.23",
) -> list[str]:
    """CloudTrail events by an IAM user silencing trails: `actions` are (event name, trail ARN) pairs,
    e.g. ("StopLogging", arn), ("DeleteTrail", arn), a minute apart; returns their EventIds."""
    identity = iam_user_identity(account_id, user_name, access_key_id)
    first = _now() - timedelta(minutes=50)
    return [
        add_trail_event(
            sandbox,
            account_id,
            region,
            event_name,
            "cloudtrail.amazonaws.com",
            identity,
            source_ip,
            when=first + timedelta(minutes=index),
            resources=[("AWS::CloudTrail::Trail", trail_arn)],
            extra={"requestParameters": {"name": trail_arn}},
            username=user_name,
        )
        for index, (event_name, trail_arn) in enumerate(actions)
    ]


def add_guardduty_finding(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    detector_id: str,
    finding_type: str,
    severity: float,
    instance_id: str = "i-0123456789abcdef0",
    updated_at: datetime | None = None,
    archived: bool = False,
) -> str:
    """A GuardDuty finding on an EC2 instance, served by ListFindings/GetFindings; returns its id."""
    updated_at = updated_at or _now()
    finding_id = uuid.uuid4().hex
    finding = GuardDutyFinding(
        id=finding_id,
        detector_id=detector_id,
        account_id=account_id,
        region=region,
        type=finding_type,
        severity=severity,
        title=f"{finding_type} activity observed on {instance_id}",
        description=f"EC2 instance {instance_id} shows {finding_type} behaviour.",
        created_at=updated_at - timedelta(minutes=30),
        updated_at=updated_at,
        resource={
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": instance_id,
                "instanceType": "p3.8xlarge",
                "instanceState": "running",
                "availabilityZone": f"{region}a",
            },
        },
        action={
            "actionType": "DNS_REQUEST",
            "dnsRequestAction": {"domain": "pool.minexmr.com", "protocol": "UDP"},
        },
        archived=archived,
    )
    with sandbox.state.lock:
        sandbox.state.account(account_id).findings[finding_id] = finding
    return finding_id


def touch_guardduty_finding(
    sandbox: Sandbox, account_id: str, finding_id: str, when: datetime | None = None
) -> None:
    """GuardDuty saw the activity again: bump `updatedAt` and `count`."""
    with sandbox.state.lock:
        finding = sandbox.state.account(account_id).findings[finding_id]
        finding.updated_at = when or _now()
        finding.count += 1


def add_cost_anomaly(
    sandbox: Sandbox,
    account_id: str,
    total_impact: float,
    service: str = "Amazon Elastic Compute Cloud - Compute",
    region: str = "ap-southeast-2",
    start: date | None = None,
    monitor_name: str = "default-services-monitor",
) -> str:
    """A Cost Explorer anomaly (from the account's service monitor); returns its id."""
    start = start or (_now() - timedelta(days=1)).date()
    expected = max(total_impact / 10, 1.0)
    anomaly = CostAnomaly(
        anomaly_id=str(uuid.uuid4()),
        monitor_arn=f"arn:aws:ce::{account_id}:anomalymonitor/{monitor_name}",
        start_date=start,
        end_date=None,
        dimension_value=service,
        max_impact=round(total_impact * 0.6, 2),
        total_impact=total_impact,
        total_actual_spend=round(expected + total_impact, 2),
        total_expected_spend=round(expected, 2),
        max_score=0.91,
        current_score=0.88,
        root_causes=[
            {
                "Service": service,
                "Region": region,
                "LinkedAccount": account_id,
                "UsageType": "APS2-BoxUsage:p3.8xlarge",
                "Impact": {"Contribution": total_impact},
            }
        ],
    )
    with sandbox.state.lock:
        sandbox.state.account(account_id).anomalies.append(anomaly)
    return anomaly.anomaly_id


def set_ses_enforcement(sandbox: Sandbox, account_id: str, region: str, status: str) -> None:
    """SESv2 GetAccount's EnforcementStatus in a region: HEALTHY, PROBATION or SHUTDOWN."""
    with sandbox.state.lock:
        sandbox.state.account(account_id).ses_by_region[region] = SesAccount(
            enforcement_status=status,
            sending_enabled=status != "SHUTDOWN",
            production_access_enabled=True,
            max_24_hour_send=50000.0,
            max_send_rate=14.0,
            sent_last_24_hours=12000.0,
        )


def set_root_security(
    sandbox: Sandbox, account_id: str, *, mfa: bool, access_keys: bool = False, password: bool = True
) -> None:
    """The root user's MFA, access keys and password, as the credential report's root row and
    GetAccountSummary show them. ``password=False, mfa=False`` is a root managed centrally by the
    organization (or never given a password)."""
    with sandbox.state.lock:
        state = sandbox.state.account(account_id)
        state.root_mfa, state.root_access_keys, state.root_password = mfa, access_keys, password


def age_credential_report(sandbox: Sandbox, account_id: str, hours: float) -> None:
    """Make the account's last credential report ``hours`` older (AWS regenerates after 4 hours)."""
    with sandbox.state.lock:
        report = sandbox.state.account(account_id).credential_report
        if report is not None:
            report.started_at -= timedelta(hours=hours)


def add_organization_trail(
    sandbox: Sandbox,
    account_id: str,
    management_account: str,
    name: str = "aws-controltower-BaselineCloudTrail",
    home_region: str = "us-east-1",
    *,
    logging: bool = True,
) -> str:
    """The organization's trail (created in the management account) as member ``account_id`` sees it."""
    trail = OrganizationTrail(name, management_account, home_region, logging)
    with sandbox.state.lock:
        sandbox.state.account(account_id).organization_trails.append(trail)
    return trail.arn


def deny_region_by_scp(sandbox: Sandbox, account_id: str, region: str) -> None:
    """A service control policy denying every action in ``region`` (a common region guard)."""
    with sandbox.state.lock:
        sandbox.state.account(account_id).scp_denied_regions.add(region)


def role_lacks(sandbox: Sandbox, account_id: str, *actions: str) -> None:
    """The account's Vigilare role does not grant ``actions`` ("ec2:DescribeFleets"): it was set up
    from an older onboarding policy."""
    with sandbox.state.lock:
        sandbox.state.account(account_id).role_lacks.update(actions)


def add_cost_lines(sandbox: Sandbox, account_id: str, lines: list[CostLine]) -> None:
    """Cost and usage lines (with record types: Usage, Credit, Refund...) Cost Explorer answers from."""
    with sandbox.state.lock:
        sandbox.state.account(account_id).cost_lines.extend(lines)


def add_write_call(
    sandbox: Sandbox,
    account_id: str,
    event_name: str,
    event_source: str,
    request_parameters: dict[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    user_name: str = "ci-deploy",
    access_key_id: str = "AKIAIOSFODNN7EXAMPLE",
    root: bool = False,
    error_code: str | None = None,
    when: datetime | None = None,
    source_ip: str = "203.0.113.77",
) -> str:
    """A write call as CloudTrail event history records it (global-service calls such as IAM's in
    us-east-1, as AWS records them); returns its EventId."""
    if root:
        identity: dict[str, Any] = {
            "type": "Root",
            "principalId": account_id,
            "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id,
            "accessKeyId": access_key_id,
        }
    else:
        identity = iam_user_identity(account_id, user_name, access_key_id)
    extra: dict[str, Any] = {"requestParameters": request_parameters}
    if error_code is not None:
        extra["errorCode"] = error_code
        extra["errorMessage"] = f"{error_code} for {event_name}"
    return add_trail_event(
        sandbox,
        account_id,
        region,
        event_name,
        event_source,
        identity,
        source_ip,
        when=when or _now() - timedelta(hours=2),
        extra=extra,
        username=None if root else user_name,
    )


def set_contact_information(sandbox: Sandbox, account_id: str, **fields: str) -> None:
    """Change the account's primary contact (GetContactInformation's fields), as PutContactInformation
    would; unset fields keep the default contact's values."""
    from vigilare_sandbox.fake_account import DEFAULT_CONTACT

    with sandbox.state.lock:
        account = sandbox.state.account(account_id)
        current = dict(account.contact_information or DEFAULT_CONTACT)
        current.update(fields)
        account.contact_information = current
