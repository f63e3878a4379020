"""Built-in ``abuse`` scenario: open AWS Health RISK and ABUSE events, the cases AWS suspends over.

On Basic and Developer support the Health API is closed: ``health.events`` is None, the
``health_api`` capability is recorded on the account, and no finding comes from here (the data is
marked incomplete, so open signals are not resolved); the ``iam`` quarantine-policy check stands in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigilare.plugin import (
    GLOBAL_REGION,
    CollectedData,
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
            },
        )


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


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [AbuseScenario]
