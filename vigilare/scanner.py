"""Scan one customer account: assume its role, collect what the scenarios need once, detect.

This is the library a scan job calls; it knows nothing of databases or queues.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec

from vigilare.aws import freshness
from vigilare.aws.collect import collect_planned
from vigilare.aws.collectors import builtin_collectors
from vigilare.aws.naming import role_session_name
from vigilare.aws.session import DEFAULT_HOME_REGION, DEFAULT_MAX_CONCURRENCY, AccountSession, BaseSession
from vigilare.plugin import (
    GLOBAL_REGION,
    Capability,
    CollectedData,
    CollectionError,
    Collector,
    Finding,
    Scenario,
)
from vigilare.plugin.state import ScanState, StateStore
from vigilare.scenarios.runner import DetectionResult, ScenarioOutcome, run_detectors

ScanStatus = Literal["ok", "partial"]


class ScanTarget(msgspec.Struct, frozen=True, kw_only=True):
    """The account to scan and how to get in: ``arn:aws:iam::<aws_account_id>:role/<role_name>``."""

    aws_account_id: str
    role_name: str
    external_id: str
    session_name: str = "vigilare-scan"

    @classmethod
    def for_scan(
        cls, *, aws_account_id: str, role_name: str, external_id: str, tenant_id: str, scan_id: str
    ) -> ScanTarget:
        """A target whose STS session name tells the customer's CloudTrail which tenant and scan it is."""
        return cls(
            aws_account_id=aws_account_id,
            role_name=role_name,
            external_id=external_id,
            session_name=role_session_name(tenant_id, scan_id),
        )


class ScanReport(msgspec.Struct, frozen=True, kw_only=True):
    aws_account_id: str
    status: ScanStatus
    """``partial`` when a scenario failed or timed out, or some data could not be collected."""
    started_at: datetime
    finished_at: datetime
    findings: list[Finding]
    outcomes: dict[str, ScenarioOutcome]
    collection_errors: list[CollectionError]
    regions: list[str]
    evidence: dict[str, Any]
    """Notable collected data (credential report, instances per region, ...), plain JSON."""
    state: ScanState = msgspec.field(default_factory=dict)
    """The account's scan state for the next scan (plain JSON): store it only if this scan completes,
    and pass it back as ``scan_account(..., state=...)``. See :mod:`vigilare.plugin.state`."""
    capabilities: list[Capability] = msgspec.field(default_factory=list)
    """What the account's AWS plan allows, as collectors found out (e.g. Health API on Basic support)."""
    full: bool = True
    """Whether the scan collected every key (a first, manual or event scan) or only the due ones."""
    coverage: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Per data key collected by this scan, the places (regions, or ``"global"``) read completely.
    A key this scan did not collect is absent: its scenarios' signals are left as they are."""
    regional_keys: list[str] = msgspec.field(default_factory=list)
    """The regional keys among the evidence (``{region: value}``)."""

    def resolves(self, scenario: type[Scenario], kind: str, region: str) -> bool:
        """Whether this scan looked at everything a signal of ``kind`` in ``region`` is read from.

        True only when the scenario ran cleanly and every key of the kind was read completely in
        the signal's region (every region, for a signal of a regional key placed in "global")."""
        outcome = self.outcomes.get(scenario.id)
        if outcome is None or outcome.status != "ok":
            return False
        for key in scenario.keys_of_kind(kind):
            covered = self.coverage.get(key)
            if not covered:
                return False
            if GLOBAL_REGION in covered:
                continue
            places = [region] if region in self.regions else self.regions
            if not places or not all(place in covered for place in places):
                return False
        return True


def overall_status(outcomes: Mapping[str, ScenarioOutcome], errors: Sequence[CollectionError]) -> ScanStatus:
    if errors or any(outcome.status != "ok" for outcome in outcomes.values()):
        return "partial"
    return "ok"


def required_data(scenarios: Sequence[type[Scenario]]) -> list[str]:
    return sorted({key for scenario in scenarios for key in scenario.requires})


async def detect(data: CollectedData, scenarios: Sequence[type[Scenario]]) -> DetectionResult:
    """Run scenarios over data already collected (detector tests, re-evaluation of stored data)."""
    return await run_detectors(data, scenarios)


async def scan_account(
    target: ScanTarget,
    scenarios: Sequence[type[Scenario]],
    *,
    collectors: Mapping[str, Collector] | None = None,
    endpoint_url: str | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    home_region: str = DEFAULT_HOME_REGION,
    regions: Sequence[str] | None = None,
    extra_data: Collection[str] = (),
    base_session: BaseSession | None = None,
    state: Mapping[str, Any] | None = None,
    policy: freshness.FreshnessPolicy | None = None,
    direct_calls: bool = True,
) -> ScanReport:
    """Scan one account with ``scenarios`` and return everything found.

    ``collectors`` defaults to the built-in ones (pass ``registry.collectors`` when plugins add
    their own); ``regions`` overrides the enabled-region discovery; ``extra_data`` names data keys
    to collect although no scenario needs them (e.g. ``ec2.instances`` for the evidence export). Raises
    :class:`vigilare.aws.errors.RoleAssumptionError` when the role cannot be assumed: no data,
    no findings. Every other failure (a region, a collector, a scenario) is recorded in the report.
    ``state`` is the account's :attr:`ScanReport.state` from its last completed scan (None the first
    time): collectors read their slice of it (caches, baselines, poll times) and the report carries
    the new state. ``policy`` decides which keys are due (:mod:`vigilare.aws.freshness`); without
    one the scan is full: every key, everywhere. A partial scan may reuse the account's
    assumed-role credentials from an earlier scan (:class:`AccountSession`); a full one assumes the
    role. Only scenarios that got at least one of their keys run, over the keys collected.
    ``direct_calls`` False sends every AWS call through botocore's client (:mod:`vigilare.aws.direct`).
    """
    started_at = datetime.now(UTC)
    policy = policy or freshness.FreshnessPolicy(now=started_at, full=True)
    previous_state = dict(state or {})
    state_store = StateStore(previous_state)
    available = builtin_collectors() if collectors is None else collectors
    wanted = sorted({*required_data(scenarios), *extra_data})
    groups = [group for scenario in scenarios for group in scenario.key_groups()]
    groups += [((key,), True) for key in extra_data]

    def planner(regions: Sequence[str]) -> dict[str, set[str]]:
        return freshness.plan(available, wanted, groups, previous_state, regions, policy)

    async with AccountSession(
        aws_account_id=target.aws_account_id,
        role_name=target.role_name,
        external_id=target.external_id,
        session_name=target.session_name,
        endpoint_url=endpoint_url,
        max_concurrency=max_concurrency,
        home_region=home_region,
        base_session=base_session,
        # A scan that collects only what is due may use the role session an earlier scan assumed.
        reuse_credentials=not policy.full,
        direct_calls=direct_calls,
    ) as session:
        collection = await collect_planned(
            session,
            available,
            wanted,
            planner,
            regions=regions,
            state=state_store,
            collected_at=policy.now,
            full=policy.full,
        )
    data = collection.data
    # A scenario runs when it got any of its keys (one that reads no AWS data, always).
    running = [
        scenario
        for scenario in scenarios
        if not scenario.requires or any(key in collection.attempted for key in scenario.requires)
    ]
    detection = await run_detectors(data, running)
    evidence_keys = [key for key, collector in available.items() if collector.evidence]
    new_state = state_store.result()
    freshness.record_collection(
        new_state,
        available,
        collection.succeeded,
        collection.fresh_until,
        policy.now,
        account_id=target.aws_account_id,
    )
    covered = freshness.coverage(data, collection.attempted)
    return ScanReport(
        aws_account_id=target.aws_account_id,
        status=overall_status(detection.outcomes, data.errors),
        started_at=started_at,
        finished_at=datetime.now(UTC),
        findings=detection.findings,
        outcomes=detection.outcomes,
        collection_errors=list(data.errors),
        regions=list(data.regions),
        evidence=build_evidence(data, evidence_keys),
        state=new_state,
        capabilities=list(data.capabilities),
        full=policy.full,
        coverage={key: sorted(places) for key, places in covered.items()},
        regional_keys=sorted(key for key in evidence_keys if available[key].regional),
    )


def build_evidence(data: CollectedData, keys: Sequence[str]) -> dict[str, Any]:
    """The collected data worth exporting, as plain JSON (datetimes in ISO 8601)."""
    evidence: dict[str, Any] = {
        "aws_account_id": data.account_id,
        "collected_at": data.collected_at.isoformat(),
        "regions": list(data.regions),
        "data": {},
    }
    for key in sorted(keys):
        if key in data:
            value = dict(data.per_region(key)) if data.is_regional(key) else data[key]
            evidence["data"][key] = to_jsonable(value)
    return evidence


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
