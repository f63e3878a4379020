"""verify_role: the customer's role must be assumable with its external id and live in the right account."""

from __future__ import annotations

import aioboto3
import pytest
from scanner_fake_sts import FakeSts, running
from scanner_support import ACCOUNT_ID, EXTERNAL_ID, OTHER_ACCOUNT_ID, ROLE_NAME

from vigilare.aws.errors import AccountMismatchError, RoleAssumptionError, RoleVerificationError
from vigilare.aws.naming import role_session_name
from vigilare.aws.verify import verify_role
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import load_registry


async def test_verify_role_on_moto_returns_the_identity(moto: str, base_session: aioboto3.Session) -> None:
    identity = await verify_role(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-verify-test",
        endpoint_url=moto,
        base_session=base_session,
    )
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/")


async def test_verify_role_sends_the_external_id_and_session_name(base_session: aioboto3.Session) -> None:
    fake = FakeSts(external_id=EXTERNAL_ID)
    with running(fake) as endpoint:
        identity = await verify_role(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id=EXTERNAL_ID,
            session_name="vigilare-t1-verify",
            endpoint_url=endpoint,
            base_session=base_session,
        )
    assert identity["Account"] == ACCOUNT_ID
    assume = next(request for request in fake.requests if request["Action"] == "AssumeRole")
    assert assume["RoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
    assert assume["ExternalId"] == EXTERNAL_ID
    assert assume["RoleSessionName"] == "vigilare-t1-verify"


async def test_a_wrong_external_id_fails_with_a_readable_reason(base_session: aioboto3.Session) -> None:
    with (
        running(FakeSts(external_id="the-real-one")) as endpoint,
        pytest.raises(RoleAssumptionError) as raised,
    ):
        await verify_role(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id="a-guess",
            session_name="vigilare-verify",
            endpoint_url=endpoint,
            base_session=base_session,
        )
    error = raised.value
    assert error.aws_error_code == "AccessDenied"
    assert error.status_code == 422
    assert f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}" in error.reason
    assert "external id" in error.reason


async def test_credentials_of_another_account_are_refused(base_session: aioboto3.Session) -> None:
    liar = FakeSts(external_id=EXTERNAL_ID, identity_account=OTHER_ACCOUNT_ID)
    with running(liar) as endpoint, pytest.raises(AccountMismatchError) as raised:
        await verify_role(
            aws_account_id=ACCOUNT_ID,
            role_name=ROLE_NAME,
            external_id=EXTERNAL_ID,
            session_name="vigilare-verify",
            endpoint_url=endpoint,
            base_session=base_session,
        )
    assert isinstance(raised.value, RoleVerificationError)
    assert OTHER_ACCOUNT_ID in raised.value.reason and ACCOUNT_ID in raised.value.reason


async def test_a_scan_whose_role_is_refused_raises_before_collecting(base_session: aioboto3.Session) -> None:
    fake = FakeSts(external_id="the-real-one")
    target = ScanTarget(
        aws_account_id=ACCOUNT_ID, role_name=ROLE_NAME, external_id="wrong", session_name="vigilare-s"
    )
    with running(fake) as endpoint, pytest.raises(RoleAssumptionError):
        await scan_account(target, load_registry().select(), endpoint_url=endpoint, base_session=base_session)
    assert [request["Action"] for request in fake.requests] == ["AssumeRole"]


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
