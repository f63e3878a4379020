"""The per-scan AWS session: assumed-role credentials are reused until they near expiry."""

from __future__ import annotations

from datetime import timedelta

import aioboto3
import pytest
from scanner_fake_sts import FakeSts, running
from scanner_support import ACCOUNT_ID, EXTERNAL_ID, ROLE_NAME

from vigilare.aws.session import AccountSession


def assume_role_count(fake: FakeSts) -> int:
    return sum(1 for request in fake.requests if request["Action"] == "AssumeRole")


@pytest.mark.parametrize(
    ("expires_in", "expected_assumptions"),
    [(timedelta(hours=1), 1), (timedelta(minutes=5), 1 + 3)],
    ids=["fresh-credentials-reused", "expiring-credentials-renewed"],
)
async def test_the_role_is_assumed_again_only_when_credentials_near_expiry(
    base_session: aioboto3.Session, expires_in: timedelta, expected_assumptions: int
) -> None:
    fake = FakeSts(external_id=EXTERNAL_ID, expires_in=expires_in)
    with running(fake) as endpoint:
        async with AccountSession(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id=EXTERNAL_ID,
            session_name="vigilare-t-s",
            endpoint_url=endpoint,
            base_session=base_session,
        ) as session:
            for _ in range(3):
                identity = await session.call("sts", "get_caller_identity")
                assert identity["Account"] == ACCOUNT_ID
    # Credentials valid for an hour serve the whole scan; ones minutes from expiry are renewed per call.
    assert assume_role_count(fake) == expected_assumptions
    assert {request["ExternalId"] for request in fake.requests if request["Action"] == "AssumeRole"} == {
        EXTERNAL_ID
    }
