"""Bedrock model use per region, from CloudWatch ``AWS/Bedrock`` (published by the runtime endpoint,
per ``ModelId``: https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html).

``cloudwatch:ListMetrics`` names the models with ``Invocations`` in the last two weeks (a region the
account never used Bedrock in costs that one call); for those, ``GetMetricData`` sums invocations and
input/output tokens over the last 24 hours and per day over the 14 days before (the baseline). The
answer is kept in the scan state and asked again at most every ``REFRESH_EVERY``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vigilare.plugin import Collector, CollectorContext, as_datetime

NAMESPACE = "AWS/Bedrock"
METRICS = ("Invocations", "InputTokenCount", "OutputTokenCount")
BASELINE_DAYS = 14
REFRESH_EVERY = timedelta(hours=1)
_DAY = 86400
_MAX_QUERIES = 500  # GetMetricData's limit per request


async def _sums(
    ctx: CollectorContext, models: list[str], start: datetime, end: datetime
) -> dict[str, dict[str, list[float]]]:
    """``{metric: {model: [daily sums]}}`` between start and end."""
    queries = [
        {
            "Id": f"q{index}",
            "Label": f"{metric}|{model}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "ModelId", "Value": model}],
                },
                "Period": _DAY,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for index, (metric, model) in enumerate((metric, model) for metric in METRICS for model in models)
    ]
    sums: dict[str, dict[str, list[float]]] = {metric: {} for metric in METRICS}
    for offset in range(0, len(queries), _MAX_QUERIES):
        batch = queries[offset : offset + _MAX_QUERIES]
        labels = {query["Id"]: str(query["Label"]) for query in batch}
        params: dict[str, Any] = {"MetricDataQueries": batch, "StartTime": start, "EndTime": end}
        while True:
            page = await ctx.call("cloudwatch", "get_metric_data", **params)
            for result in page.get("MetricDataResults", []):
                metric, model = labels[result["Id"]].split("|", 1)
                sums[metric].setdefault(model, []).extend(float(value) for value in result.get("Values", []))
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
    return sums


async def fetch_bedrock_usage(ctx: CollectorContext) -> dict[str, Any]:
    """``{"models": [...], "last_24h": {metric: total}, "baseline_daily": {metric: [14 daily totals]},
    "checked_at": iso}``; empty models when the region has no Bedrock use in two weeks."""
    now = datetime.now(UTC)
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    checked_at = as_datetime(previous.get("checked_at"))
    if checked_at is not None and now - checked_at < REFRESH_EVERY and "usage" in previous:
        ctx.save_state(previous)
        cached: dict[str, Any] = previous["usage"]
        return cached
    listed = await ctx.paginate(
        "cloudwatch", "list_metrics", "Metrics", Namespace=NAMESPACE, MetricName="Invocations"
    )
    models = sorted(
        {
            dimension["Value"]
            for metric in listed
            for dimension in metric.get("Dimensions", [])
            if dimension.get("Name") == "ModelId"
        }
    )
    usage: dict[str, Any] = {
        "models": models,
        "last_24h": {metric: 0.0 for metric in METRICS},
        "baseline_daily": {metric: [0.0] * BASELINE_DAYS for metric in METRICS},
        "checked_at": now.isoformat(),
    }
    if models:
        recent = await _sums(ctx, models, now - timedelta(days=1), now)
        usage["last_24h"] = {
            metric: sum(sum(values) for values in recent[metric].values()) for metric in METRICS
        }
        baseline_end = now - timedelta(days=1)
        earlier = await _sums(ctx, models, baseline_end - timedelta(days=BASELINE_DAYS), baseline_end)
        # Daily totals across models; days without a datapoint are days without use (zero).
        for metric in METRICS:
            totals = [0.0] * BASELINE_DAYS
            for values in earlier[metric].values():
                for index, value in enumerate(values[:BASELINE_DAYS]):
                    totals[index] += value
            usage["baseline_daily"][metric] = totals
    ctx.save_state({"checked_at": now.isoformat(), "usage": usage})
    return usage


BEDROCK_COLLECTORS = [
    Collector(
        key="bedrock.usage",
        fetch=fetch_bedrock_usage,
        regional=True,
        evidence=True,
        description=(
            "cloudwatch:ListMetrics + GetMetricData on AWS/Bedrock Invocations and token counts per model, "
            "last 24 h against the 14 days before, at most hourly"
        ),
        freshness=timedelta(hours=1),
    ),
]
