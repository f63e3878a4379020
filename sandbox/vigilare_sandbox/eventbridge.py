"""EventBridge's side of push, for tests, the demo and the benchmark: envelopes and an API destination.

:func:`envelope` builds an event as EventBridge delivers it (EventBridge User Guide, "Amazon
EventBridge events", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events.html);
:func:`health_event_envelope` renders a Health event of the sandbox's state the way AWS Health puts
it on EventBridge (AWS Health User Guide, "AWS Health events Amazon EventBridge schema",
https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html).
:class:`ApiDestination` posts an event as an API destination with an API key connection does: the
key in its header, and the headers EventBridge adds to every request (EventBridge User Guide, "API
destinations", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx

from vigilare_sandbox.fake_guardduty import finding_wire
from vigilare_sandbox.sandbox import Sandbox

# "EventBridge requests to an API destination endpoint must have a maximum client execution
# timeout of 5 seconds."
TIMEOUT_SECONDS = 5.0
HEADERS = {
    "User-Agent": "Amazon/EventBridge/ApiDestinations",
    "Content-Type": "application/json; charset=utf-8",
    "Range": "bytes=0-1048575",
    "Accept-Encoding": "gzip,deflate",
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    *,
    source: str,
    detail_type: str,
    account: str,
    region: str,
    detail: dict[str, Any],
    resources: list[str] | None = None,
    time: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": _iso(time or datetime.now(UTC)),
        "region": region,
        "resources": list(resources or []),
        "detail": detail,
    }


def _rfc1123(moment: datetime | None) -> str | None:
    return format_datetime(moment.astimezone(UTC), usegmt=True) if moment else None


def health_event_envelope(sandbox: Sandbox, account_id: str, event_arn: str) -> dict[str, Any]:
    """The sandbox's Health event ``event_arn`` as EventBridge delivers it (abuse cases with the
    detail type "AWS Health Abuse Event", others "AWS Health Event"); global events in us-east-1."""
    with sandbox.state.lock:
        account = sandbox.state.account(account_id)
        event = account.health_events[event_arn]
        entities = [entity for entity in account.affected_entities if entity.event_arn == event_arn]
    detail: dict[str, Any] = {
        "eventArn": event.arn,
        "service": event.service,
        "eventTypeCode": event.event_type_code,
        "eventTypeCategory": event.event_type_category,
        "eventScopeCode": event.event_scope_code,
        "communicationId": uuid.uuid4().hex,
        "startTime": _rfc1123(event.start_time),
        "lastUpdatedTime": _rfc1123(event.last_updated_time),
        "statusCode": event.status_code,
        "eventRegion": event.region,
        "eventDescription": [{"language": "en_US", "latestDescription": event.description}],
        "eventMetadata": dict(event.metadata),
        "affectedEntities": [
            {
                "entityValue": entity.entity_value,
                "lastUpdatedTime": _rfc1123(entity.last_updated_time),
                "status": entity.status_code,
            }
            for entity in entities
        ],
        "affectedAccount": account_id,
        "page": "1",
        "totalPages": "1",
    }
    if event.end_time is not None:
        detail["endTime"] = _rfc1123(event.end_time)
    abuse = event.service == "ABUSE"
    return envelope(
        source="aws.health",
        detail_type="AWS Health Abuse Event" if abuse else "AWS Health Event",
        account=account_id,
        region="us-east-1" if event.region == "global" else event.region,
        detail=detail,
        resources=[entity.entity_value for entity in entities],
        time=event.last_updated_time,
    )


def guardduty_finding_envelope(sandbox: Sandbox, account_id: str, finding_id: str) -> dict[str, Any]:
    """The sandbox's GuardDuty finding as EventBridge delivers it: the envelope of "Creating custom
    responses to GuardDuty findings with Amazon EventBridge" around the finding as GetFindings
    renders it (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_cloudwatch.html)."""
    with sandbox.state.lock:
        finding = sandbox.state.account(account_id).findings[finding_id]
        detail = finding_wire(finding)
    return envelope(
        source="aws.guardduty",
        detail_type="GuardDuty Finding",
        account=account_id,
        region=finding.region,
        detail=detail,
        time=finding.updated_at,
    )


def cloudtrail_envelope(sandbox: Sandbox, account_id: str, event_id: str) -> dict[str, Any]:
    """A CloudTrail event of the sandbox's history as EventBridge delivers it: the record as
    ``detail``, source ``aws.<service>``, detail type "AWS Console Sign In via CloudTrail" for a
    console sign-in and "AWS API Call via CloudTrail" otherwise (CloudWatch Events User Guide,
    "Events Delivered Via CloudTrail" and "AWS Management Console Sign-in Events",
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/events/EventTypes.html)."""
    with sandbox.state.lock:
        event = next(e for e in sandbox.state.account(account_id).trail_events if e.event_id == event_id)
        record = json.loads(json.dumps(event.record))
    sign_in = event.event_name == "ConsoleLogin"
    return envelope(
        source="aws." + event.event_source.split(".", 1)[0],
        detail_type="AWS Console Sign In via CloudTrail" if sign_in else "AWS API Call via CloudTrail",
        account=account_id,
        region=event.region,
        detail=record,
        time=event.event_time,
    )


@dataclass(frozen=True)
class ApiDestination:
    """An EventBridge API destination with an API key connection: where events go, with which key."""

    endpoint: str
    header_name: str
    secret: str

    def headers(self) -> dict[str, str]:
        return {**HEADERS, self.header_name: self.secret}

    def body(self, event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    def deliver(self, event: dict[str, Any]) -> httpx.Response:
        """POST one event, as EventBridge does (no retry here: the caller sees every answer)."""
        return httpx.post(
            self.endpoint, content=self.body(event), headers=self.headers(), timeout=TIMEOUT_SECONDS
        )

    async def deliver_async(self, client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
        return await client.post(
            self.endpoint, content=self.body(event), headers=self.headers(), timeout=TIMEOUT_SECONDS
        )
