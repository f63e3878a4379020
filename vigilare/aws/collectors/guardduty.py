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
# Detectors are listed, and every open finding read again, this often; incremental polls between.
RECONCILE_EVERY = timedelta(hours=1)
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
        "Archived": bool(service.get("Archived", False)),
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


async def _get_findings(ctx: CollectorContext, detector_id: str, ids: list[str]) -> list[dict[str, Any]]:
    """The findings of ``ids`` that Vigilare reports (not archived; high severity or critical type)."""
    findings: list[dict[str, Any]] = []
    for start in range(0, len(ids), _GET_FINDINGS_LIMIT):
        response = await ctx.call(
            "guardduty",
            "get_findings",
            DetectorId=detector_id,
            FindingIds=ids[start : start + _GET_FINDINGS_LIMIT],
        )
        findings += [_plain_finding(finding) for finding in response.get("Findings", [])]
    return findings


async def _poll_detector(
    ctx: CollectorContext, detector_id: str, previous: dict[str, Any], now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The detector's open reportable findings, and the state to keep for its next poll.

    A full read (the first, a full scan, and hourly) lists every open reportable finding and reads
    them all. In between, one ListFindings asks for the findings updated since the last poll
    (GuardDuty's ``updatedAt`` criterion, in milliseconds: ListFindings, "FindingCriteria" in the
    GuardDuty API reference), any severity and archived or not, so a finding archived since is
    seen too; only those are read with GetFindings, the others are carried from the state.
    """
    polled_at = previous.get("polled_at_ms")
    reconciled_at = previous.get("reconciled_at_ms")
    carried = [
        finding for finding in previous.get("open") or [] if isinstance(finding, dict) and "Id" in finding
    ]
    incremental = (
        not ctx.full
        and isinstance(polled_at, int)
        and isinstance(reconciled_at, int)
        and now.timestamp() * 1000 - reconciled_at < RECONCILE_EVERY.total_seconds() * 1000
    )
    next_poll = int((now - POLL_OVERLAP).timestamp() * 1000)
    if incremental:
        changed = await _list_ids(ctx, detector_id, {"updatedAt": {"GreaterThanOrEqual": polled_at}})
        updated = {finding["Id"]: finding for finding in await _get_findings(ctx, detector_id, changed)}
        kept = {finding["Id"]: finding for finding in carried if finding["Id"] not in updated}
        kept.update({fid: finding for fid, finding in updated.items() if _reportable_plain(finding)})
        findings = sorted(kept.values(), key=lambda finding: finding["Id"])
        return findings, {"polled_at_ms": next_poll, "reconciled_at_ms": reconciled_at, "open": findings}
    not_archived = {"service.archived": {"Equals": ["false"]}}
    wanted = await _list_ids(
        ctx, detector_id, {**not_archived, "severity": {"GreaterThanOrEqual": HIGH_SEVERITY}}
    )
    wanted += await _list_ids(
        ctx,
        detector_id,
        {**not_archived, "severity": {"LessThan": HIGH_SEVERITY}, "type": {"Equals": list(CRITICAL_TYPES)}},
    )
    wanted = list(dict.fromkeys([*wanted, *(finding["Id"] for finding in carried)]))
    found = await _get_findings(ctx, detector_id, wanted)
    findings = sorted((finding for finding in found if _reportable_plain(finding)), key=lambda f: f["Id"])
    return findings, {"polled_at_ms": next_poll, "reconciled_at_ms": next_poll, "open": findings}


def _reportable_plain(finding: dict[str, Any]) -> bool:
    return not finding.get("Archived") and (
        float(finding.get("Severity", 0)) >= HIGH_SEVERITY or bool(finding.get("CriticalType"))
    )


async def _detectors(ctx: CollectorContext, previous: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The region's detectors with their status: listed again hourly (and on a full scan)."""
    known = previous.get("detector_list")
    listed_at = previous.get("detectors_listed_at")
    if (
        not ctx.full
        and isinstance(known, list)
        and isinstance(listed_at, int | float)
        and now.timestamp() - listed_at < RECONCILE_EVERY.total_seconds()
    ):
        return [detector for detector in known if isinstance(detector, dict)]
    detector_ids: list[str] = await ctx.paginate("guardduty", "list_detectors", "DetectorIds")
    detectors = []
    for detector_id in detector_ids:
        detector = await ctx.call("guardduty", "get_detector", DetectorId=detector_id)
        detectors.append(
            {
                "DetectorId": detector_id,
                "Status": detector.get("Status", "ENABLED"),
                "UpdatedAt": _iso(detector.get("UpdatedAt")),
            }
        )
    return detectors


async def fetch_guardduty(ctx: CollectorContext) -> dict[str, Any]:
    """``{"detectors": [{"DetectorId", "Status", "UpdatedAt"}], "findings": [...], "incremental"}``.

    Detectors are listed hourly; findings are read incrementally in between (see
    :func:`_poll_detector`). A region without a detector is looked at again in an hour.
    """
    now = datetime.now(UTC)
    previous: dict[str, Any] = ctx.previous_state or {}
    previous_detectors: dict[str, Any] = previous.get("detectors") or {}
    detectors = await _detectors(ctx, previous, now)
    findings: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    incremental = False
    for detector in detectors:
        detector_id = detector["DetectorId"]
        before = previous_detectors.get(detector_id) or {}
        incremental = incremental or "polled_at_ms" in before
        # A suspended detector's findings can still be read, and the old ones still matter.
        detector_findings, state[detector_id] = await _poll_detector(ctx, detector_id, before, now)
        findings += [{**finding, "DetectorId": detector_id} for finding in detector_findings]
    listed_at = previous.get("detectors_listed_at")
    if (
        ctx.full
        or not isinstance(listed_at, int | float)
        or now.timestamp() - listed_at >= RECONCILE_EVERY.total_seconds()
    ):
        listed_at = round(now.timestamp(), 3)
    ctx.save_state({"detectors": state, "detector_list": detectors, "detectors_listed_at": listed_at})
    if not detectors:
        ctx.fresh_until(now + RECONCILE_EVERY)  # nothing to poll here until the next listing
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
        push_freshness=timedelta(hours=1),  # high-severity and critical-type findings are pushed
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
