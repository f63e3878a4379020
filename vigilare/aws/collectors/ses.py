"""SES collectors: the account's enforcement status and reputation rates in each region offering SES."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session

from vigilare.plugin import Collector, CollectorContext

REPUTATION_METRICS = {"bounce_rate": "Reputation.BounceRate", "complaint_rate": "Reputation.ComplaintRate"}
REPUTATION_WINDOW = timedelta(hours=24)
REPUTATION_PERIOD_SECONDS = 3600

IDLE_REGION_EVERY = timedelta(hours=1)


@functools.cache
def ses_regions() -> frozenset[str]:
    """Regions where AWS offers SES (botocore's endpoint data); elsewhere there is nothing to read."""
    return frozenset(botocore.session.get_session().get_available_regions("sesv2"))


async def fetch_ses_account(ctx: CollectorContext) -> dict[str, Any] | None:
    """SESv2 GetAccount (``EnforcementStatus``, ``SendingEnabled``, ``SendQuota``...), None without SES."""
    if ctx.region not in ses_regions():
        return None
    response = await ctx.call("sesv2", "get_account")
    response.pop("ResponseMetadata", None)
    if _idle(response):
        # Sandboxed, nothing sent, in good standing: nothing to enforce against here; look hourly.
        ctx.fresh_until(datetime.now(UTC) + IDLE_REGION_EVERY)
    return response


def _idle(account: dict[str, Any]) -> bool:
    sent = (account.get("SendQuota") or {}).get("SentLast24Hours") or 0
    return (
        not account.get("ProductionAccessEnabled")
        and float(sent) == 0
        and account.get("EnforcementStatus", "HEALTHY") == "HEALTHY"
    )


async def _latest(
    ctx: CollectorContext, metric: str, start: datetime, end: datetime
) -> dict[str, Any] | None:
    response = await ctx.call(
        "cloudwatch",
        "get_metric_statistics",
        Namespace="AWS/SES",
        MetricName=metric,
        StartTime=start,
        EndTime=end,
        Period=REPUTATION_PERIOD_SECONDS,
        Statistics=["Average"],
    )
    points = sorted(response.get("Datapoints", []), key=lambda point: point["Timestamp"])
    if not points:
        return None
    return {"value": float(points[-1]["Average"]), "timestamp": points[-1]["Timestamp"]}


async def fetch_ses_reputation(ctx: CollectorContext) -> dict[str, Any] | None:
    """The latest ``AWS/SES`` bounce and complaint rates (fractions: 0.05 is 5 %) of the last day.

    ``{"bounce_rate": {"value", "timestamp"} | None, "complaint_rate": ...}``; None without SES.
    """
    if ctx.region not in ses_regions():
        return None
    end = datetime.now(UTC)
    start = end - REPUTATION_WINDOW
    return {name: await _latest(ctx, metric, start, end) for name, metric in REPUTATION_METRICS.items()}


SES_COLLECTORS = [
    Collector(
        key="ses.account",
        fetch=fetch_ses_account,
        regional=True,
        evidence=True,
        description="SESv2 GetAccount, IAM action ses:GetAccount (enforcement status, sending enabled)",
    ),
    Collector(
        key="ses.reputation",
        fetch=fetch_ses_reputation,
        regional=True,
        evidence=True,
        description="cloudwatch:GetMetricStatistics AWS/SES Reputation.BounceRate and ComplaintRate",
        freshness=timedelta(hours=1),
    ),
]
