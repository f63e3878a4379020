"""GuardDuty ListFindings / GetFindings (REST-JSON), with FindingCriteria as AWS evaluates it.

Criterion keys are the finding's wire attribute paths (`severity`, `updatedAt`, `service.archived`,
`type`, `resource.resourceType`, ...). `updatedAt` / `createdAt` compare as epoch milliseconds, which
is what GuardDuty expects in `greaterThanOrEqual` and friends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from vigilare_sandbox.state import AccountState, GuardDutyFinding
from vigilare_sandbox.wire import WireResponse, epoch_millis, iso_millis, rest_json_error, rest_json_ok

LIST_PATH = re.compile(r"^/detector/(?P<detector_id>[^/]+)/findings$")
GET_PATH = re.compile(r"^/detector/(?P<detector_id>[^/]+)/findings/get$")
_MAX_RESULTS = 50
_GET_LIMIT = 50

DetectorLookup = Callable[[str, str, str], bool]
"""(account_id, region, detector_id) -> whether that detector exists (moto owns detectors)."""


def finding_wire(finding: GuardDutyFinding) -> dict[str, Any]:
    partition = "aws"
    return {
        "accountId": finding.account_id,
        "arn": (
            f"arn:{partition}:guardduty:{finding.region}:{finding.account_id}:detector/"
            f"{finding.detector_id}/finding/{finding.id}"
        ),
        "confidence": finding.confidence,
        "createdAt": iso_millis(finding.created_at),
        "description": finding.description,
        "id": finding.id,
        "partition": partition,
        "region": finding.region,
        "resource": finding.resource,
        "schemaVersion": "2.0",
        "service": {
            "action": finding.action,
            "archived": finding.archived,
            "count": finding.count,
            "detectorId": finding.detector_id,
            "eventFirstSeen": iso_millis(finding.created_at),
            "eventLastSeen": iso_millis(finding.updated_at),
            "resourceRole": "TARGET",
            "serviceName": "guardduty",
        },
        "severity": finding.severity,
        "title": finding.title,
        "type": finding.type,
        "updatedAt": iso_millis(finding.updated_at),
    }


def _attribute(finding: GuardDutyFinding, wire: dict[str, Any], path: str) -> Any:
    if path == "updatedAt":
        return epoch_millis(finding.updated_at)
    if path == "createdAt":
        return epoch_millis(finding.created_at)
    value: Any = wire
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _condition_holds(value: Any, condition: dict[str, Any]) -> bool:
    if value is None:
        return False
    equals = condition.get("equals", condition.get("eq"))
    if equals is not None and _as_text(value) not in equals:
        return False
    not_equals = condition.get("notEquals", condition.get("neq"))
    if not_equals is not None and _as_text(value) in not_equals:
        return False
    numeric_checks: list[tuple[str, str, Callable[[float, float], bool]]] = [
        ("greaterThan", "gt", lambda actual, bound: actual > bound),
        ("greaterThanOrEqual", "gte", lambda actual, bound: actual >= bound),
        ("lessThan", "lt", lambda actual, bound: actual < bound),
        ("lessThanOrEqual", "lte", lambda actual, bound: actual <= bound),
    ]
    for name, legacy_name, holds in numeric_checks:
        bound = condition.get(name, condition.get(legacy_name))
        if bound is None:
            continue
        if not isinstance(value, int | float) or not holds(float(value), float(bound)):
            return False
    return True


def _matches_criteria(finding: GuardDutyFinding, criteria: dict[str, dict[str, Any]]) -> bool:
    wire = finding_wire(finding)
    return all(
        _condition_holds(_attribute(finding, wire, path), condition) for path, condition in criteria.items()
    )


def _sorted(findings: list[GuardDutyFinding], sort: dict[str, Any] | None) -> list[GuardDutyFinding]:
    if not sort or not sort.get("attributeName"):
        return findings
    path = sort["attributeName"]

    def key(finding: GuardDutyFinding) -> tuple[bool, str | float]:
        value = _attribute(finding, finding_wire(finding), path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (value is None, float(value))
        return (value is None, _as_text(value) if value is not None else "")

    return sorted(findings, key=key, reverse=sort.get("orderBy", "ASC") == "DESC")


def unknown_detector() -> WireResponse:
    return rest_json_error(
        400,
        "BadRequestException",
        "The request is rejected because the input detectorId is not owned by the current account.",
    )


def list_findings(account: AccountState, region: str, detector_id: str, body: dict[str, Any]) -> WireResponse:
    criteria = (body.get("findingCriteria") or {}).get("criterion") or {}
    max_results = int(body.get("maxResults") or _MAX_RESULTS)
    if not 1 <= max_results <= _MAX_RESULTS:
        return rest_json_error(400, "BadRequestException", "maxResults must be between 1 and 50.")
    findings = [
        finding
        for finding in account.findings.values()
        if finding.region == region
        and finding.detector_id == detector_id
        and _matches_criteria(finding, criteria)
    ]
    findings = _sorted(findings, body.get("sortCriteria"))
    offset = 0
    if body.get("nextToken"):
        try:
            offset = int(body["nextToken"])
        except ValueError:
            return rest_json_error(400, "BadRequestException", "The nextToken is invalid.")
    page = findings[offset : offset + max_results]
    payload: dict[str, Any] = {"findingIds": [finding.id for finding in page]}
    if offset + max_results < len(findings):
        payload["nextToken"] = str(offset + max_results)
    return rest_json_ok(payload)


def get_findings(account: AccountState, region: str, detector_id: str, body: dict[str, Any]) -> WireResponse:
    finding_ids = body.get("findingIds")
    if finding_ids is None:
        return rest_json_error(400, "BadRequestException", "findingIds is required.")
    if len(finding_ids) > _GET_LIMIT:
        return rest_json_error(400, "BadRequestException", "findingIds can contain at most 50 items.")
    found = [
        account.findings[finding_id]
        for finding_id in finding_ids
        if finding_id in account.findings
        and account.findings[finding_id].detector_id == detector_id
        and account.findings[finding_id].region == region
    ]
    found = _sorted(found, body.get("sortCriteria"))
    return rest_json_ok({"findings": [finding_wire(finding) for finding in found]})


def detector_id_of(path: str) -> str:
    match = LIST_PATH.match(path) or GET_PATH.match(path)
    if match is None:
        raise ValueError(f"not a GuardDuty findings path: {path}")
    return match["detector_id"]


def operation_for(path: str) -> str | None:
    if LIST_PATH.match(path):
        return "ListFindings"
    if GET_PATH.match(path):
        return "GetFindings"
    return None
