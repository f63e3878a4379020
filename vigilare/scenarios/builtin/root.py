"""Built-in ``root`` scenario: root console sign-ins and CloudTrail silenced (stopped or deleted).

Root sign-ins are grouped per region and per kind (with MFA: ``root_login``; without:
``root_login_no_mfa``), so the signal stays open while a sign-in of the last 24 hours is in the
history and resolves the scan after it ages out. A stopped trail is reported from GetTrailStatus
(or, when the trail's status could not be read, from a StopLogging event); a deleted trail from a
DeleteTrail event of the last 7 days, unless a trail of that name exists again.

:class:`RootEventHandler` reads the same records as EventBridge pushes them (root console
sign-ins, StopLogging and DeleteTrail calls delivered via CloudTrail) and runs this scenario over
each, so a pushed sign-in and the scan's are one signal. Resolve rules: a sign-in signal resolves at
the first scan after the last root sign-in is 24 hours old; a stopped or deleted trail resolves at
the first scan that sees the trail logging again (StartLogging, CreateTrail and UpdateTrail calls
ask for that scan at once).
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
    hookimpl,
    iso_utc,
    minute_of,
)

LOGIN_WINDOW = timedelta(hours=24)
TRAIL_CHANGE_WINDOW = timedelta(days=7)
CLOUDTRAIL_DOCS = (
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-create-and-update-a-trail.html"
)
CLOUDTRAIL_REMEDIATION = (
    "Turn logging back on (or recreate the trail as a multi-region trail), then look in the CloudTrail "
    "event history for who did it and what else that identity did; if nobody on your team did it, "
    "disable that identity's credentials."
)


def _when(record: dict[str, Any]) -> datetime | None:
    return as_datetime(str(record.get("eventTime", "")).replace("Z", "+00:00"))


def _actor(record: dict[str, Any]) -> str:
    identity = record.get("userIdentity") or {}
    if identity.get("type") == "Root":
        return "the root user"
    name = identity.get("userName") or identity.get("arn") or identity.get("principalId") or "someone"
    key = f" (access key {identity['accessKeyId']})" if identity.get("accessKeyId") else ""
    return f"{name}{key}"


def trail_arn_of(record: dict[str, Any], account: str, region: str) -> str:
    for resource in record.get("resources") or []:
        arn = str(resource.get("ARN") or "")
        if arn.startswith("arn:aws:cloudtrail:"):
            return arn
    name = str((record.get("requestParameters") or {}).get("name") or "unknown")
    return name if name.startswith("arn:") else f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def _trail_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class RootScenario(Scenario):
    id = "root"
    title = "Root sign-ins and CloudTrail turned off"
    requires = ("cloudtrail.trails", "cloudtrail.events")
    emits = {
        "root_login": (Severity.HIGH,),
        "root_login_no_mfa": (Severity.CRITICAL,),
        "cloudtrail_stopped": (Severity.HIGH,),
        "trail_deleted": (Severity.HIGH,),
    }
    # Root sign-ins are read every scan; a silenced trail is judged with the trails' status.
    kind_requires = {
        "root_login": ("cloudtrail.events",),
        "root_login_no_mfa": ("cloudtrail.events",),
        "cloudtrail_stopped": ("cloudtrail.trails", "cloudtrail.events"),
        "trail_deleted": ("cloudtrail.trails", "cloudtrail.events"),
    }
    remediation = (
        "If nobody on your team signed in as root: change the root password (and the root mailbox's), "
        "enable root MFA, delete root access keys and review what was done in the CloudTrail event history. "
        "Use IAM roles for daily work, never root."
    )
    docs_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html"

    async def detect(self, data: CollectedData) -> list[Finding]:
        now = data.collected_at
        findings: list[Finding] = []
        for region, events in sorted(data.per_region("cloudtrail.events").items()):
            findings += self._root_logins(data.account_id, region, events.get("console_logins", []), now)
        # Judged with the trails' status where it was read (a scan reads it hourly: a scan without it
        # does not judge trails); an event gives none, and its record speaks alone.
        if "cloudtrail.trails" in data:
            findings += self._silenced_trails(data, now)
        return findings

    def _root_logins(
        self, account: str, region: str, records: list[dict[str, Any]], now: datetime
    ) -> list[Finding]:
        groups: dict[bool, list[tuple[datetime, dict[str, Any]]]] = {True: [], False: []}
        for record in records:
            when = _when(record)
            if (record.get("userIdentity") or {}).get("type") != "Root" or when is None:
                continue
            if (record.get("responseElements") or {}).get("ConsoleLogin", "Success") != "Success":
                continue  # a failed attempt did not get in
            if now - when > LOGIN_WINDOW or when > now + timedelta(minutes=5):
                continue
            # AWS's own examples write both "Yes" and "YES".
            mfa = str((record.get("additionalEventData") or {}).get("MFAUsed", "")).lower() == "yes"
            groups[mfa].append((when, record))
        findings = []
        for mfa, logins in groups.items():
            if not logins:
                continue
            logins.sort(key=lambda item: item[0])
            when, latest = logins[-1]
            source_ip = latest.get("sourceIPAddress", "an unknown address")
            mfa_text = "with MFA" if mfa else "without MFA"
            count = f" ({len(logins)} sign-ins in the last 24 hours)" if len(logins) > 1 else ""
            findings.append(
                self.finding(
                    kind="root_login" if mfa else "root_login_no_mfa",
                    severity=Severity.HIGH if mfa else Severity.CRITICAL,
                    title=(
                        f"Root account console login {mfa_text} from {source_ip} in {region} "
                        f"at {minute_of(when)}{count}"
                    ),
                    description=(
                        f"Someone signed in to the AWS console of account {account} as the root user "
                        f"{mfa_text}, from {source_ip} in {region} at {minute_of(when)}{count}. Root can do "
                        "anything, including closing the account; AWS advises never to use it for daily "
                        "work. "
                        + ("" if mfa else "Without MFA, the password alone was enough: it may be stolen. ")
                        + "If this was not someone on your team, treat the account as compromised."
                    ),
                    resource=f"arn:aws:iam::{account}:root",
                    region=region,
                    details={
                        "mfa_used": mfa,
                        "logins": [
                            {
                                "time": iso_utc(moment),
                                "source_ip": record.get("sourceIPAddress"),
                                "user_agent": record.get("userAgent"),
                                "event_id": record.get("eventID"),
                            }
                            for moment, record in logins
                        ],
                    },
                )
            )
        return findings

    def _silenced_trails(self, data: CollectedData, now: datetime) -> list[Finding]:
        account = data.account_id
        trails_by_arn: dict[str, tuple[str, dict[str, Any]]] = {
            trail["TrailARN"]: (region, trail) for region, trail in data.regional_items("cloudtrail.trails")
        }
        existing_names = {_trail_name(arn) for arn in trails_by_arn}
        # The latest StopLogging / DeleteTrail event per trail, for who and when.
        latest: dict[tuple[str, str], tuple[datetime, str, dict[str, Any]]] = {}
        for region, events in data.per_region("cloudtrail.events").items():
            for record in events.get("trail_changes", []):
                when = _when(record)
                if when is None or now - when > TRAIL_CHANGE_WINDOW:
                    continue
                key = (str(record.get("eventName")), trail_arn_of(record, account, region))
                if key not in latest or latest[key][0] < when:
                    latest[key] = (when, region, record)

        findings = []
        stopped: dict[str, tuple[str, datetime | None, dict[str, Any] | None]] = {}
        for arn, (region, trail) in trails_by_arn.items():
            if (trail.get("Status") or {}).get("IsLogging") is False:
                event = latest.get(("StopLogging", arn))
                since = as_datetime(trail["Status"].get("StopLoggingTime")) or (event[0] if event else None)
                stopped[arn] = (region, since, event[2] if event else None)
        read_regions = set(data.per_region("cloudtrail.trails"))
        for (name, arn), (when, region, record) in latest.items():
            # The trail's status wins; the event alone speaks only where the status could not be read.
            if name == "StopLogging" and region not in read_regions and ("DeleteTrail", arn) not in latest:
                stopped.setdefault(arn, (region, when, record))
        for arn, (region, since, record) in sorted(stopped.items()):
            findings.append(
                self._stopped(account, arn, region, since, record, trails_by_arn.get(arn, (region, {}))[1])
            )
        for (name, arn), (when, region, record) in sorted(latest.items()):
            if name == "DeleteTrail" and _trail_name(arn) not in existing_names:
                findings.append(self._deleted(account, arn, region, when, record))
        return findings

    def _stopped(
        self,
        account: str,
        arn: str,
        region: str,
        since: datetime | None,
        record: dict[str, Any] | None,
        trail: dict[str, Any] | None = None,
    ) -> Finding:
        name = _trail_name(arn)
        if trail and trail.get("OrganizationTrail"):
            name = f"{name} (organization trail of {trail.get('ManagedBy') or 'the management account'})"
        since_text = f" since {minute_of(since)}" if since else ""
        who = (
            f" {_actor(record)} stopped it from {record.get('sourceIPAddress', 'an unknown address')}."
            if record
            else ""
        )
        return self.finding(
            kind="cloudtrail_stopped",
            severity=Severity.HIGH,
            title=f"CloudTrail trail {name} in {region} is not logging{since_text}",
            description=(
                f"CloudTrail trail {name} (home region {region}) of account {account} has logging turned "
                f"off{since_text}: nothing done in the account is being recorded.{who} Attackers stop "
                "logging to hide what they do next."
            ),
            resource=arn,
            region=region,
            remediation=CLOUDTRAIL_REMEDIATION,
            docs_url=CLOUDTRAIL_DOCS,
            details={
                "trail_arn": arn,
                "stopped_at": iso_utc(since),
                "stopped_by": _actor(record) if record else None,
                "source_ip": record.get("sourceIPAddress") if record else None,
            },
        )

    def _deleted(
        self, account: str, arn: str, region: str, when: datetime, record: dict[str, Any]
    ) -> Finding:
        name = _trail_name(arn)
        source_ip = record.get("sourceIPAddress", "an unknown address")
        return self.finding(
            kind="trail_deleted",
            severity=Severity.HIGH,
            title=f"CloudTrail trail {name} deleted in {region} at {minute_of(when)}",
            description=(
                f"{_actor(record)} deleted CloudTrail trail {name} of account {account} in {region} at "
                f"{minute_of(when)}, from {source_ip}, and no trail of that name exists now. Deleting a "
                "trail is a common way to hide activity."
            ),
            resource=arn,
            region=region,
            remediation=CLOUDTRAIL_REMEDIATION,
            docs_url=CLOUDTRAIL_DOCS,
            details={
                "trail_arn": arn,
                "deleted_at": iso_utc(when),
                "deleted_by": _actor(record),
                "source_ip": record.get("sourceIPAddress"),
                "event_id": record.get("eventID"),
            },
        )


SIGN_IN_DETAIL_TYPES = ("AWS Console Sign In via CloudTrail", "AWS API Call via CloudTrail")
# Calls after which the scan must look again (it judges the trails' state, not the call).
RESCAN_CALLS = {"StartLogging", "CreateTrail", "UpdateTrail", "LeaveOrganization"}


class RootEventHandler(EventHandler):
    """Root console sign-ins and trails silenced, as EventBridge delivers them via CloudTrail."""

    id = "root-activity"
    scenario = "root"
    sources = ("aws.signin", "aws.cloudtrail", "aws.organizations")
    detail_types = SIGN_IN_DETAIL_TYPES
    resolve_rule = (
        "a root sign-in: the first scan after it is 24 hours old; a stopped or deleted trail: the first "
        "scan that sees it logging again (StartLogging, CreateTrail and UpdateTrail calls ask for that "
        "scan at once)"
    )

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        record = dict(event.detail)
        name = str(record.get("eventName", ""))
        if record.get("errorCode"):
            return EventResult(note=f"{name} failed ({record['errorCode']}): nothing changed")
        region = str(record.get("awsRegion") or event.region)
        if name == "ConsoleLogin":
            trail_data = {"console_logins": [record], "trail_changes": []}
        elif name in ("StopLogging", "DeleteTrail"):
            trail_data = {"console_logins": [], "trail_changes": [record]}
        elif name in RESCAN_CALLS:
            return EventResult(rescan=True, note=f"{name}: the account is scanned now")
        else:
            return EventResult(note=f"{name or event.detail_type}: nothing this scenario reports")
        # The event's region only: with no trail status read, the scenario judges from the record itself.
        findings = await ctx.detect(
            regional={"cloudtrail.events": {region: trail_data}, "cloudtrail.trails": {}}
        )
        if not findings:
            return EventResult(note=f"{name}: nothing to report (not root, failed, or older than the window)")
        return EventResult(findings=tuple(findings), note=f"{name} in {region}")


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [RootScenario]


@hookimpl
def vigilare_event_handlers() -> list[type[EventHandler]]:
    return [RootEventHandler]
