"""The per-scan AWS session: assumed-role credentials are reused until they near expiry."""

from __future__ import annotations

from datetime import timedelta

import aioboto3
import pytest

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, SENTINEL_ACCOUNT_ID
from tests.support.findings import ACCOUNT_ID
from vigilare.aws.naming import role_arn
from vigilare.aws.session import AccountSession
from vigilare_sandbox import RequestLog, Sandbox


def assume_role_count(requests: RequestLog) -> int:
    return len(requests.to("sts", "AssumeRole"))


@pytest.mark.parametrize(
    ("expires_in", "expected_assumptions"),
    [(timedelta(hours=1), 1), (timedelta(minutes=5), 1 + 3)],
    ids=["fresh-credentials-reused", "expiring-credentials-renewed"],
)
async def test_the_role_is_assumed_again_only_when_credentials_near_expiry(
    sandbox: Sandbox,
    aws_requests: RequestLog,
    base_session: aioboto3.Session,
    expires_in: timedelta,
    expected_assumptions: int,
) -> None:
    sandbox.register_guarded_role(
        role_arn(ACCOUNT_ID, ROLE_NAME), EXTERNAL_ID, SENTINEL_ACCOUNT_ID, credentials_expire_in=expires_in
    )
    async with AccountSession(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-t-s",
        endpoint_url=sandbox.endpoint_url,
        base_session=base_session,
    ) as session:
        for _ in range(3):
            identity = await session.call("sts", "get_caller_identity")
            assert identity["Account"] == ACCOUNT_ID
    # Credentials valid for an hour serve the whole scan; ones minutes from expiry are renewed per call.
    assert assume_role_count(aws_requests) == expected_assumptions
    assert {request.form()["ExternalId"] for request in aws_requests.to("sts", "AssumeRole")} == {EXTERNAL_ID}
