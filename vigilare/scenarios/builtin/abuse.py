"""Built-in ``abuse`` scenario: open AWS Health RISK and ABUSE events, the cases AWS suspends over.

On Basic and Developer support the Health API is closed: ``health.events`` is None, the
``health_api`` capability is recorded on the account, and no finding comes from here (the data is
marked incomplete, so open signals are not resolved); the ``iam`` quarantine-policy check stands in.

AWS delivers the same events to EventBridge on every support plan: :class:`HealthEventHandler`
reads them (pushed to Vigilare) and runs this scenario over the event, so a pushed case and a
scanned case are one signal. Resolve rule: an update of the event with ``statusCode`` ``closed``
resolves it; on Business support and above a scan no longer listing it open does too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigilare.plugin import (
    GLOBAL_REGION,
    AwsEvent,
    CollectedData,
    EventContext,
    EventHandler,
    EventResult,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    find_deadline,
    hookimpl,
    iso_utc,
    minute_of,
)

KINDS = {"RISK": "health_risk_event", "ABUSE": "health_abuse_event"}
EVENT_NAMES = {
    "AWS_RISK_CREDENTIALS_EXPOSED": "exposed access key",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED": "suspected exposed access key",
    "AWS_RISK_CREDENTIALS_COMPROMISED": "compromised access key",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED": "suspected compromised access key",
    "AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE": "compromised console sign-in",
    "AWS_RISK_IAM_QUARANTINE": "IAM quarantine applied",
    "AWS_ABUSE_DOS_REPORT": "denial-of-service report",
}
_MAX_ENTITIES_IN_TEXT = 5
_MAX_DESCRIPTION_QUOTE = 600


def event_name(code: str) -> str:
    """ "AWS_ABUSE_EC2_PORT_SCANNING_REPORT" -> "EC2 port scanning report" when not in the table."""
    if code in EVENT_NAMES:
        return EVENT_NAMES[code]
    words = code.removeprefix("AWS_").removeprefix("ABUSE_").removeprefix("RISK_").split("_")
    return " ".join(word if word in {"EC2", "DOS", "IAM", "S3"} else word.lower() for word in words)


def _entity_values(event: dict[str, Any]) -> list[str]:
    return [
        str(entity.get("entityValue") or entity.get("entityArn"))
        for entity in event.get("entities", [])
        if entity.get("entityValue") or entity.get("entityArn")
    ]


class AbuseScenario(Scenario):
    id = "abuse"
    title = "Open AWS risk and abuse cases"
    requires = ("health.events",)
    emits = {kind: (Severity.CRITICAL,) for kind in KINDS.values()}
    remediation = (
        "Open the event in the AWS Health Dashboard and its case in Support Center, note the deadline, fix "
        "what it names (rotate the exposed key, stop the reported activity on the listed resources) and "
        "reply in the case before the deadline. Do not remove a quarantine policy AWS attached."
    )
    docs_url = "https://repost.aws/knowledge-center/potential-account-compromise"

    async def detect(self, data: CollectedData) -> list[Finding]:
        events = data.get("health.events")
        if not events:
            return []  # None: the Health API is not on this support plan (see the account's capabilities)
        return [
            self._event(data.account_id, event)
            for event in events
            if event.get("service") in KINDS and event.get("statusCode") in ("open", "upcoming")
        ]

    def _event(self, account: str, event: dict[str, Any]) -> Finding:
        code = str(event.get("eventTypeCode", ""))
        name = event_name(code)
        started = as_datetime(event.get("startTime"))
        description = str(event.get("description", ""))
        deadline = find_deadline(description, event.get("metadata"))
        entities = _entity_values(event)
        region = str(event.get("region") or GLOBAL_REGION)
        where = "" if region == GLOBAL_REGION else f" in {region}"
        shown = ", ".join(entities[:_MAX_ENTITIES_IN_TEXT])
        if len(entities) > _MAX_ENTITIES_IN_TEXT:
            shown += f" and {len(entities) - _MAX_ENTITIES_IN_TEXT} more"
        about = f" about {shown}" if entities else ""
        by = f"answer AWS by {minute_of(deadline)}" if deadline else "answer AWS as soon as possible"
        kind_text = "risk case" if event.get("service") == "RISK" else "abuse report"
        since = f" since {minute_of(started)}" if started else ""
        title = f"AWS {kind_text}{where}: {name}{about} ({by})"
        text = [
            f"AWS Health has an open {kind_text} ({code}) for account {account}{where}{since}{about}.",
            _deadline_sentence(deadline),
            f'AWS wrote: "{_quote(description)}"' if description else "",
        ]
        return self.finding(
            kind=KINDS[str(event["service"])],
            severity=Severity.CRITICAL,
            title=title,
            description=" ".join(part for part in text if part),
            resource=str(event["arn"]),
            region=region,
            details={
                "event_arn": event["arn"],
                "event_type_code": code,
                "status": event.get("statusCode"),
                "started": iso_utc(started),
                "deadline": iso_utc(deadline),
                "affected_entities": entities,
                "aws_description": description,
                "act_on": _act_on(entities, region),
            },
        )


_ACCESS_KEY_PREFIXES = ("AKIA", "ASIA")


def _act_on(entities: list[str], region: str) -> list[str]:
    """The concrete things the case names: access keys (exposed-credentials cases), instances and
    other resources with their region; the case itself only when AWS named nothing."""
    names = []
    for entity in entities:
        if entity.startswith(_ACCESS_KEY_PREFIXES) and entity.isalnum():
            names.append(f"access key {entity}")
        elif ":instance/" in entity:
            instance_region = entity.split(":")[3] or region
            names.append(f"instance {entity.rsplit('/', 1)[-1]} in {instance_region}")
        elif region != GLOBAL_REGION and not entity.startswith("arn:"):
            names.append(f"{entity} in {region}")
        else:
            names.append(entity)
    return names


def _deadline_sentence(deadline: datetime | None) -> str:
    if deadline is None:
        return "AWS states no deadline in the event: check the case in Support Center and answer early."
    return (
        f"AWS's deadline is {minute_of(deadline)}: if nobody answers the case by then, AWS may suspend "
        "the account."
    )


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DESCRIPTION_QUOTE else text[: _MAX_DESCRIPTION_QUOTE - 3] + "..."


def _region_of(event: AwsEvent) -> str:
    """The region DescribeEvents gives the event: the one in its ARN (``arn:aws:health:<region>::``)."""
    parts = str(event.detail.get("eventArn", "")).split(":")
    if len(parts) > 3 and parts[3]:
        return parts[3]
    return str(event.detail.get("eventRegion") or event.region or GLOBAL_REGION)


def _description(detail: dict[str, Any]) -> str:
    descriptions = [item for item in detail.get("eventDescription") or [] if isinstance(item, dict)]
    english = [item for item in descriptions if str(item.get("language", "")).startswith("en")]
    chosen = (english or descriptions or [{}])[0]
    return str(chosen.get("latestDescription") or "")


def health_event_from(event: AwsEvent) -> dict[str, Any]:
    """An EventBridge AWS Health event in the shape the Health collector gives (DescribeEvents +
    DescribeEventDetails + DescribeAffectedEntities)."""
    detail = event.detail
    entities = [
        {"entityValue": str(entity["entityValue"]), "statusCode": entity.get("status")}
        for entity in detail.get("affectedEntities") or []
        if isinstance(entity, dict) and entity.get("entityValue")
    ]
    return {
        "arn": str(detail["eventArn"]),
        "service": detail.get("service"),
        "eventTypeCode": detail.get("eventTypeCode", ""),
        "eventTypeCategory": detail.get("eventTypeCategory"),
        "region": _region_of(event),
        "startTime": as_datetime(detail.get("startTime")),
        "lastUpdatedTime": as_datetime(detail.get("lastUpdatedTime")),
        # The first documented format has no statusCode: a case AWS sends is open until it says closed.
        "statusCode": str(detail.get("statusCode") or "open"),
        "description": _description(detail),
        "metadata": detail.get("eventMetadata") or {},
        "entities": entities,
    }


class HealthEventHandler(EventHandler):
    """AWS Health RISK and ABUSE events as EventBridge delivers them, on every support plan."""

    id = "aws-health"
    scenario = "abuse"
    sources = ("aws.health",)
    detail_types = ("AWS Health Event", "AWS Health Abuse Event")
    resolve_rule = (
        "an update of the event whose statusCode is closed; on Business support and above, also a scan "
        "that no longer lists the event open"
    )

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        detail = event.detail
        service = detail.get("service")
        if service not in KINDS or not detail.get("eventArn"):
            return EventResult(note=f"AWS Health {service or 'event'}: not a risk or abuse case")
        affected = detail.get("affectedAccount")
        if affected and str(affected) != ctx.account_id:
            return EventResult(note=f"about account {affected}, not this one")
        health_event = health_event_from(event)
        status = health_event["statusCode"]
        # The finding the case makes while open: its fingerprint is what a closed update resolves.
        as_open = status if status in ("open", "upcoming") else "open"
        findings = await ctx.detect({"health.events": [{**health_event, "statusCode": as_open}]})
        code = health_event["eventTypeCode"]
        if status == "closed":
            return EventResult(resolved=tuple(findings), note=f"{code} closed")
        page = f" (page {detail['page']} of {detail['totalPages']})" if detail.get("totalPages") else ""
        return EventResult(findings=tuple(findings), note=f"{code} {status}{page}")


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [AbuseScenario]


@hookimpl
def vigilare_event_handlers() -> list[type[EventHandler]]:
    return [HealthEventHandler]
