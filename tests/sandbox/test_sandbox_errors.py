"""AWS's error answers from the fake: Health without Business support, injected throttling that
botocore's standard retry mode absorbs, and validation errors in AWS's shapes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.support.botocore_model import ApiCall
from vigilare_sandbox import Sandbox, SupportPlan, seed_aws, seed_events


@pytest.mark.parametrize("plan", [SupportPlan.BASIC, SupportPlan.DEVELOPER])
async def test_health_without_business_support_is_subscription_required(
    sandbox: Sandbox, account_id: str, call_api: ApiCall, plan: SupportPlan
) -> None:
    seed_events.set_support_plan(sandbox, account_id, plan)

    with pytest.raises(ClientError) as refused:
        await call_api("health", account_id, "describe_events")

    assert refused.value.response["Error"]["Code"] == "SubscriptionRequiredException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("service", "operation", "region", "params"),
    [
        ("health", "describe_events", "us-east-1", {}),
        ("cloudtrail", "lookup_events", "us-east-1", {}),
        ("ce", "get_anomalies", "us-east-1", {"DateInterval": {"StartDate": "2025-01-01"}}),
        ("sesv2", "get_account", "eu-west-1", {}),
    ],
)
async def test_throttled_calls_are_retried_by_standard_mode_then_succeed(
    sandbox: Sandbox,
    account_id: str,
    call_api: ApiCall,
    service: str,
    operation: str,
    region: str,
    params: dict[str, object],
) -> None:
    signing_name = "ses" if service == "sesv2" else service
    sandbox.inject_throttling(signing_name, 2, account_id=account_id)

    result, _ = await call_api(service, account_id, operation, region=region, max_attempts=3, **params)

    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert result["ResponseMetadata"]["RetryAttempts"] == 2
    assert sandbox.state.pending_throttles(signing_name) == 0


async def test_guardduty_throttling_is_429_too_many_requests(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    detector = seed_aws.ensure_guardduty_detector(sandbox, account_id, "us-west-2")
    sandbox.inject_throttling("guardduty", 5, operation="ListFindings", account_id=account_id)

    with pytest.raises(ClientError) as throttled:
        await call_api(
            "guardduty", account_id, "list_findings", region="us-west-2", max_attempts=2, DetectorId=detector
        )

    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert sandbox.state.pending_throttles("guardduty") == 3


async def test_throttling_beyond_the_retry_budget_surfaces(
    sandbox: Sandbox, account_id: str, call_api: ApiCall
) -> None:
    sandbox.inject_throttling("health", 3, operation="DescribeEvents", account_id=account_id)

    with pytest.raises(ClientError) as throttled:
        await call_api("health", account_id, "describe_events", max_attempts=3)

    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 2


async def test_guardduty_unknown_detector_is_bad_request(account_id: str, call_api: ApiCall) -> None:
    with pytest.raises(ClientError) as refused:
        await call_api(
            "guardduty", account_id, "list_findings", DetectorId="00000000000000000000000000000000"
        )

    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_cloudtrail_rejects_two_lookup_attributes(account_id: str, call_api: ApiCall) -> None:
    with pytest.raises(ClientError) as refused:
        await call_api(
            "cloudtrail",
            account_id,
            "lookup_events",
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"},
                {"AttributeKey": "Username", "AttributeValue": "root"},
            ],
        )

    assert refused.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
