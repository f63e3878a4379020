"""Collection: each key once, only what scenarios need, failures recorded, calls bounded per account."""

from __future__ import annotations

import asyncio
from typing import Any

import aioboto3
import pytest

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, AccountClients
from tests.support.findings import ACCOUNT_ID
from vigilare.aws.collect import collect
from vigilare.aws.collectors import builtin_collectors
from vigilare.aws.session import AccountSession
from vigilare.plugin import CollectedData, Collector, CollectorContext, Finding, Scenario
from vigilare.scanner import ScanTarget, scan_account


def session_for(aws_endpoint: str, base_session: aioboto3.Session, **kwargs: Any) -> AccountSession:
    return AccountSession(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-test",
        endpoint_url=aws_endpoint,
        base_session=base_session,
        **kwargs,
    )


class NeedsSummaryOnly(Scenario):
    id = "summary-only"
    title = "Reads the account summary"
    requires = ("iam.account_summary",)

    async def detect(self, data: CollectedData) -> list[Finding]:
        return []


async def test_only_the_data_the_scenarios_require_is_collected(
    aws_endpoint: str, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    report = await scan_account(
        target, [NeedsSummaryOnly], endpoint_url=aws_endpoint, base_session=base_session
    )
    assert list(report.evidence["data"]) == ["iam.account_summary"]
    assert report.regions == []  # no regional data needed: not even DescribeRegions
    assert report.outcomes["summary-only"].data_complete is True


async def test_a_region_answering_500_is_a_recorded_error_not_a_crash_nor_a_finding(
    aws_endpoint: str, seed: AccountClients, target: ScanTarget, base_session: aioboto3.Session
) -> None:
    from vigilare.scenarios.builtin.exposure import ExposureScenario

    # moto has no backend for this region name and answers 500, as it does for some of the newest regions.
    report = await scan_account(
        target,
        [ExposureScenario],
        endpoint_url=aws_endpoint,
        base_session=base_session,
        regions=["us-east-1", "xx-fake-1"],
    )
    failed = {(error.key, error.region) for error in report.collection_errors}
    assert failed == {("ec2.security_groups", "xx-fake-1"), ("ec2.network_interfaces", "xx-fake-1")}
    assert all(len(error.error) <= 300 for error in report.collection_errors)
    assert report.findings == []
    assert report.outcomes["exposure"].status == "ok"
    assert report.outcomes["exposure"].data_complete is False
    assert report.status == "partial"
    assert list(report.evidence["data"]["ec2.security_groups"]) == ["us-east-1"]


async def test_a_collector_that_fails_in_one_region_keeps_the_others(
    aws_endpoint: str, base_session: aioboto3.Session
) -> None:
    async def fetch(ctx: CollectorContext) -> list[str]:
        if ctx.region == "eu-west-1":
            raise RuntimeError("eu-west-1 is having a bad day")
        return [ctx.region]

    collectors = {"demo.things": Collector(key="demo.things", fetch=fetch, regional=True)}
    async with session_for(aws_endpoint, base_session) as session:
        data = await collect(
            session, collectors, ["demo.things"], regions=["us-east-1", "eu-west-1", "us-west-2"]
        )
    assert dict(data.per_region("demo.things")) == {"us-east-1": ["us-east-1"], "us-west-2": ["us-west-2"]}
    [error] = data.errors
    assert (error.key, error.region, error.error) == (
        "demo.things",
        "eu-west-1",
        "RuntimeError: eu-west-1 is having a bad day",
    )
    assert data.failed_regions("demo.things") == ("eu-west-1",)


async def test_data_no_collector_provides_is_recorded(
    aws_endpoint: str, base_session: aioboto3.Session
) -> None:
    async with session_for(aws_endpoint, base_session) as session:
        data = await collect(session, builtin_collectors(), ["nobody.collects.this"])
    assert [(error.key, error.error) for error in data.errors] == [
        ("nobody.collects.this", "no collector provides this data")
    ]


async def test_item_level_errors_keep_the_rest_of_the_key(
    aws_endpoint: str, base_session: aioboto3.Session
) -> None:
    async def fetch(ctx: CollectorContext) -> list[str]:
        ctx.record_error("arn:aws:s3:::locked", "AccessDenied: bucket policy denies the auditor")
        return ["open"]

    collectors = {"demo.items": Collector(key="demo.items", fetch=fetch)}
    async with session_for(aws_endpoint, base_session) as session:
        data = await collect(session, collectors, ["demo.items"])
    assert data["demo.items"] == ["open"]
    assert not data.is_complete("demo.items")
    assert data.errors_for("demo.items")[0].resource == "arn:aws:s3:::locked"


async def test_clients_are_created_once_per_service_and_region(
    aws_endpoint: str, base_session: aioboto3.Session
) -> None:
    async with session_for(aws_endpoint, base_session) as session:
        first, again = await asyncio.gather(
            session.client("ec2", "eu-west-1"), session.client("ec2", "eu-west-1")
        )
        assert first is again
        assert await session.client("ec2", "us-east-1") is not first
        assert first.meta.config.retries["mode"] == "standard"
        assert first.meta.endpoint_url == aws_endpoint


@pytest.mark.parametrize("bound", [1, 3])
async def test_concurrent_calls_per_account_never_exceed_the_bound(
    aws_endpoint: str, seed: AccountClients, base_session: aioboto3.Session, bound: int
) -> None:
    in_flight, peak = 0, 0

    def call_started(**_: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)

    def call_finished(**_: Any) -> None:
        nonlocal in_flight
        in_flight -= 1

    async def fetch(ctx: CollectorContext) -> int:
        answers = await asyncio.gather(*(ctx.call("iam", "get_account_summary") for _ in range(12)))
        return len(answers)

    collectors = {"demo.busy": Collector(key="demo.busy", fetch=fetch)}
    async with session_for(aws_endpoint, base_session, max_concurrency=bound) as session:
        iam = await session.client("iam")
        # Handlers of this operation keep its calls on botocore's client (vigilare.aws.direct); the
        # client is shared by the process, so they go when the test ends.
        iam.meta.events.register("before-call.iam.GetAccountSummary", call_started)
        iam.meta.events.register("after-call.iam.GetAccountSummary", call_finished)
        try:
            data = await collect(session, collectors, ["demo.busy"])
        finally:
            iam.meta.events.unregister("before-call.iam.GetAccountSummary", call_started)
            iam.meta.events.unregister("after-call.iam.GetAccountSummary", call_finished)
    assert data["demo.busy"] == 12
    assert peak == bound
