"""billing: run-rate and daily spikes, spend in a never-used region, Cost Explorer anomalies; Cost
Explorer asked at most once a day, its answer reused from the scan state in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW, one_per_kind
from vigilare.aws.collectors.billing import CostExplorerUnavailable, fetch_cost_explorer
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.billing import BillingScenario
from vigilare.testing import collected_data
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.seed import seed_billing_charges, seed_clean_account, seed_compromised_account
from vigilare_sandbox.seed_aws import queue_cost_and_usage
from vigilare_sandbox.seed_events import add_cost_anomaly

MONTH_START = NOW.replace(day=1, hour=0)  # NOW is 21.5 days into a 31-day month
EC2 = "Amazon Elastic Compute Cloud - Compute"


def charges(month_to_date: float, last_month: float | None) -> dict[str, Any]:
    return {
        "month_to_date": month_to_date,
        "last_month_total": last_month,
        "month_start": MONTH_START.isoformat(),
        "as_of": NOW.isoformat(),
    }


def explorer(
    daily_totals: dict[str, float],
    rows: list[dict[str, Any]] | None = None,
    *,
    region_first_spend: dict[str, str] | None = None,
    history_start: str | None = None,
    anomalies: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    rows = (
        rows
        if rows is not None
        else [
            {"date": day, "service": EC2, "region": "us-east-1", "amount": amount}
            for day, amount in daily_totals.items()
        ]
    )
    return {
        "fetched_at": NOW.isoformat(),
        "from_cache": False,
        "daily": rows,
        "anomalies": anomalies or [],
        "daily_totals": daily_totals,
        "region_first_spend": region_first_spend or {},
        "history_start": history_start or min(daily_totals, default=None),
    }


def days_back(values: list[float]) -> dict[str, float]:
    """Daily totals ending yesterday (relative to NOW), oldest first."""
    first = NOW.date() - timedelta(days=len(values))
    return {(first + timedelta(days=index)).isoformat(): value for index, value in enumerate(values)}


async def detect(values: dict[str, Any]) -> dict[str, Any]:
    return one_per_kind(await BillingScenario().detect(collected_data(values, account_id=ACCOUNT_ID)))


# Run-rate: 21.5 days into a 31-day month, projected = month_to_date * 31 / 21.5.
@pytest.mark.parametrize(
    ("month_to_date", "last_month", "fires"),
    [
        (100.0, 30.0, True),  # projects to $144: > 2 x $30 and > $50
        (41.0, 30.0, False),  # projects to $59.1: under 2 x $30
        (34.0, 10.0, False),  # projects to $49.0: over 2 x $10 but under $50
        (35.0, 10.0, True),  # projects to $50.5
        (100.0, None, False),  # no previous month to compare with
    ],
)
async def test_run_rate_spike_fires_above_twice_last_month_and_50_dollars(
    month_to_date: float, last_month: float | None, fires: bool
) -> None:
    found = await detect({"billing.estimated_charges": charges(month_to_date, last_month)})
    assert ("spend_runrate_spike" in found) is fires
    if fires:
        finding = found["spend_runrate_spike"]
        assert finding.severity is Severity.HIGH
        assert "May 2026" in finding.title and f"${month_to_date:,.2f}" in finding.description
        assert finding.docs_url.startswith("https://docs.aws.amazon.com/") and finding.remediation


@pytest.mark.parametrize(
    ("latest", "fires"),
    [(301.0, True), (299.0, False), (100.0, False)],  # median $100 -> 3x is $300; floor $100
)
async def test_daily_spike_fires_above_three_times_the_14_day_median(latest: float, fires: bool) -> None:
    totals = days_back([100.0] * 14 + [latest])
    found = await detect({"billing.cost_explorer": explorer(totals)})
    assert ("daily_spend_spike" in found) is fires
    if fires:
        finding = found["daily_spend_spike"]
        assert finding.severity is Severity.HIGH
        assert max(totals) in finding.title and "$100.00" in finding.description


async def test_daily_spike_needs_more_than_100_dollars() -> None:
    low = await detect({"billing.cost_explorer": explorer(days_back([10.0] * 14 + [99.0]))})
    high = await detect({"billing.cost_explorer": explorer(days_back([10.0] * 14 + [101.0]))})
    assert "daily_spend_spike" not in low
    assert high["daily_spend_spike"].severity is Severity.HIGH


def region_rows(
    quiet_days: int, new_region_amounts: list[float]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """us-east-1 spends $5 every day; ap-south-1 starts on the last len(new_region_amounts) days."""
    total_days = quiet_days + len(new_region_amounts)
    first = NOW.date() - timedelta(days=total_days)
    rows: list[dict[str, Any]] = []
    for index in range(total_days):
        day = (first + timedelta(days=index)).isoformat()
        rows.append({"date": day, "service": EC2, "region": "us-east-1", "amount": 5.0})
        if index >= quiet_days:
            rows.append(
                {
                    "date": day,
                    "service": EC2,
                    "region": "ap-south-1",
                    "amount": new_region_amounts[index - quiet_days],
                }
            )
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["date"]] = totals.get(row["date"], 0.0) + row["amount"]
    return totals, rows


async def test_spend_in_a_never_used_region_is_critical() -> None:
    totals, rows = region_rows(14, [40.0, 60.0])
    started = (NOW.date() - timedelta(days=2)).isoformat()
    data = explorer(totals, rows, region_first_spend={"us-east-1": min(totals), "ap-south-1": started})
    finding = (await detect({"billing.cost_explorer": data}))["new_region_spend"]
    assert finding.severity is Severity.CRITICAL
    assert finding.region == "ap-south-1"
    assert (
        "ap-south-1" in finding.title and started in finding.description and "$100.00" in finding.description
    )


@pytest.mark.parametrize(
    ("first_spend_days_ago", "amounts", "history_days"),
    [
        (2, [0.40, 0.50], 16),  # under the $1 floor: stray requests, not capacity
        (2, [40.0, 60.0], 8),  # only 6 days of history before it: no baseline to call it new
        (9, [40.0] * 9, 23),  # started 9 days ago: no longer new
    ],
)
async def test_new_region_spend_does_not_fire_under_its_thresholds(
    first_spend_days_ago: int, amounts: list[float], history_days: int
) -> None:
    totals, rows = region_rows(history_days - len(amounts), amounts)
    started = (NOW.date() - timedelta(days=first_spend_days_ago)).isoformat()
    data = explorer(totals, rows, region_first_spend={"us-east-1": min(totals), "ap-south-1": started})
    assert "new_region_spend" not in await detect({"billing.cost_explorer": data})


@pytest.mark.parametrize(("impact", "fires"), [(100.01, True), (100.0, False), (35.0, False)])
async def test_cost_anomaly_fires_above_100_dollars_of_impact(impact: float, fires: bool) -> None:
    anomaly = {
        "AnomalyId": "a-1",
        "AnomalyStartDate": "2026-05-20",
        "AnomalyEndDate": None,
        "DimensionValue": EC2,
        "Impact": {"TotalImpact": impact},
        "RootCauses": [{"Service": EC2, "Region": "eu-west-1", "UsageType": "EU-BoxUsage:g5.xlarge"}],
    }
    found = await detect({"billing.cost_explorer": explorer({}, [], anomalies=[anomaly])})
    assert ("cost_anomaly" in found) is fires
    if fires:
        finding = found["cost_anomaly"]
        assert finding.severity is Severity.HIGH and finding.region == "eu-west-1"
        assert "2026-05-20" in finding.title and "g5.xlarge" in finding.description


# --- through the sandbox --------------------------------------------------------------------------


async def test_compromised_account_spikes_and_anomaly_are_found(sandbox: Sandbox) -> None:
    seed_compromised_account(sandbox, ACCOUNT_ID)
    report = await scan_sandbox(sandbox, ["billing"])
    found = one_per_kind(report.findings)
    assert report.outcomes["billing"].data_complete, report.collection_errors
    assert found["spend_runrate_spike"].severity is Severity.HIGH
    assert "$40.00" in found["spend_runrate_spike"].title
    assert found["daily_spend_spike"].severity is Severity.HIGH
    assert "$912.20" in found["daily_spend_spike"].title
    assert found["cost_anomaly"].severity is Severity.HIGH
    assert found["cost_anomaly"].region == "ap-southeast-2"


async def test_clean_account_has_no_billing_findings(sandbox: Sandbox) -> None:
    seed_clean_account(sandbox, ACCOUNT_ID)
    add_cost_anomaly(sandbox, ACCOUNT_ID, total_impact=60.0, region="us-east-1")
    report = await scan_sandbox(sandbox, ["billing"])
    assert report.outcomes["billing"].data_complete, report.collection_errors
    assert report.findings == []


async def test_new_region_spend_is_found_end_to_end(sandbox: Sandbox) -> None:
    quiet = {(EC2, "us-east-1"): 4.0, ("Amazon Simple Storage Service", "us-east-1"): 0.5}
    queue_cost_and_usage(sandbox, ACCOUNT_ID, [quiet] * 13 + [{**quiet, (EC2, "sa-east-1"): 80.0}])
    report = await scan_sandbox(sandbox, ["billing"])
    found = one_per_kind(report.findings)
    assert found["new_region_spend"].severity is Severity.CRITICAL
    assert found["new_region_spend"].region == "sa-east-1"
    assert (
        report.state["billing.cost_explorer"]["region_first_spend"]["us-east-1"]
        < (report.state["billing.cost_explorer"]["region_first_spend"]["sa-east-1"])
    )


async def test_cost_explorer_is_asked_once_a_day_and_reused_between_scans(
    sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    seed_compromised_account(sandbox, ACCOUNT_ID)
    aws_requests.clear()
    first = await scan_sandbox(sandbox, ["billing"])
    assert len(aws_requests.to("ce", "GetCostAndUsage")) == 1
    assert len(aws_requests.to("ce", "GetAnomalies")) == 1

    second = await scan_sandbox(sandbox, ["billing"], state=first.state)
    assert len(aws_requests.to("ce")) == 2, "the second scan must reuse the stored Cost Explorer answer"
    assert len(aws_requests.to("monitoring")) == 4, "the billing metric is read at every scan"
    assert {f.kind for f in second.findings} == {f.kind for f in first.findings}
    assert (
        second.state["billing.cost_explorer"]["fetched_at"]
        == first.state["billing.cost_explorer"]["fetched_at"]
    )

    # A day later the stored answer is stale: Cost Explorer is asked again, once.
    stale = {**second.state}
    day_old = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    stale["billing.cost_explorer"] = {**stale["billing.cost_explorer"], "fetched_at": day_old.isoformat()}
    await scan_sandbox(sandbox, ["billing"], state=stale)
    assert len(aws_requests.to("ce", "GetCostAndUsage")) == 2
    assert len(aws_requests.to("ce", "GetAnomalies")) == 2


async def test_throttled_cost_explorer_is_retried_and_never_a_finding(
    sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    seed_compromised_account(sandbox, ACCOUNT_ID)
    sandbox.inject_throttling("ce", 2, operation="GetAnomalies")
    report = await scan_sandbox(sandbox, ["billing"])
    assert report.collection_errors == []
    assert len(aws_requests.to("ce", "GetAnomalies")) == 3
    assert "cost_anomaly" in one_per_kind(report.findings)
    assert all("thrott" not in finding.description.lower() for finding in report.findings)


async def test_a_spike_that_ends_is_resolved_on_the_next_scan(sandbox: Sandbox) -> None:
    seed_billing_charges(sandbox, ACCOUNT_ID, last_month_total=40.0, month_to_date=1850.0)
    first = await scan_sandbox(sandbox, ["billing"])
    assert "spend_runrate_spike" in one_per_kind(first.findings)

    # The customer asked AWS for an adjustment: the estimated charges fall back to normal.
    sandbox.reset()
    seed_billing_charges(sandbox, ACCOUNT_ID, last_month_total=40.0, month_to_date=1.0)
    second = await scan_sandbox(sandbox, ["billing"], state=first.state)
    assert second.outcomes["billing"].data_complete
    assert "spend_runrate_spike" not in one_per_kind(second.findings)


class _CostExplorerContext:
    """A collector context whose Cost Explorer answers with one error code, counting the calls."""

    account_id = ACCOUNT_ID
    region = "us-east-1"

    def __init__(self, previous: Any, error_code: str | None) -> None:
        self.previous_state = previous
        self.saved: Any = None
        self.errors: list[tuple[str, str]] = []
        self.calls = 0
        self._error_code = error_code

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if self._error_code:
            raise ClientError({"Error": {"Code": self._error_code, "Message": "no"}}, operation)
        return {"ResultsByTime": [], "Anomalies": []}

    def in_region(self, region: str) -> _CostExplorerContext:
        return self

    def save_state(self, value: Any) -> None:
        self.saved = value

    def record_error(self, resource: str, error: str) -> None:
        self.errors.append((resource, error))


async def test_cost_explorer_not_enabled_is_not_asked_again_for_a_day() -> None:
    refused = _CostExplorerContext(None, "DataUnavailableException")
    with pytest.raises(ClientError):
        await fetch_cost_explorer(refused)  # type: ignore[arg-type]
    assert refused.calls == 1 and "DataUnavailableException" in refused.saved["refused"]["error"]

    later = _CostExplorerContext(refused.saved, None)
    with pytest.raises(CostExplorerUnavailable, match="DataUnavailableException"):
        await fetch_cost_explorer(later)  # type: ignore[arg-type]
    assert later.calls == 0

    throttled = _CostExplorerContext(None, "ThrottlingException")  # retried by botocore, then next scan
    with pytest.raises(ClientError):
        await fetch_cost_explorer(throttled)  # type: ignore[arg-type]
    assert throttled.saved is None


async def test_cached_answer_without_anomalies_keeps_the_data_incomplete() -> None:
    cached: dict[str, Any] = {"fetched_at": datetime.now(UTC).isoformat(), "daily": [], "anomalies": None}
    context = _CostExplorerContext(cached, None)
    data = await fetch_cost_explorer(context)  # type: ignore[arg-type]
    assert data["from_cache"] and context.calls == 0
    assert [resource for resource, _ in context.errors] == ["ce:GetAnomalies"]
