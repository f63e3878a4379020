"""verify_role: the customer's role must be assumable with its external id and live in the right account."""

from __future__ import annotations

import aioboto3
import pytest

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, SENTINEL_ACCOUNT_ID
from tests.support.findings import ACCOUNT_ID, OTHER_ACCOUNT_ID
from vigilare.aws.errors import AccountMismatchError, RoleAssumptionError, RoleVerificationError
from vigilare.aws.naming import role_arn, role_session_name
from vigilare.aws.verify import verify_role
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import load_registry
from vigilare_sandbox import RequestLog, Sandbox

# The customer's role, guarded by the sandbox: ExternalId and caller account (Vigilare's) checked.
ROLE_ARN = role_arn(ACCOUNT_ID, ROLE_NAME)


async def test_verify_role_on_moto_returns_the_identity(
    aws_endpoint: str, base_session: aioboto3.Session
) -> None:
    identity = await verify_role(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-verify-test",
        endpoint_url=aws_endpoint,
        base_session=base_session,
    )
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/")


async def test_verify_role_sends_the_external_id_and_session_name(
    sandbox: Sandbox, aws_requests: RequestLog, base_session: aioboto3.Session
) -> None:
    sandbox.register_guarded_role(ROLE_ARN, EXTERNAL_ID, SENTINEL_ACCOUNT_ID)
    identity = await verify_role(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-t1-verify",
        endpoint_url=sandbox.endpoint_url,
        base_session=base_session,
    )
    assert identity["Account"] == ACCOUNT_ID
    assume = next(request.form() for request in aws_requests.to("sts", "AssumeRole"))
    assert assume["RoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
    assert assume["ExternalId"] == EXTERNAL_ID
    assert assume["RoleSessionName"] == "vigilare-t1-verify"


async def test_a_wrong_external_id_fails_with_a_readable_reason(
    sandbox: Sandbox, base_session: aioboto3.Session
) -> None:
    sandbox.register_guarded_role(ROLE_ARN, "the-real-one", SENTINEL_ACCOUNT_ID)
    with pytest.raises(RoleAssumptionError) as raised:
        await verify_role(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id="a-guess",
            session_name="vigilare-verify",
            endpoint_url=sandbox.endpoint_url,
            base_session=base_session,
        )
    error = raised.value
    assert error.aws_error_code == "AccessDenied"
    assert error.status_code == 422
    assert f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}" in error.reason
    assert "external id" in error.reason


async def test_credentials_of_another_account_are_refused(
    sandbox: Sandbox, base_session: aioboto3.Session
) -> None:
    # The role's credentials answer GetCallerIdentity as another account.
    sandbox.register_guarded_role(
        ROLE_ARN, EXTERNAL_ID, SENTINEL_ACCOUNT_ID, caller_identity_account=OTHER_ACCOUNT_ID
    )
    with pytest.raises(AccountMismatchError) as raised:
        await verify_role(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id=EXTERNAL_ID,
            session_name="vigilare-verify",
            endpoint_url=sandbox.endpoint_url,
            base_session=base_session,
        )
    assert isinstance(raised.value, RoleVerificationError)
    assert OTHER_ACCOUNT_ID in raised.value.reason and ACCOUNT_ID in raised.value.reason


async def test_a_scan_whose_role_is_refused_raises_before_collecting(
    sandbox: Sandbox, aws_requests: RequestLog, base_session: aioboto3.Session
) -> None:
    sandbox.register_guarded_role(ROLE_ARN, "the-real-one", SENTINEL_ACCOUNT_ID)
    target = ScanTarget(
        aws_account_id=ACCOUNT_ID, role_name=ROLE_NAME, external_id="wrong", session_name="vigilare-s"
    )
    with pytest.raises(RoleAssumptionError):
        await scan_account(
            target, load_registry().select(), endpoint_url=sandbox.endpoint_url, base_session=base_session
        )
    assert [request.operation for request in aws_requests.requests] == ["AssumeRole"]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("tenant", "scan"), "vigilare-tenant-scan"),
        (("ten ant/é", "scan:1"), "vigilare-ten-ant---scan-1"),
        (("t" * 80, "scan"), ("vigilare-" + "t" * 80)[:64]),
    ],
)
def test_role_session_names_are_valid_for_sts(parts: tuple[str, ...], expected: str) -> None:
    name = role_session_name(*parts)
    assert len(name) <= 64
    assert name == expected
