"""The per-scan AWS session: assumed-role credentials are reused until they near expiry."""

from __future__ import annotations

from datetime import timedelta

import aioboto3
import pytest

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, SENTINEL_ACCOUNT_ID
from tests.support.findings import ACCOUNT_ID
from vigilare.aws.errors import RoleAssumptionError
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


@pytest.mark.parametrize(
    ("expires_in", "reuse", "expected_assumptions"),
    [
        (timedelta(hours=1), True, 1),
        (timedelta(hours=1), False, 3),
        (timedelta(minutes=19), True, 3),
    ],
    ids=["partial-scans-reuse-the-role-session", "full-scans-assume-the-role", "near-expiry-not-reused"],
)
async def test_later_scans_reuse_assumed_credentials_only_when_asked_and_while_they_last(
    sandbox: Sandbox,
    aws_requests: RequestLog,
    base_session: aioboto3.Session,
    expires_in: timedelta,
    reuse: bool,
    expected_assumptions: int,
) -> None:
    """Scheduled (partial) scans every few minutes need not call STS AssumeRole each time for
    credentials valid an hour; a first, manual or verify scan (full) proves the role still works."""
    sandbox.register_guarded_role(
        role_arn(ACCOUNT_ID, ROLE_NAME), EXTERNAL_ID, SENTINEL_ACCOUNT_ID, credentials_expire_in=expires_in
    )
    for scan in range(3):
        async with AccountSession(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id=EXTERNAL_ID,
            session_name=f"vigilare-t-s{scan}",
            endpoint_url=sandbox.endpoint_url,
            base_session=base_session,
            reuse_credentials=reuse,
        ) as session:
            identity = await session.call("sts", "get_caller_identity")
            assert identity["Account"] == ACCOUNT_ID
    assert assume_role_count(aws_requests) == expected_assumptions


async def test_reused_credentials_are_never_handed_to_another_external_id(
    sandbox: Sandbox, aws_requests: RequestLog, base_session: aioboto3.Session
) -> None:
    """The customer rotated the external id: the role must be assumed with the new one (and a
    wrong one refused), not served from what the old one obtained."""
    sandbox.register_guarded_role(role_arn(ACCOUNT_ID, ROLE_NAME), EXTERNAL_ID, SENTINEL_ACCOUNT_ID)

    def session(external_id: str) -> AccountSession:
        return AccountSession(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id=external_id,
            session_name="vigilare-t-s",
            endpoint_url=sandbox.endpoint_url,
            base_session=base_session,
            reuse_credentials=True,
        )

    async with session(EXTERNAL_ID):
        pass
    with pytest.raises(RoleAssumptionError):
        async with session("some-other-external-id"):
            pass
    assert assume_role_count(aws_requests) == 2
