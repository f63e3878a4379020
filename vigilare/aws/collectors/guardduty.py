"""GuardDuty per enabled region: each detector's status and its open high-risk findings.

Findings are polled incrementally: ListFindings asks only for findings updated since the last poll
(kept in the scan state, per detector). Findings still open from earlier scans are carried in the
state by id and re-read with GetFindings, so one that did not change stays open, and one archived
or deleted since drops out.

Each finding is a plain dict with GuardDuty's own field names, plus ``CriticalType``: True when its
type is one Vigilare treats as critical whatever GuardDuty's severity says (crypto-mining, instance
credential exfiltration, root credential use, attack sequences). Scenarios read that field rather
than knowing the list.

GuardDuty also pushes each finding to EventBridge (the ``detail`` is one finding in GetFindings'
wire names): :class:`GuardDutyFindingHandler` turns it into this collector's shape and runs the
``threat`` scenario over it, so a pushed finding and a scanned one are one signal. Resolve rule: a
finding event with ``service.archived`` true resolves it, as does a scan that no longer reads it
open. :class:`GuardDutyApiCallHandler` reads detector changes delivered via CloudTrail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vigilare.plugin import (
    AwsEvent,
    Collector,
    CollectorContext,
    EventContext,
    EventHandler,
    EventResult,
)

HIGH_SEVERITY = 7  # GuardDuty criteria take whole numbers: 7 is the start of its High band
# Types that matter whatever GuardDuty's severity says (some are Low or Medium by default), asked
# for by name since finding criteria cannot match a prefix.
CRITICAL_TYPES = (
    "Policy:IAMUser/RootCredentialUsage",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "CryptoCurrency:EC2/BitcoinTool.B",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "CryptoCurrency:Lambda/BitcoinTool.B",
    "CryptoCurrency:Runtime/BitcoinTool.B",
    "CryptoCurrency:Runtime/BitcoinTool.B!DNS",
)
# Ask again a little before the last poll: a finding updated while that poll ran is not missed.
POLL_OVERLAP = timedelta(minutes=5)
_GET_FINDINGS_LIMIT = 50


def is_critical_type(finding_type: str) -> bool:
    return (
        finding_type.startswith(("CryptoCurrency:", "AttackSequence:"))
        or "InstanceCredentialExfiltration" in finding_type
        or finding_type == "Policy:IAMUser/RootCredentialUsage"
    )


def is_reportable(finding: dict[str, Any]) -> bool:
    archived = bool((finding.get("Service") or {}).get("Archived", False))
    severity = float(finding.get("Severity", 0))
    return not archived and (severity >= HIGH_SEVERITY or is_critical_type(str(finding.get("Type", ""))))


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value) if value else None


def _plain_finding(finding: dict[str, Any]) -> dict[str, Any]:
    resource = finding.get("Resource") or {}
    instance = resource.get("InstanceDetails") or {}
    access_key = resource.get("AccessKeyDetails") or {}
    service = finding.get("Service") or {}
    return {
        "Id": finding["Id"],
        "Arn": finding.get("Arn"),
        "Type": finding.get("Type", ""),
        "CriticalType": is_critical_type(str(finding.get("Type", ""))),
        "Severity": float(finding.get("Severity", 0)),
        "Title": finding.get("Title", ""),
        "Description": finding.get("Description", ""),
        "CreatedAt": _iso(finding.get("CreatedAt")),
        "UpdatedAt": _iso(finding.get("UpdatedAt")),
        "Count": service.get("Count", 1),
        "ResourceType": resource.get("ResourceType"),
        "InstanceId": instance.get("InstanceId"),
        "AccessKeyId": access_key.get("AccessKeyId"),
        "UserName": access_key.get("UserName"),
    }


async def _list_ids(ctx: CollectorContext, detector_id: str, criterion: dict[str, Any]) -> list[str]:
    ids: list[str] = await ctx.paginate(
        "guardduty",
        "list_findings",
        "FindingIds",
        DetectorId=detector_id,
        FindingCriteria={"Criterion": criterion},
    )
    return ids


async def _poll_detector(
    ctx: CollectorContext, detector_id: str, previous: dict[str, Any], now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The detector's open reportable findings, and the state to keep for its next poll."""
    not_archived = {"service.archived": {"Equals": ["false"]}}
    since: dict[str, Any] = {}
    polled_at = previous.get("polled_at_ms")
    if isinstance(polled_at, int):
        since = {"updatedAt": {"GreaterThanOrEqual": polled_at}}
    changed = await _list_ids(
        ctx, detector_id, {**not_archived, **since, "severity": {"GreaterThanOrEqual": HIGH_SEVERITY}}
    )
    changed += await _list_ids(
        ctx,
        detector_id,
        {
            **not_archived,
            **since,
            "severity": {"LessThan": HIGH_SEVERITY},
            "type": {"Equals": list(CRITICAL_TYPES)},
        },
    )
    carried = [finding_id for finding_id in previous.get("open_ids") or [] if isinstance(finding_id, str)]
    wanted = list(dict.fromkeys([*changed, *carried]))
    findings: list[dict[str, Any]] = []
    for start in range(0, len(wanted), _GET_FINDINGS_LIMIT):
        response = await ctx.call(
            "guardduty",
            "get_findings",
            DetectorId=detector_id,
            FindingIds=wanted[start : start + _GET_FINDINGS_LIMIT],
        )
        findings += [
            _plain_finding(finding) for finding in response.get("Findings", []) if is_reportable(finding)
        ]
    findings.sort(key=lambda finding: finding["Id"])
    next_poll = int((now - POLL_OVERLAP).timestamp() * 1000)
    return findings, {"polled_at_ms": next_poll, "open_ids": [finding["Id"] for finding in findings]}


async def fetch_guardduty(ctx: CollectorContext) -> dict[str, Any]:
    """``{"detectors": [{"DetectorId", "Status", "UpdatedAt"}], "findings": [...], "incremental"}``."""
    now = datetime.now(UTC)
    previous_detectors: dict[str, Any] = (ctx.previous_state or {}).get("detectors") or {}
    detector_ids: list[str] = await ctx.paginate("guardduty", "list_detectors", "DetectorIds")
    detectors: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    incremental = False
    for detector_id in detector_ids:
        detector = await ctx.call("guardduty", "get_detector", DetectorId=detector_id)
        detectors.append(
            {
                "DetectorId": detector_id,
                "Status": detector.get("Status", "ENABLED"),
                "UpdatedAt": _iso(detector.get("UpdatedAt")),
            }
        )
        previous = previous_detectors.get(detector_id) or {}
        incremental = incremental or "polled_at_ms" in previous
        # A suspended detector's findings can still be read, and the old ones still matter.
        detector_findings, state[detector_id] = await _poll_detector(ctx, detector_id, previous, now)
        findings += [{**finding, "DetectorId": detector_id} for finding in detector_findings]
    ctx.save_state({"detectors": state})
    return {"detectors": detectors, "findings": findings, "incremental": incremental}


GUARDDUTY_COLLECTORS = [
    Collector(
        key="guardduty.findings",
        fetch=fetch_guardduty,
        regional=True,
        evidence=True,
        description=(
            "guardduty:ListDetectors, GetDetector, ListFindings (updated since the last poll) and "
            "GetFindings for new and still-open findings"
        ),
    ),
]


def finding_from_event(detail: dict[str, Any]) -> dict[str, Any]:
    """A GuardDuty finding as EventBridge delivers it (GetFindings wire names, lowerCamel) in the
    shape :func:`_plain_finding` gives the scan."""
    resource = detail.get("resource") or {}
    instance = resource.get("instanceDetails") or {}
    access_key = resource.get("accessKeyDetails") or {}
    service = detail.get("service") or {}
    finding_type = str(detail.get("type", ""))
    return {
        "Id": str(detail["id"]),
        "Arn": detail.get("arn"),
        "Type": finding_type,
        "CriticalType": is_critical_type(finding_type),
        "Severity": float(detail.get("severity", 0)),
        "Title": detail.get("title", ""),
        "Description": detail.get("description", ""),
        "CreatedAt": detail.get("createdAt"),
        "UpdatedAt": detail.get("updatedAt"),
        "Count": service.get("count", 1),
        "ResourceType": resource.get("resourceType"),
        "InstanceId": instance.get("instanceId"),
        "AccessKeyId": access_key.get("accessKeyId"),
        "UserName": access_key.get("userName"),
        "DetectorId": service.get("detectorId"),
    }


class GuardDutyFindingHandler(EventHandler):
    """GuardDuty findings as EventBridge delivers them (new ones within 5 minutes, updates later)."""

    id = "guardduty-finding"
    scenario = "threat"
    sources = ("aws.guardduty",)
    detail_types = ("GuardDuty Finding",)
    resolve_rule = (
        "a finding event with service.archived true, or a scan that no longer reads the finding open "
        "(archived, or below High and not a critical type)"
    )

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        detail = event.detail
        if not detail.get("id"):
            return EventResult(note="GuardDuty finding without an id: ignored")
        finding = finding_from_event(detail)
        region = str(detail.get("region") or event.region)
        found = await ctx.detect(
            regional={"guardduty.findings": {region: {"detectors": [], "findings": [finding]}}}
        )
        archived = bool((detail.get("service") or {}).get("archived", False))
        reportable = is_reportable({"Severity": finding["Severity"], "Type": finding["Type"]})
        if archived or not reportable:
            why = "archived" if archived else f"severity {finding['Severity']:g}, below High"
            return EventResult(resolved=tuple(found), note=f"{finding['Type']}: {why}")
        return EventResult(findings=tuple(found), note=f"{finding['Type']} in {region}")


class GuardDutyApiCallHandler(EventHandler):
    """Detector changes delivered via CloudTrail: one switched off is reported now, others rescanned."""

    id = "guardduty-detector-change"
    scenario = "threat"
    sources = ("aws.guardduty",)
    detail_types = ("AWS API Call via CloudTrail",)
    resolve_rule = "the first scan that reads the detector enabled again"

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        record = event.detail
        name = str(record.get("eventName", ""))
        if record.get("errorCode"):
            return EventResult(note=f"{name} failed ({record['errorCode']}): nothing changed")
        parameters = record.get("requestParameters") or {}
        region = str(record.get("awsRegion") or event.region)
        detector_id = parameters.get("detectorId")
        if name == "UpdateDetector" and parameters.get("enable") is False and detector_id:
            detector = {
                "DetectorId": str(detector_id),
                "Status": "DISABLED",
                "UpdatedAt": record.get("eventTime"),
            }
            found = await ctx.detect(
                regional={"guardduty.findings": {region: {"detectors": [detector], "findings": []}}}
            )
            return EventResult(findings=tuple(found), note=f"detector {detector_id} suspended in {region}")
        if name in ("UpdateDetector", "DeleteDetector", "CreateDetector"):
            return EventResult(rescan=True, note=f"{name} in {region}: the account is scanned now")
        return EventResult(note=f"{name}: nothing this scenario reports")


GUARDDUTY_EVENT_HANDLERS: list[type[EventHandler]] = [GuardDutyFindingHandler, GuardDutyApiCallHandler]
