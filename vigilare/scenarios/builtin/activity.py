"""Built-in ``activity`` scenario: risky write calls of the last 24 hours in CloudTrail event history.

One finding per thing changed (a user, a role, a detector, a region), naming every call on it, who
made it and from where. Calls AWS refused (``errorCode``) changed nothing and are left out.

- ``iam_persistence_change``: users created, access keys created for *another* user, console
  passwords created or changed, MFA devices deactivated, AdministratorAccess attached, a role's
  trust policy changed. HIGH; CRITICAL when the root user made the call.
- ``detection_disabled``: a GuardDuty detector deleted or disabled (``UpdateDetector`` with
  ``enable`` false), VPC flow logs deleted. HIGH; CRITICAL by the root user.
- ``region_enabled``: an opt-in region enabled (``account:EnableRegion``): where attackers run
  capacity nobody watches. HIGH.
- ``left_organization``: the account left its AWS Organization, and with it the organization's
  service control policies and central logging. CRITICAL.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin import (
    CollectedData,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    grants_everything,
    hookimpl,
    masked_key,
    minute_of,
    policy_statements,
)

WINDOW = timedelta(hours=24)
ADMIN_POLICY_ARNS = {"arn:aws:iam::aws:policy/AdministratorAccess"}
CLOUDTRAIL_DOCS = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html"
_IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide"
_IAM_EVENTS = {
    "CreateUser",
    "CreateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeactivateMFADevice",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "UpdateAssumeRolePolicy",
}
_MAX_CALLS_LISTED = 5


def _actor(record: dict[str, Any]) -> str:
    identity = record.get("userIdentity") or {}
    if identity.get("type") == "Root":
        who = "the root user"
    else:
        who = str(identity.get("arn") or identity.get("userName") or identity.get("type") or "unknown")
    key = identity.get("accessKeyId")
    if key and not str(key).startswith("ASIA"):
        who += f" (key {masked_key(str(key))})"
    return f"{who} from {record.get('sourceIPAddress', 'an unknown address')}"


def _is_root(record: dict[str, Any]) -> bool:
    return (record.get("userIdentity") or {}).get("type") == "Root"


def _flow_log_ids(value: Any) -> list[str]:
    """Flow log ids anywhere in DeleteFlowLogs' request parameters (EC2 logs them nested)."""
    if isinstance(value, str):
        return [value] if value.startswith("fl-") else []
    if isinstance(value, dict):
        return [found for item in value.values() for found in _flow_log_ids(item)]
    if isinstance(value, list):
        return [found for item in value for found in _flow_log_ids(item)]
    return []


def _iam_target(account: str, record: dict[str, Any]) -> str | None:
    """The IAM resource a risky IAM call changed, or None when the call is not risky."""
    name = record.get("eventName")
    params = record.get("requestParameters") or {}
    identity = record.get("userIdentity") or {}
    if name == "CreateAccessKey":
        user = params.get("userName")
        # A key for oneself (no userName, or one's own) is routine rotation; for another user, a back door.
        if not user or user == identity.get("userName"):
            return None
        return f"arn:aws:iam::{account}:user/{user}"
    if name in ("CreateUser", "CreateLoginProfile", "UpdateLoginProfile", "DeactivateMFADevice"):
        user = params.get("userName") or identity.get("userName")
        return f"arn:aws:iam::{account}:user/{user}" if user else f"arn:aws:iam::{account}:root"
    if name in ("AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy"):
        if params.get("policyArn") not in ADMIN_POLICY_ARNS:
            return None
        for field, kind in (("userName", "user"), ("roleName", "role"), ("groupName", "group")):
            if params.get(field):
                return f"arn:aws:iam::{account}:{kind}/{params[field]}"
        return None
    if name == "UpdateAssumeRolePolicy":
        return f"arn:aws:iam::{account}:role/{params.get('roleName')}"
    return None


def _describe_call(record: dict[str, Any]) -> str:
    name = str(record.get("eventName"))
    params = record.get("requestParameters") or {}
    if name.startswith("Attach"):
        name += f" {str(params.get('policyArn', '')).rsplit('/', 1)[-1]}"
    if name == "UpdateAssumeRolePolicy":
        document = params.get("policyDocument")
        try:
            parsed = json.loads(document) if isinstance(document, str) else document
        except ValueError:
            parsed = None
        if any(grants_everything(statement) for statement in policy_statements(parsed)):
            name += " (allows everything)"
    moment = as_datetime(record.get("eventTime"))
    when = minute_of(moment) if moment else "at an unknown time"
    return f"{name} at {when} by {_actor(record)}"


class ActivityScenario(Scenario):
    id = "activity"
    title = "Risky changes made in the last 24 hours (CloudTrail)"
    requires = ("cloudtrail.write_events",)
    emits = {
        "iam_persistence_change": (Severity.CRITICAL, Severity.HIGH),
        "detection_disabled": (Severity.CRITICAL, Severity.HIGH),
        "region_enabled": (Severity.HIGH,),
        "left_organization": (Severity.CRITICAL,),
    }
    remediation = (
        "Confirm each change was made by your team. If not, undo it (delete the user, key or login "
        "profile; detach the policy; restore the trust policy; turn detection back on), then rotate the "
        "credentials that made it: they are compromised."
    )
    docs_url = CLOUDTRAIL_DOCS

    async def detect(self, data: CollectedData) -> list[Finding]:
        now = data.collected_at
        account = data.account_id
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for region, bundle in sorted(data.per_region("cloudtrail.write_events").items()):
            for record in (bundle or {}).get("events") or []:
                moment = as_datetime(record.get("eventTime"))
                if moment is None or now - moment > WINDOW or moment > now + timedelta(minutes=5):
                    continue
                if record.get("errorCode"):
                    continue  # refused: nothing changed
                target = self._target(account, region, record)
                if target is not None:
                    groups[target].append(record)
        findings = []
        for (kind, region, resource), records in sorted(groups.items()):
            records.sort(key=lambda record: str(record.get("eventTime")))
            findings.append(self._finding(account, kind, region, resource, records, now))
        return findings

    def _target(self, account: str, region: str, record: dict[str, Any]) -> tuple[str, str, str] | None:
        name = record.get("eventName")
        params = record.get("requestParameters") or {}
        event_region = str(record.get("awsRegion") or region)
        if name in _IAM_EVENTS:
            resource = _iam_target(account, record)
            return ("iam_persistence_change", "global", resource) if resource else None
        if name == "DeleteDetector" or (name == "UpdateDetector" and params.get("enable") is False):
            detector = params.get("detectorId", "*")
            return (
                "detection_disabled",
                event_region,
                f"arn:aws:guardduty:{event_region}:{account}:detector/{detector}",
            )
        if name == "DeleteFlowLogs":
            ids = ",".join(sorted(_flow_log_ids(params))) or "*"
            return (
                "detection_disabled",
                event_region,
                f"arn:aws:ec2:{event_region}:{account}:flow-log/{ids}",
            )
        if name == "EnableRegion":
            enabled = params.get("regionName") or params.get("RegionName") or "unknown"
            return ("region_enabled", str(enabled), f"arn:aws:account::{account}:region/{enabled}")
        if name == "LeaveOrganization":
            return ("left_organization", "global", f"arn:aws:organizations::{account}:account")
        return None

    def _finding(
        self,
        account: str,
        kind: str,
        region: str,
        resource: str,
        records: list[dict[str, Any]],
        now: datetime,
    ) -> Finding:
        by_root = any(_is_root(record) for record in records)
        calls = "; ".join(_describe_call(record) for record in records[:_MAX_CALLS_LISTED])
        if len(records) > _MAX_CALLS_LISTED:
            calls += f"; and {len(records) - _MAX_CALLS_LISTED} more"
        names = sorted({str(record.get("eventName")) for record in records})
        target = resource.rsplit(":", 1)[-1]
        details = {"calls": records, "event_names": names}
        checked = minute_of(now)
        if kind == "iam_persistence_change":
            return self.finding(
                kind=kind,
                severity=Severity.CRITICAL if by_root else Severity.HIGH,
                title=f"{', '.join(names)} on {target} in the last 24 hours",
                description=(
                    f"CloudTrail recorded {len(records)} change(s) to {target} in account {account} "
                    f"(checked {checked}): {calls}. Attackers create users, keys, console passwords and "
                    "admin grants, or loosen a role's trust, to keep access after the first key is "
                    "deleted. Confirm your team made these changes."
                ),
                resource=resource,
                remediation=(
                    f"If not yours: delete what was created on {target} (access keys, login profile, "
                    "user), detach AdministratorAccess, restore the role's trust policy, re-enable MFA, "
                    "and rotate the credentials that made the calls."
                ),
                docs_url=f"{_IAM}/id_users_remove.html",
                details=details,
            )
        if kind == "detection_disabled":
            return self.finding(
                kind=kind,
                severity=Severity.CRITICAL if by_root else Severity.HIGH,
                title=f"{', '.join(names)} in {region} in the last 24 hours",
                description=(
                    f"Someone switched detection off in {region} for account {account} (checked "
                    f"{checked}): {calls}. Deleting GuardDuty detectors or flow logs is how attackers "
                    "hide what they do next."
                ),
                resource=resource,
                region=region,
                remediation=(
                    f"Re-create the GuardDuty detector or flow logs in {region}, and find out who removed "
                    "them; rotate their credentials unless it was planned."
                ),
                docs_url="https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_settingup.html",
                details=details,
            )
        if kind == "region_enabled":
            return self.finding(
                kind=kind,
                severity=Severity.HIGH,
                title=f"Region {region} enabled in the last 24 hours",
                description=(
                    f"The opt-in region {region} was enabled for account {account}: {calls}. Attackers "
                    "enable regions nobody watches to run crypto-miners there. Confirm your team needs it."
                ),
                resource=resource,
                region=region,
                remediation=(
                    f"If nobody on your team enabled {region}, check it for instances, spot requests and "
                    "Lambda functions you did not create, then disable the region again."
                ),
                docs_url="https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html",
                details=details,
            )
        return self.finding(
            kind=kind,
            severity=Severity.CRITICAL,
            title=f"Account {account} left its AWS Organization in the last 24 hours",
            description=(
                f"LeaveOrganization was called for account {account}: {calls}. Outside the organization "
                "its service control policies, central CloudTrail and billing no longer apply: a "
                "common step before abusing a stolen account."
            ),
            resource=resource,
            remediation=(
                "If nobody planned it, secure the account's root user and credentials at once and ask the "
                "organization's management account to invite it back."
            ),
            docs_url="https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_leave-as-member.html",
            details=details,
        )


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [ActivityScenario]
