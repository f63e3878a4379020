"""Running scenarios: one crashing or slow scenario is recorded and never stops the others."""

from __future__ import annotations

import asyncio

from vigilare.plugin import CollectedData, CollectionError, Finding, Scenario, Severity
from vigilare.scanner import detect
from vigilare.testing import collected_data


class Healthy(Scenario):
    id = "healthy"
    title = "Always finds one thing"
    requires = ("thing",)
    emits = {"thing_seen": (Severity.LOW,)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(
                kind="thing_seen",
                severity=Severity.LOW,
                title=f"Thing {data['thing']} seen",
                description="A thing was seen at this scan.",
                resource=str(data["thing"]),
            )
        ]


class Crashing(Scenario):
    id = "crashing"
    title = "Has a bug"

    async def detect(self, data: CollectedData) -> list[Finding]:
        raise ZeroDivisionError("division by zero in the detector")


class Slow(Scenario):
    id = "slow"
    title = "Never finishes"
    time_budget_seconds = 0.2

    async def detect(self, data: CollectedData) -> list[Finding]:
        await asyncio.Event().wait()  # blocks until cancelled by the time budget
        return []


class Impostor(Scenario):
    id = "impostor"
    title = "Reports findings under another scenario's id"
    emits = {"x": (Severity.HIGH,)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            Finding(
                scenario="iam", kind="x", severity=Severity.HIGH, title="t", description="d", resource="r"
            )
        ]


class Repetitive(Scenario):
    id = "repetitive"
    title = "Reports the same resource twice with different severities"
    emits = {"k": (Severity.LOW, Severity.CRITICAL, Severity.MEDIUM)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(kind="k", severity=severity, title="t", description="d", resource="r")
            for severity in (Severity.LOW, Severity.CRITICAL, Severity.MEDIUM)
        ]


async def test_a_crashing_and_a_slow_scenario_are_recorded_and_the_others_still_report() -> None:
    result = await detect(collected_data({"thing": "t-1"}), [Crashing, Slow, Healthy])

    assert [finding.title for finding in result.findings] == ["Thing t-1 seen"]
    assert result.outcomes["healthy"].status == "ok"
    assert result.outcomes["healthy"].finding_count == 1
    crashing = result.outcomes["crashing"]
    assert crashing.status == "failed"
    assert crashing.error == "ZeroDivisionError: division by zero in the detector"
    slow = result.outcomes["slow"]
    assert slow.status == "timeout"
    assert slow.error == "exceeded its time budget of 0.2 s"
    assert 150 <= slow.duration_ms < 5000


async def test_findings_under_another_scenario_id_are_refused() -> None:
    result = await detect(collected_data(), [Impostor])
    assert result.findings == []
    assert result.outcomes["impostor"].status == "failed"
    assert "'iam'" in (result.outcomes["impostor"].error or "")


async def test_duplicate_findings_collapse_to_the_most_severe() -> None:
    result = await detect(collected_data(), [Repetitive])
    assert [finding.severity for finding in result.findings] == [Severity.CRITICAL]


async def test_outcome_says_whether_the_required_data_was_complete() -> None:
    missing = await detect(collected_data(), [Healthy])
    assert missing.outcomes["healthy"].data_complete is False
    assert missing.outcomes["healthy"].status == "failed"  # KeyError: the detector needed the data

    with_error = collected_data(
        {"thing": "t"}, errors=[CollectionError(key="thing", region="global", error="boom")]
    )
    partial = await detect(with_error, [Healthy])
    assert partial.outcomes["healthy"].data_complete is False
    assert partial.outcomes["healthy"].status == "ok"

    complete = await detect(collected_data({"thing": "t"}), [Healthy])
    assert complete.outcomes["healthy"].data_complete is True


def test_severity_ordering() -> None:
    assert Severity.CRITICAL.rank > Severity.HIGH.rank > Severity.MEDIUM.rank > Severity.LOW.rank
    assert Severity.HIGH.at_least(Severity.MEDIUM) and not Severity.LOW.at_least(Severity.MEDIUM)
    assert Severity.highest([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM]) is Severity.CRITICAL
    assert Severity.highest([]) is None
    assert Severity("HIGH") is Severity.HIGH


def test_fingerprint_is_sha256_of_the_identity_fields() -> None:
    import hashlib

    finding = Finding(
        scenario="iam",
        kind="access_key_old",
        severity=Severity.MEDIUM,
        title="t",
        description="d",
        resource="AKIA1",
        region="global",
    )
    expected = hashlib.sha256(b"iam|111122223333|global|AKIA1|access_key_old").hexdigest()
    assert finding.fingerprint("111122223333") == expected
