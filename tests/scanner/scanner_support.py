"""Shared constants and helpers of the scanner tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

ACCOUNT_ID = "111122223333"
OTHER_ACCOUNT_ID = "444455556666"
ROLE_NAME = "VigilareAudit"
EXTERNAL_ID = "ext-0123456789abcdef"
NOW = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)

AccountClients = Callable[..., Any]


def account_clients(endpoint: str, account_id: str) -> AccountClients:
    """boto3 clients acting inside ``account_id`` on moto (assume any role there), to seed state."""
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/x", RoleSessionName="seed")[
        "Credentials"
    ]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

    def client(service: str, region: str = "us-east-1") -> Any:
        created = session.client(service, region_name=region, endpoint_url=endpoint)
        if service == "s3control":
            # s3control prefixes the account id onto the host, which 127.0.0.1 cannot resolve.
            host = endpoint.split("://", 1)[1]

            def strip_account(request: Any, **_: Any) -> None:
                request.url = request.url.replace(f"{account_id}.{host}", host)

            created.meta.events.register("before-send.s3-control", strip_account)
        return created

    return client
