"""Checks that a customer's cross-account role works before Vigilare relies on it."""

from __future__ import annotations

from typing import Any

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError

from vigilare.aws.calls import counted_call
from vigilare.aws.errors import AccountMismatchError, RoleAssumptionError
from vigilare.aws.naming import role_arn
from vigilare.aws.session import (
    DEFAULT_HOME_REGION,
    assume_role,
    base_sts_client,
    client_config,
    vigilare_base_session,
)


async def verify_role(
    *,
    aws_account_id: str,
    role_name: str,
    external_id: str,
    session_name: str = "vigilare-verify",
    endpoint_url: str | None = None,
    region: str = DEFAULT_HOME_REGION,
    base_session: aioboto3.Session | None = None,
) -> dict[str, str]:
    """Assume the role with the external id and ask STS who the credentials belong to.

    Returns GetCallerIdentity's ``Account``, ``Arn`` and ``UserId``. Raises
    :class:`RoleAssumptionError` when the role cannot be assumed and :class:`AccountMismatchError`
    when the credentials belong to another account than ``aws_account_id``.
    """
    base_session = base_session or vigilare_base_session()
    async with base_sts_client(base_session, region=region, endpoint_url=endpoint_url) as sts:
        credentials = await assume_role(
            sts,
            aws_account_id=aws_account_id,
            role_name=role_name,
            external_id=external_id,
            session_name=session_name,
            duration_seconds=900,
        )
    identity = await _caller_identity(credentials, region=region, endpoint_url=endpoint_url)
    if identity["Account"] != aws_account_id:
        raise AccountMismatchError(
            f"The role {role_arn(aws_account_id, role_name)} answered as AWS account "
            f"{identity['Account']}, not {aws_account_id}: connect the account the role lives in."
        )
    return identity


async def _caller_identity(
    credentials: dict[str, Any], *, region: str, endpoint_url: str | None
) -> dict[str, str]:
    assumed = aioboto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    config = client_config("sts", endpoint_url=endpoint_url, max_pool_connections=1)
    try:
        async with assumed.client("sts", region_name=region, endpoint_url=endpoint_url, config=config) as sts:
            with counted_call(sts, "sts", "get_caller_identity"):
                response = await sts.get_caller_identity()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise RoleAssumptionError(
            f"The assumed role's credentials were refused by STS GetCallerIdentity: "
            f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}",
            aws_error_code=str(error.get("Code", "Unknown")),
        ) from exc
    except BotoCoreError as exc:
        raise RoleAssumptionError(f"Vigilare could not reach AWS STS to check the role: {exc}") from exc
    return {"Account": response["Account"], "Arn": response["Arn"], "UserId": response["UserId"]}
