"""The ``bedrock`` scenario: model use far above the account's baseline, or in a new region.

Through the sandbox: moto's CloudWatch holds `AWS/Bedrock` metrics per ModelId as the Bedrock runtime
publishes them (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html).
"""

from __future__ import annotations

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.bedrock import BedrockScenario
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import put_bedrock_usage

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


async def test_bedrock_in_a_region_without_use_is_high(sandbox: Sandbox) -> None:
    put_bedrock_usage(sandbox, ACCOUNT_ID, "ap-southeast-2", CLAUDE, invocations=4200, tokens=9_000_000)

    report = await scan_sandbox(sandbox, [BedrockScenario])

    assert report.outcomes["bedrock"].status == "ok"
    [finding] = report.findings
    assert (finding.kind, finding.severity, finding.region) == (
        "bedrock_new_region",
        Severity.HIGH,
        "ap-southeast-2",
    )
    assert CLAUDE in finding.description


async def test_a_spike_over_the_baseline_is_high_and_steady_use_is_not(sandbox: Sandbox) -> None:
    for day in range(2, 10):
        put_bedrock_usage(
            sandbox, ACCOUNT_ID, "us-east-1", CLAUDE, invocations=300, tokens=200_000, days_ago=day
        )
        put_bedrock_usage(
            sandbox, ACCOUNT_ID, "eu-west-1", CLAUDE, invocations=300, tokens=200_000, days_ago=day
        )
    put_bedrock_usage(sandbox, ACCOUNT_ID, "us-east-1", CLAUDE, invocations=9000, tokens=40_000_000)
    put_bedrock_usage(sandbox, ACCOUNT_ID, "eu-west-1", CLAUDE, invocations=320, tokens=210_000)

    report = await scan_sandbox(sandbox, [BedrockScenario])

    assert [(f.kind, f.region) for f in report.findings] == [("bedrock_spike", "us-east-1")]


async def test_no_bedrock_use_costs_one_call_per_region_and_finds_nothing(sandbox: Sandbox) -> None:
    with sandbox.recording() as log:
        report = await scan_sandbox(sandbox, [BedrockScenario])
    assert report.findings == []
    assert sorted(request.operation for request in log.to("monitoring")) == ["ListMetrics"] * 3
