"""Built-in ``iam`` scenario: quarantined keys, root credentials, stale keys, new administrators.

Root state: GetAccountSummary's flags are live and win (the credential report may be up to 4 hours
old: a root key created since shows only in the summary); the report's ``<root_account>`` row adds
the keys' dates, and stands in when the summary could not be read. A root with no password and no
keys (``AccountPasswordPresent`` 0: managed centrally by the organization) needs no MFA. moto's
summary always says "root MFA off" and has no ``AccountPasswordPresent``, so on moto itself every
account gets ``root_mfa_disabled`` (the sandbox's gateway answers as AWS does).

:class:`IamEventHandler` reads IAM API calls as EventBridge delivers them via CloudTrail. A
quarantine policy attached is reported at once, through this scenario (the same signal as the
scan's); the other calls that matter (users, keys and login profiles created, MFA deactivated,
policies attached) change state the scan judges as a whole, so they ask for a scan now. Resolve rule:
as for scanned signals, the first complete scan that no longer sees the state resolves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin import (
    AwsEvent,
    CollectedData,
    EventContext,
    EventHandler,
    EventResult,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    day_of,
    days_text,
    grants_everything,
    hookimpl,
    hours_ago,
    iso_utc,
    masked_key,
    minute_of,
    policy_statements,
    whole_days,
)

ACCESS_KEY_MAX_AGE = timedelta(days=90)
ACCESS_KEY_MAX_IDLE = timedelta(days=45)
NEW_PRINCIPAL_WINDOW = timedelta(hours=24)
ADMINISTRATOR_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ROOT_REPORT_USER = "<root_account>"


class IamScenario(Scenario):
    id = "iam"
    title = "Compromised or risky IAM credentials"
    requires = ("iam.quarantine_attachments", "iam.account_summary", "iam.credential_report", "iam.users")
    emits = {
        "quarantine_policy": (Severity.CRITICAL,),
        "root_access_keys": (Severity.CRITICAL,),
        "root_mfa_disabled": (Severity.CRITICAL,),
        "access_key_old": (Severity.MEDIUM,),
        "access_key_unused": (Severity.MEDIUM,),
        "access_keys_duplicate": (Severity.MEDIUM,),
        "new_admin_user": (Severity.HIGH,),
    }
    remediation = (
        "Follow AWS's compromised-credentials steps: do not detach a quarantine policy before the AWS "
        "case is answered; rotate keys (create, deploy, disable old, verify, delete); delete root keys "
        "and enable root MFA; delete users and keys you did not create."
    )
    docs_url = "https://repost.aws/knowledge-center/potential-account-compromise"

    async def detect(self, data: CollectedData) -> list[Finding]:
        now = data.collected_at
        account = data.account_id
        findings: list[Finding] = []
        if "iam.quarantine_attachments" in data:
            findings += self._quarantined(account, data["iam.quarantine_attachments"])
        root_row = _root_row(data.get("iam.credential_report"))
        summary = data.get("iam.account_summary")
        if root_row is not None or summary is not None:
            findings += self._root(account, root_row, summary, now)
        if "iam.users" in data:
            users = data["iam.users"]
            for user in users.get("users", []):
                findings += self._access_keys(user, now)
            findings += self._new_admins(users, now)
        return findings

    def _quarantined(self, account: str, attachments: dict[str, dict[str, list[str]]]) -> list[Finding]:
        policies_by_entity: dict[tuple[str, str], list[str]] = {}
        for policy_arn, entities in sorted(attachments.items()):
            for entity_type, names in entities.items():
                for name in names:
                    policies_by_entity.setdefault((entity_type.rstrip("s"), name), []).append(policy_arn)
        findings = []
        for (entity_type, name), policy_arns in sorted(policies_by_entity.items()):
            policy_names = ", ".join(arn.rsplit("/", 1)[-1] for arn in policy_arns)
            findings.append(
                self.finding(
                    kind="quarantine_policy",
                    severity=Severity.CRITICAL,
                    title=f"AWS quarantined {entity_type} {name}: {policy_names} is attached",
                    description=(
                        f"{policy_names} is attached to {entity_type} {name} in account {account}. AWS "
                        "attaches it when it finds this principal's access key exposed or compromised, and "
                        "opens a case with a deadline; AWS does not say since when, it was seen attached "
                        "at this scan. Answer the AWS case before the deadline and do not detach the policy."
                    ),
                    resource=f"arn:aws:iam::{account}:{entity_type}/{name}",
                    details={
                        "policy_arns": policy_arns,
                        "principal_type": entity_type,
                        "principal": name,
                        "act_on": [f"{entity_type} {name} (and its access keys)"],
                    },
                )
            )
        return findings

    def _root(
        self, account: str, root_row: dict[str, str] | None, summary: dict[str, int] | None, now: datetime
    ) -> list[Finding]:
        """Root access keys and MFA as they are now: GetAccountSummary is live; the credential
        report may be up to 4 hours old, so it only adds the keys' dates (or stands in when the
        summary could not be read)."""
        resource = f"arn:aws:iam::{account}:root"
        report_slots = (
            [slot for slot in ("1", "2") if root_row.get(f"access_key_{slot}_active") == "true"]
            if root_row is not None
            else []
        )
        if summary is not None:
            source = "the IAM account summary"
            has_keys = bool(summary.get("AccountAccessKeysPresent"))
            mfa_off = not summary.get("AccountMFAEnabled")
            # Absent from the summary (older answers): assume a password, as AWS's default root has.
            has_password = bool(summary.get("AccountPasswordPresent", 1))
        else:
            assert root_row is not None
            source = "the credential report"
            has_keys = bool(report_slots)
            mfa_off = root_row.get("mfa_active") != "true"
            has_password = True
        findings = []
        if has_keys:
            row = root_row or {}
            created = [as_datetime(row.get(f"access_key_{slot}_last_rotated")) for slot in report_slots]
            oldest = min((moment for moment in created if moment is not None), default=None)
            if oldest:
                since = f", the oldest created on {day_of(oldest)} ({days_text(whole_days(oldest, now))} ago)"
            elif root_row is not None and summary is not None:
                since = " (created after the last credential report, so within the last 4 hours)"
            else:
                since = ""
            findings.append(
                self.finding(
                    kind="root_access_keys",
                    severity=Severity.CRITICAL,
                    title=f"Root user of account {account} has active access keys",
                    description=(
                        f"According to {source} at this scan ({minute_of(now)}), the root user of account "
                        f"{account} has active access keys{since}. A leaked root key gives full, "
                        "unrestrictable control of the account. Delete the root access keys; use IAM "
                        "roles instead."
                    ),
                    resource=resource,
                    details={
                        "source": source,
                        "active_key_slots": report_slots,
                        "oldest_key_created": iso_utc(oldest),
                    },
                )
            )
        # A root without a password and without keys (managed centrally by the organization, or
        # never given a password) cannot sign in at all: no MFA is needed.
        if mfa_off and (has_password or has_keys):
            findings.append(
                self.finding(
                    kind="root_mfa_disabled",
                    severity=Severity.CRITICAL,
                    title=f"Root user of account {account} has no MFA",
                    description=(
                        f"According to {source} at this scan ({minute_of(now)}), the root user of account "
                        f"{account} signs in without multi-factor authentication: a stolen root password is "
                        "enough to take over the account. Enable MFA on the root user."
                    ),
                    resource=resource,
                    details={"source": source},
                )
            )
        return findings

    def _access_keys(self, user: dict[str, Any], now: datetime) -> list[Finding]:
        name, arn = user["UserName"], user["Arn"]
        active = [key for key in user.get("AccessKeys", []) if key.get("Status") == "Active"]
        findings = []
        for key in active:
            key_id = key["AccessKeyId"]
            created = as_datetime(key.get("CreateDate"))
            last_used = as_datetime(key.get("LastUsedDate"))
            details = {
                "user": name,
                "access_key_id": key_id,
                "created": iso_utc(created),
                "last_used": iso_utc(last_used),
                "act_on": [f"access key {key_id} of user {name}"],
            }
            if created is not None and now - created > ACCESS_KEY_MAX_AGE:
                age = whole_days(created, now)
                findings.append(
                    self.finding(
                        kind="access_key_old",
                        severity=Severity.MEDIUM,
                        title=(
                            f"Access key {masked_key(key_id)} of user {name} not rotated for {days_text(age)}"
                        ),
                        description=(
                            f"Active access key {key_id} of IAM user {name} was created on {day_of(created)} "
                            f"and has not been rotated for {days_text(age)} (limit 90 days). "
                            "Old keys are the ones that leak: create a new key, deploy it, then disable and "
                            "delete this one."
                        ),
                        resource=key_id,
                        details={**details, "age_days": age},
                    )
                )
            idle_since = last_used or created
            if idle_since is not None and now - idle_since > ACCESS_KEY_MAX_IDLE:
                idle = whole_days(idle_since, now)
                when = (
                    f"was last used on {day_of(last_used)}"
                    if last_used
                    else f"has never been used since it was created on {day_of(idle_since)}"
                )
                findings.append(
                    self.finding(
                        kind="access_key_unused",
                        severity=Severity.MEDIUM,
                        title=f"Access key {masked_key(key_id)} of user {name} unused for {days_text(idle)}",
                        description=(
                            f"Active access key {key_id} of IAM user {name} {when}: "
                            f"unused for {days_text(idle)} (limit 45 days). An unused key is pure risk: "
                            "disable it, then delete it."
                        ),
                        resource=key_id,
                        details={**details, "unused_days": idle},
                    )
                )
        if len(active) >= 2:
            created_dates = [as_datetime(key.get("CreateDate")) for key in active]
            newest = max((moment for moment in created_dates if moment is not None), default=None)
            since = f" since {day_of(newest)}" if newest else ""
            key_ids = [key["AccessKeyId"] for key in active]
            findings.append(
                self.finding(
                    kind="access_keys_duplicate",
                    severity=Severity.MEDIUM,
                    title=f"User {name} has {len(active)} active access keys{since}",
                    description=(
                        f"IAM user {name} has {len(active)} active access keys "
                        f"({', '.join(masked_key(key_id) for key_id in key_ids)}){since}. A second key is "
                        "either a rotation left half-done or a key someone else created: keep one."
                    ),
                    resource=arn,
                    details={
                        "user": name,
                        "access_key_ids": key_ids,
                        "act_on": [f"access key {key_id} of user {name}" for key_id in key_ids],
                    },
                )
            )
        return findings

    def _new_admins(self, users: dict[str, Any], now: datetime) -> list[Finding]:
        findings = []
        for user in users.get("users", []):
            if not is_administrator(user, users.get("groups", {}), users.get("policies", {})):
                continue
            name = user["UserName"]
            created = as_datetime(user.get("CreateDate"))
            if created is not None and now - created <= NEW_PRINCIPAL_WINDOW:
                findings.append(
                    self.finding(
                        kind="new_admin_user",
                        severity=Severity.HIGH,
                        title=f"New administrator user {name} created {hours_ago(created, now)}",
                        description=(
                            f"IAM user {name} was created on {minute_of(created)} "
                            f"({hours_ago(created, now)}) with administrator permissions. Attackers create "
                            "such users to keep access: "
                            "if nobody on your team created it, delete it and rotate every credential."
                        ),
                        resource=user["Arn"],
                        details={"user": name, "created": iso_utc(created)},
                    )
                )
                continue
            # An existing administrator given a fresh key is the same persistence move.
            for key in user.get("AccessKeys", []):
                key_created = as_datetime(key.get("CreateDate"))
                if (
                    key.get("Status") == "Active"
                    and key_created
                    and now - key_created <= NEW_PRINCIPAL_WINDOW
                ):
                    key_id = key["AccessKeyId"]
                    findings.append(
                        self.finding(
                            kind="new_admin_user",
                            severity=Severity.HIGH,
                            title=(
                                f"New access key {masked_key(key_id)} for administrator {name} created "
                                f"{hours_ago(key_created, now)}"
                            ),
                            description=(
                                f"Access key {key_id} was created for IAM user {name}, an administrator, on "
                                f"{minute_of(key_created)}. If nobody on your team created it, disable it "
                                "now."
                            ),
                            resource=key_id,
                            details={"user": name, "access_key_id": key_id, "created": iso_utc(key_created)},
                        )
                    )
        return findings


def is_administrator(user: dict[str, Any], groups: dict[str, Any], policies: dict[str, Any]) -> bool:
    """AdministratorAccess, or any policy allowing ``"Action": "*"``, on the user or one of its groups."""
    holders = [user, *(groups.get(group, {}) for group in user.get("Groups", []))]
    for holder in holders:
        for attached in holder.get("AttachedPolicies", []):
            arn = attached.get("PolicyArn", "")
            if arn == ADMINISTRATOR_POLICY_ARN:
                return True
            if any(grants_everything(statement) for statement in policy_statements(policies.get(arn))):
                return True
        for document in holder.get("InlinePolicies", {}).values():
            if any(grants_everything(statement) for statement in policy_statements(document)):
                return True
    return False


def _root_row(report: Any) -> dict[str, str] | None:
    for row in report or []:
        if row.get("user") == ROOT_REPORT_USER:
            return dict(row)
    return None


QUARANTINE_POLICY_PREFIX = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"
# The policy-attaching calls and the request parameter naming the principal, per principal type.
ATTACH_CALLS = {
    "AttachUserPolicy": ("users", "userName"),
    "AttachGroupPolicy": ("groups", "groupName"),
    "AttachRolePolicy": ("roles", "roleName"),
}
RESCAN_CALLS = frozenset(
    {
        "CreateUser",
        "CreateAccessKey",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "DeactivateMFADevice",
        "DeleteVirtualMFADevice",
        "AttachUserPolicy",
        "AttachGroupPolicy",
        "AttachRolePolicy",
        "PutUserPolicy",
        "PutGroupPolicy",
        "PutRolePolicy",
        "AddUserToGroup",
    }
)


class IamEventHandler(EventHandler):
    """IAM API calls as EventBridge delivers them via CloudTrail (recorded in us-east-1)."""

    id = "iam-activity"
    scenario = "iam"
    sources = ("aws.iam",)
    detail_types = ("AWS API Call via CloudTrail",)
    resolve_rule = "the first complete scan that no longer sees the state (e.g. the policy detached)"

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        record = event.detail
        name = str(record.get("eventName", ""))
        if record.get("errorCode"):
            return EventResult(note=f"{name} failed ({record['errorCode']}): nothing changed")
        if name not in RESCAN_CALLS:
            return EventResult(note=f"{name}: nothing this scenario reports")
        parameters = record.get("requestParameters") or {}
        policy_arn = str(parameters.get("policyArn", ""))
        if name in ATTACH_CALLS and policy_arn.startswith(QUARANTINE_POLICY_PREFIX):
            principal_type, parameter = ATTACH_CALLS[name]
            attachments = {policy_arn: {principal_type: [str(parameters.get(parameter, ""))]}}
            findings = await ctx.detect({"iam.quarantine_attachments": attachments})
            return EventResult(findings=tuple(findings), rescan=True, note=f"{name}: quarantine policy")
        return EventResult(rescan=True, note=f"{name}: the account is scanned now")


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [IamScenario]


@hookimpl
def vigilare_event_handlers() -> list[type[EventHandler]]:
    return [IamEventHandler]
