"""Built-in ``threat`` scenario: GuardDuty's high and critical findings, and detectors switched off.

Severity follows GuardDuty's bands (7.0-8.9 HIGH, >= 9 CRITICAL); crypto-mining, instance credential
exfiltration, root credential use and attack sequences are CRITICAL whatever GuardDuty says. A
suspended detector is itself a finding: attackers switch GuardDuty off before they get to work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigilare.plugin import (
    CollectedData,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    hookimpl,
    hours_ago,
    minute_of,
)

CRITICAL_SEVERITY = 9.0
GUARDDUTY_DOCS = "https://docs.aws.amazon.com/guardduty/latest/ug"


def severity_of(finding: dict[str, Any]) -> Severity:
    # CriticalType: the collector's verdict that the type is critical whatever GuardDuty's severity.
    if float(finding.get("Severity", 0)) >= CRITICAL_SEVERITY or finding.get("CriticalType") is True:
        return Severity.CRITICAL
    return Severity.HIGH


def affected(finding: dict[str, Any]) -> str:
    if finding.get("InstanceId"):
        return f"EC2 instance {finding['InstanceId']}"
    if finding.get("AccessKeyId"):
        user = f" of {finding['UserName']}" if finding.get("UserName") else ""
        return f"access key {finding['AccessKeyId']}{user}"
    return f"a {finding.get('ResourceType') or 'resource'}"


class ThreatScenario(Scenario):
    id = "threat"
    title = "Active threats GuardDuty has found, and GuardDuty switched off"
    requires = ("guardduty.findings",)
    emits = {
        "guardduty_finding": (Severity.CRITICAL, Severity.HIGH),
        "guardduty_disabled": (Severity.HIGH,),
    }
    remediation = (
        "Follow GuardDuty's remediation for the finding type: isolate the affected instance or disable "
        "the affected key, find how it was compromised in CloudTrail, and keep the finding as evidence "
        "for the AWS case."
    )
    docs_url = f"{GUARDDUTY_DOCS}/guardduty_remediate.html"

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        for region, guardduty in sorted(data.per_region("guardduty.findings").items()):
            for detector in guardduty.get("detectors", []):
                if detector.get("Status") != "ENABLED":
                    findings.append(self._disabled(data.account_id, region, detector))
            for finding in guardduty.get("findings", []):
                findings.append(self._finding(region, finding, data.collected_at))
        return findings

    def _disabled(self, account: str, region: str, detector: dict[str, Any]) -> Finding:
        detector_id = detector["DetectorId"]
        changed = as_datetime(detector.get("UpdatedAt"))
        since = f" since {minute_of(changed)}" if changed else ""
        return self.finding(
            kind="guardduty_disabled",
            severity=Severity.HIGH,
            title=f"GuardDuty is suspended in {region}",
            description=(
                f"GuardDuty detector {detector_id} in {region} is "
                f"{str(detector.get('Status')).lower()}{since}: "
                "no threat in that region is being detected. Attackers suspend GuardDuty before mining or "
                "exfiltrating. Re-enable it and find who suspended it in CloudTrail (UpdateDetector)."
            ),
            resource=f"arn:aws:guardduty:{region}:{account}:detector/{detector_id}",
            region=region,
            remediation=(
                "Re-enable the detector (GuardDuty console > Settings, or guardduty:UpdateDetector "
                "--enable), then look up who disabled it in the CloudTrail event history."
            ),
            docs_url=f"{GUARDDUTY_DOCS}/guardduty_settingup.html",
            details={"detector_id": detector_id, "status": detector.get("Status")},
        )

    def _finding(self, region: str, finding: dict[str, Any], now: datetime) -> Finding:
        finding_type = str(finding.get("Type", ""))
        created = as_datetime(finding.get("CreatedAt"))
        updated = as_datetime(finding.get("UpdatedAt"))
        timing = ""
        if created:
            timing = f" First seen {minute_of(created)}"
            if updated and updated != created:
                timing += f", last seen {minute_of(updated)} ({hours_ago(updated, now)})"
            timing += f", {finding.get('Count', 1)} occurrence(s)."
        return self.finding(
            kind="guardduty_finding",
            severity=severity_of(finding),
            title=f"GuardDuty {finding_type} on {affected(finding)} in {region}",
            description=(
                f"GuardDuty reports {finding_type} (severity {float(finding.get('Severity', 0)):.1f}) on "
                f"{affected(finding)} in {region}: {finding.get('Description') or finding.get('Title')}"
                f"{timing} Isolate the resource, find the entry point in CloudTrail, and keep this finding "
                "as evidence."
            ),
            resource=finding.get("Arn") or f"guardduty:{region}:{finding['Id']}",
            region=region,
            docs_url=f"{GUARDDUTY_DOCS}/guardduty_finding-types-active.html",
            details={
                "finding_id": finding["Id"],
                "type": finding_type,
                "guardduty_severity": finding.get("Severity"),
                "detector_id": finding.get("DetectorId"),
                "instance_id": finding.get("InstanceId"),
                "access_key_id": finding.get("AccessKeyId"),
                "created_at": finding.get("CreatedAt"),
                "updated_at": finding.get("UpdatedAt"),
                "count": finding.get("Count", 1),
            },
        )


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [ThreatScenario]
