"""Issue 12 item 5 (and issue 16 item 2): each account scan retries on a budget of its own, and the
shared clients sign through botocore's credential-provider component, not a private attribute.

AWS throttles per account (and region): "API requests are throttled per account, per Region"
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html). The sandbox throttles one
account's calls with `inject_throttling(..., account_id=...)`, answering ThrottlingException as
AWS Health does. botocore's standard retry mode keeps one retry quota per client
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), and scans share
clients: without a budget per scan, one throttled tenant would spend every other tenant's retries.
"""

from __future__ import annotations

import asyncio
import contextvars

import aioboto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from tests.support.aws import ROLE_NAME
from vigilare.aws.clients import ScanCredentials
from vigilare.aws.retries import RetryPolicy
from vigilare.aws.session import AccountSession, scan_signing_session
from vigilare_sandbox import Sandbox

THROTTLED, NEIGHBOUR = "260000000001", "260000000002"
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
EVENTS_FILTER = {"services": ["RISK"], "eventStatusCodes": ["open"]}


def _session(account: str, sandbox: Sandbox, base_session: aioboto3.Session) -> AccountSession:
    return AccountSession(
        aws_account_id=account,
        role_name=ROLE_NAME,
        external_id="ext-retries",
        session_name="vigilare-retries",
        endpoint_url=sandbox.endpoint_url,
        base_session=base_session,
        retry_policy=FAST,
    )


async def _describe_events(session: AccountSession) -> dict:
    return await session.call("health", "describe_events", filter=EVENTS_FILTER)


async def test_a_throttled_account_does_not_spend_the_retries_of_another(
    sandbox: Sandbox, base_session: aioboto3.Session, monkeypatch: pytest.MonkeyPatch
):
    # Backoff waits shortened (only they): the test is about who may retry, not how long they wait.
    real_sleep = asyncio.sleep
    monkeypatch.setattr(asyncio, "sleep", lambda delay, *args, **kwargs: real_sleep(0, *args, **kwargs))
    sandbox.inject_throttling("health", 10_000, operation="DescribeEvents", account_id=THROTTLED)

    def scan_of(account: str) -> AccountSession:
        # Default retry policy: botocore's standard one.
        return AccountSession(
            aws_account_id=account,
            role_name=ROLE_NAME,
            external_id="ext-retries",
            session_name="vigilare-retries",
            endpoint_url=sandbox.endpoint_url,
            base_session=base_session,
        )

    async with scan_of(THROTTLED) as throttled, scan_of(NEIGHBOUR) as neighbour:
        # The throttled account retries until the quota it retries from is spent (500 tokens, 5 a retry).
        results = await asyncio.gather(
            *(_describe_events(throttled) for _ in range(40)), return_exceptions=True
        )
        assert all(isinstance(result, ClientError) for result in results)

        # The other tenant, on the same shared client, still has every retry it needs.
        sandbox.inject_throttling("health", 3, operation="DescribeEvents", account_id=NEIGHBOUR)
        answer = await _describe_events(neighbour)
        assert answer["events"] == []


async def test_each_scan_spends_only_its_own_budget(sandbox: Sandbox, base_session: aioboto3.Session):
    sandbox.inject_throttling("health", 10_000, operation="DescribeEvents", account_id=THROTTLED)
    async with (
        _session(THROTTLED, sandbox, base_session) as throttled,
        _session(NEIGHBOUR, sandbox, base_session) as neighbour,
    ):
        await asyncio.gather(*(_describe_events(throttled) for _ in range(40)), return_exceptions=True)
        assert throttled.retry_budget.available < FAST.retry_cost
        assert throttled.retry_budget.retries == FAST.quota // FAST.retry_cost
        sandbox.inject_throttling("health", 3, operation="DescribeEvents", account_id=NEIGHBOUR)
        await _describe_events(neighbour)
        assert neighbour.retry_budget.retries == 3
        assert neighbour.retry_budget.available == FAST.quota  # paid back on success


async def test_a_throttled_page_is_asked_again_not_the_whole_listing(
    sandbox: Sandbox, base_session: aioboto3.Session
):
    sandbox.inject_throttling("health", 2, operation="DescribeEvents", account_id=NEIGHBOUR)
    with sandbox.recording() as log:
        async with _session(NEIGHBOUR, sandbox, base_session) as session:
            events = await session.paginate("health", "describe_events", "events", filter=EVENTS_FILTER)
    assert events == []
    assert session.retry_budget.retries == 2
    assert len(log.to("health", "DescribeEvents")) == 3


async def test_errors_that_would_repeat_are_not_retried(sandbox: Sandbox, base_session: aioboto3.Session):
    async with _session(NEIGHBOUR, sandbox, base_session) as session:
        with pytest.raises(ClientError):
            await session.call("iam", "get_user", UserName="nobody")
    assert session.retry_budget.retries == 0


async def test_shared_clients_take_their_credentials_from_the_scan_through_the_provider(
    sandbox: Sandbox, base_session: aioboto3.Session
):
    # botocore's supported hook: the session's credential provider hands out ScanCredentials.
    assert isinstance(await scan_signing_session().get_credentials(), ScanCredentials)
    async with _session(NEIGHBOUR, sandbox, base_session) as session:
        client = await session.client("iam")
        assert (await session.call("iam", "list_users"))["Users"] == []

    async def outside_any_scan() -> None:
        await client.list_users()

    # Outside a scan the shared client has nobody to sign as: it refuses rather than guess.
    with pytest.raises(NoCredentialsError):
        await asyncio.get_running_loop().create_task(outside_any_scan(), context=contextvars.Context())
