"""Billing collectors: the CloudWatch billing metric every scan, Cost Explorer at most once a day.

Cost Explorer bills each request (USD 0.01), so ``billing.cost_explorer`` keeps its last answer in
the account's scan state and asks again only when that answer is 24 hours old. The same state holds
the baselines the ``billing`` scenario compares against: daily totals and each region's first day
of spend; ``billing.estimated_charges`` keeps past months' closing totals.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext

BILLING_REGION = "us-east-1"  # AWS publishes the billing metric and serves Cost Explorer only here
COST_EXPLORER_MAX_AGE = timedelta(hours=24)
COST_HISTORY_DAYS = 35
KEPT_DAILY_TOTALS = 45
KEPT_MONTH_TOTALS = 13
ANOMALY_LOOKBACK_DAYS = 30
# Cost Explorer's REGION values for spend that belongs to no region.
NON_REGIONS = {"", "global", "NoRegion", "No Region"}
# A region counts as used from the first day it costs at least this much (cents of stray requests
# do not make a region "used", and do not make it "new" either).
REGION_SPEND_FLOOR = 0.50
BILLING_METRIC_CAPABILITY = "billing_metric"
BILLING_METRIC_UNAVAILABLE = (
    "AWS publishes no AWS/Billing EstimatedCharges metric for this account: billing alerts are off "
    "(for a member of an AWS Organization, the management account must turn on 'Receive CloudWatch "
    "billing alerts'). Month-to-date spend is not watched until they are; Cost Explorer still is."
)
# Refusals that last (Cost Explorer not enabled on a new account, the role lacks ce:*): remembered
# for a day rather than paid for again at every scan. Throttling and outages are retried next scan.
LASTING_REFUSALS = {"DataUnavailableException", "AccessDeniedException", "AccessDenied"}


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def metric_period(start: datetime, end: datetime, now: datetime) -> int:
    """One period covering ``start``..``end`` that CloudWatch accepts for a start that old.

    GetMetricStatistics returns no data points unless the period is a multiple of 60 s when the
    start is up to 15 days ago, of 300 s for 15 to 63 days, and of 3600 s beyond (CloudWatch API
    reference, GetMetricStatistics, ``Period``). The boundaries are checked with a minute to spare,
    because AWS measures the age when the request arrives.
    """
    age = now - start + timedelta(minutes=1)
    multiple = 60 if age <= timedelta(days=15) else 300 if age <= timedelta(days=63) else 3600
    return max(multiple, math.ceil((end - start).total_seconds() / multiple) * multiple)


async def _maximum_charges(ctx: CollectorContext, start: datetime, end: datetime) -> float | None:
    """The highest EstimatedCharges (USD, month-to-date) between start and end, in one datapoint."""
    if end <= start:
        return None
    period = metric_period(start, end, datetime.now(UTC))
    response = await ctx.call(
        "cloudwatch",
        "get_metric_statistics",
        Namespace="AWS/Billing",
        MetricName="EstimatedCharges",
        Dimensions=[{"Name": "Currency", "Value": "USD"}],
        StartTime=start,
        EndTime=end,
        Period=period,
        Statistics=["Maximum"],
    )
    points = response.get("Datapoints", [])
    return max(float(point["Maximum"]) for point in points) if points else None


async def _billing_metric_exists(cloudwatch: CollectorContext) -> bool:
    response = await cloudwatch.call(
        "cloudwatch", "list_metrics", Namespace="AWS/Billing", MetricName="EstimatedCharges"
    )
    return bool(response.get("Metrics"))


async def fetch_estimated_charges(ctx: CollectorContext) -> dict[str, Any] | None:
    """Month-to-date charges and last month's closing total from ``AWS/Billing EstimatedCharges``.

    The metric restarts at zero each month, so a month's maximum is its total. Past months' totals
    are kept in state, so the baseline survives the metric's gaps. AWS publishes the metric only
    when billing alerts are on (in a member account of an organization: when the payer turned them
    on); without it the ``billing_metric`` capability is recorded unavailable and the value is None
    (a gap on the account, not "no spike").
    """
    now = datetime.now(UTC)
    month_start = _month_start(now)
    last_month_start = _month_start(month_start - timedelta(days=1))
    cloudwatch = ctx.in_region(BILLING_REGION)
    month_to_date = await _maximum_charges(cloudwatch, month_start, now)
    last_month_total = await _maximum_charges(cloudwatch, last_month_start, month_start)
    if month_to_date is None and last_month_total is None and not await _billing_metric_exists(cloudwatch):
        ctx.record_capability(BILLING_METRIC_CAPABILITY, False, BILLING_METRIC_UNAVAILABLE)
        return None
    ctx.record_capability(BILLING_METRIC_CAPABILITY, True)

    previous = ctx.previous_state or {}
    totals: dict[str, float] = dict(previous.get("month_totals") or {})
    last_month_key = last_month_start.strftime("%Y-%m")
    if last_month_total is not None:
        totals[last_month_key] = last_month_total
    elif last_month_key in totals:
        last_month_total = float(totals[last_month_key])
    ctx.save_state({"month_totals": dict(sorted(totals.items())[-KEPT_MONTH_TOTALS:])})
    return {
        "month_to_date": month_to_date,
        "last_month_total": last_month_total,
        "month_start": month_start.isoformat(),
        "as_of": now.isoformat(),
    }


def _parse_moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# Usage before credits: Cost Explorer nets credits and refunds into UnblendedCost unless the request
# filters on the RECORD_TYPE dimension (Cost Explorer API reference, GetCostAndUsage and
# GetDimensionValues). An account burning promotional credits would otherwise look free.
USAGE_BEFORE_CREDITS = {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}


async def _cost_and_usage(ctx: CollectorContext, today: date) -> list[dict[str, Any]]:
    """DAILY unblended cost per (service, region) for the last COST_HISTORY_DAYS days, before
    credits and refunds."""
    params: dict[str, Any] = {
        "Filter": USAGE_BEFORE_CREDITS,
        "TimePeriod": {
            "Start": (today - timedelta(days=COST_HISTORY_DAYS)).isoformat(),
            "End": today.isoformat(),
        },
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"}],
    }
    rows: list[dict[str, Any]] = []
    while True:
        response = await ctx.call("ce", "get_cost_and_usage", **params)
        for period in response.get("ResultsByTime", []):
            day = period["TimePeriod"]["Start"]
            for group in period.get("Groups", []):
                keys = group.get("Keys", [])
                amount = float(group.get("Metrics", {}).get("UnblendedCost", {}).get("Amount", 0) or 0)
                rows.append(
                    {
                        "date": day,
                        "service": keys[0] if keys else "",
                        "region": keys[1] if len(keys) > 1 else None,
                        "amount": round(amount, 4),
                        "estimated": bool(period.get("Estimated", False)),
                    }
                )
        token = response.get("NextPageToken")
        if not token:
            return rows
        params["NextPageToken"] = token


async def _anomalies(ctx: CollectorContext, today: date) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "DateInterval": {
            "StartDate": (today - timedelta(days=ANOMALY_LOOKBACK_DAYS)).isoformat(),
            "EndDate": today.isoformat(),
        }
    }
    anomalies: list[dict[str, Any]] = []
    while True:
        response = await ctx.call("ce", "get_anomalies", **params)
        anomalies += response.get("Anomalies", [])
        token = response.get("NextPageToken")
        if not token:
            return anomalies
        params["NextPageToken"] = token


def _baselines(previous: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Daily totals and each region's first day of spend, merged with what earlier scans knew."""
    fetched_totals: dict[str, float] = {}
    for row in rows:
        fetched_totals[row["date"]] = round(fetched_totals.get(row["date"], 0.0) + row["amount"], 4)
    daily_totals = {**dict(previous.get("daily_totals") or {}), **fetched_totals}
    daily_totals = dict(sorted(daily_totals.items())[-KEPT_DAILY_TOTALS:])

    first_spend: dict[str, str] = dict(previous.get("region_first_spend") or {})
    per_region_day: dict[tuple[str, str], float] = {}
    for row in rows:
        region = row["region"]
        if region is None or region in NON_REGIONS:
            continue
        per_region_day[(region, row["date"])] = per_region_day.get((region, row["date"]), 0.0) + row["amount"]
    for (region, day), amount in per_region_day.items():
        if amount >= REGION_SPEND_FLOOR and (region not in first_spend or day < first_spend[region]):
            first_spend[region] = day

    starts = [day for day in (previous.get("history_start"), *fetched_totals) if day]
    return {
        "daily_totals": daily_totals,
        "region_first_spend": dict(sorted(first_spend.items())),
        "history_start": min(starts) if starts else None,
    }


class CostExplorerUnavailable(Exception):
    """Cost Explorer refused this account recently; it is not asked again (and billed) before a day."""


def _error_text(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}"


async def fetch_cost_explorer(ctx: CollectorContext) -> dict[str, Any]:
    """Cost Explorer daily costs and anomalies, asked at most once every 24 hours per account.

    Between fetches the stored answer is served again (``from_cache`` True). An anomaly listing that
    fails is recorded as an error without throwing away the costs just paid for. A refusal that
    will not go away by itself (Cost Explorer not enabled yet, access denied) is remembered for a
    day too, so an account without Cost Explorer is not asked at every scan.
    """
    now = datetime.now(UTC)
    previous: dict[str, Any] = ctx.previous_state or {}
    refused = previous.get("refused") or {}
    refused_at = _parse_moment(refused.get("at"))
    if refused_at is not None and now - refused_at < COST_EXPLORER_MAX_AGE:
        raise CostExplorerUnavailable(f"{refused.get('error')} (at {refused['at']}; asked again after 24 h)")
    fetched_at = _parse_moment(previous.get("fetched_at"))
    from_cache = fetched_at is not None and now - fetched_at < COST_EXPLORER_MAX_AGE and "daily" in previous
    if from_cache:
        assert fetched_at is not None
        rows: list[dict[str, Any]] = list(previous.get("daily") or [])
        anomalies: list[dict[str, Any]] | None = previous.get("anomalies")
        if anomalies is None:
            # Keep the data incomplete until anomalies are read again: an open anomaly signal must
            # not be resolved by a scan that could not see it.
            ctx.record_error(
                "ce:GetAnomalies", f"not read since {fetched_at.isoformat()}; asked again after 24 h"
            )
    else:
        ce = ctx.in_region(BILLING_REGION)
        try:
            rows = await _cost_and_usage(ce, now.date())
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in LASTING_REFUSALS:
                ctx.save_state({**previous, "refused": {"at": now.isoformat(), "error": _error_text(exc)}})
            raise
        try:
            anomalies = [_plain_anomaly(anomaly) for anomaly in await _anomalies(ce, now.date())]
        except ClientError as exc:
            ctx.record_error("ce:GetAnomalies", _error_text(exc))
            anomalies = None
        fetched_at = now
    baselines = _baselines(previous, rows)
    ctx.save_state({"fetched_at": fetched_at.isoformat(), "daily": rows, "anomalies": anomalies, **baselines})
    return {
        "fetched_at": fetched_at.isoformat(),
        "from_cache": from_cache,
        "daily": rows,
        "anomalies": anomalies,
        **baselines,
    }


def _plain_anomaly(anomaly: dict[str, Any]) -> dict[str, Any]:
    """The anomaly fields the scenario reads, kept small enough to cache in state."""
    return {
        "AnomalyId": anomaly.get("AnomalyId"),
        "AnomalyStartDate": anomaly.get("AnomalyStartDate"),
        "AnomalyEndDate": anomaly.get("AnomalyEndDate"),
        "DimensionValue": anomaly.get("DimensionValue"),
        "Impact": anomaly.get("Impact", {}),
        "RootCauses": anomaly.get("RootCauses", []),
        "MonitorArn": anomaly.get("MonitorArn"),
        "Feedback": anomaly.get("Feedback"),
    }


BILLING_COLLECTORS = [
    Collector(
        key="billing.estimated_charges",
        fetch=fetch_estimated_charges,
        evidence=True,
        description="cloudwatch:GetMetricStatistics AWS/Billing EstimatedCharges (us-east-1)",
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="billing.cost_explorer",
        fetch=fetch_cost_explorer,
        evidence=True,
        description=(
            "ce:GetCostAndUsage (DAILY by service and region, before credits) and ce:GetAnomalies, once a day"
        ),
        freshness=timedelta(days=1),
    ),
]
