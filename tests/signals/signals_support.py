"""Helpers of the signal tests: scanning a sandbox account, recording requests, in-memory data."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aioboto3

from vigilare.plugin import Finding
from vigilare.sandbox import Sandbox
from vigilare.sandbox.wire import credential_scope
from vigilare.scanner import ScanReport, ScanTarget, scan_account
from vigilare.scenarios.manager import load_registry

ACCOUNT_ID = "210987654321"
TEST_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
NOW = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class AwsRequest:
    service: str
    target: str
    path: str
    body: bytes

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body)) if self.body else {}


@dataclass
class AwsRequestLog:
    requests: list[AwsRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, raw_path: str, header_items: list[tuple[str, str]], body: bytes) -> None:
        headers = {name.lower(): value for name, value in header_items}
        scope = credential_scope(headers, {})
        if scope is None:
            return
        request = AwsRequest(scope.service, headers.get("x-amz-target", ""), raw_path.split("?")[0], body)
        with self._lock:
            self.requests.append(request)

    def to(self, service: str, operation: str = "") -> list[AwsRequest]:
        """Requests to a service, optionally only one operation (X-Amz-Target suffix or path suffix)."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.service == service
                and (not operation or request.target.endswith(operation) or request.path.endswith(operation))
            ]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


async def scan_sandbox(
    sandbox: Sandbox,
    scenario_ids: Sequence[str],
    *,
    state: Mapping[str, Any] | None = None,
    account_id: str = ACCOUNT_ID,
    regions: Sequence[str] = TEST_REGIONS,
) -> ScanReport:
    registry = load_registry()
    target = ScanTarget(aws_account_id=account_id, role_name="VigilareAudit", external_id="ext-signals")
    return await scan_account(
        target,
        registry.select(scenario_ids),
        collectors=registry.collectors,
        endpoint_url=sandbox.endpoint_url,
        regions=list(regions),
        base_session=aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"),
        state=state,
    )


def kinds(findings: Sequence[Finding]) -> dict[str, Finding]:
    by_kind: dict[str, Finding] = {}
    for finding in findings:
        assert finding.kind not in by_kind, f"two {finding.kind} findings: {findings}"
        by_kind[finding.kind] = finding
    return by_kind


def queue_costs_by_region(
    sandbox: Sandbox, account_id: str, daily: list[dict[tuple[str, str], float]], end: date | None = None
) -> None:
    """Queue one GetCostAndUsage answer grouped by (service, region), one dict per day, ending
    yesterday (as Cost Explorer answers a request grouped by SERVICE then REGION)."""
    today = end or datetime.now(UTC).date()
    first_day = today - timedelta(days=len(daily))
    results = []
    for offset, costs in enumerate(daily):
        day = first_day + timedelta(days=offset)
        results.append(
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [service, region],
                        "Metrics": {"UnblendedCost": {"Amount": f"{amount:.2f}", "Unit": "USD"}},
                    }
                    for (service, region), amount in costs.items()
                ],
                "Estimated": False,
            }
        )
    payload = {"account_id": account_id, "results": [{"ResultsByTime": results}]}
    request = urllib.request.Request(
        sandbox.endpoint_url + "/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
