"""S3 collectors: account-level Block Public Access and every bucket's ACL, policy and block settings."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext

_NOT_CONFIGURED = {"NoSuchPublicAccessBlockConfiguration", "NoSuchBucketPolicy"}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def _optional(
    ctx: CollectorContext, service: str, operation: str, **params: Any
) -> dict[str, Any] | None:
    """The response, or None when AWS says the setting was never configured."""
    try:
        return await ctx.call(service, operation, **params)
    except ClientError as exc:
        if _error_code(exc) in _NOT_CONFIGURED:
            return None
        raise


async def fetch_account_public_access_block(ctx: CollectorContext) -> dict[str, bool] | None:
    """The account's S3 Block Public Access settings, or None when never configured."""
    response = await _optional(ctx, "s3control", "get_public_access_block", AccountId=ctx.account_id)
    if response is None:
        return None
    settings: dict[str, bool] = response["PublicAccessBlockConfiguration"]
    return settings


def bucket_region(location_constraint: str | None) -> str:
    # GetBucketLocation answers None for us-east-1 and the legacy "EU" for eu-west-1.
    if not location_constraint:
        return "us-east-1"
    return "eu-west-1" if location_constraint == "EU" else location_constraint


async def _bucket_details(ctx: CollectorContext, bucket: dict[str, Any]) -> None:
    name = bucket["Name"]
    location = await ctx.call("s3", "get_bucket_location", Bucket=name)
    bucket["Region"] = bucket_region(location.get("LocationConstraint"))
    regional = ctx.in_region(bucket["Region"])
    block = await _optional(regional, "s3", "get_public_access_block", Bucket=name)
    bucket["PublicAccessBlock"] = None if block is None else block["PublicAccessBlockConfiguration"]
    acl = await regional.call("s3", "get_bucket_acl", Bucket=name)
    bucket["Grants"] = acl.get("Grants", [])
    bucket["Owner"] = acl.get("Owner", {})
    policy = await _optional(regional, "s3", "get_bucket_policy", Bucket=name)
    bucket["Policy"] = None if policy is None else json.loads(policy["Policy"])


async def fetch_buckets(ctx: CollectorContext) -> list[dict[str, Any]]:
    """Every bucket with ``Region``, ``PublicAccessBlock``, ``Grants`` and its parsed ``Policy``.

    A bucket whose settings could not be read is kept with ``"Incomplete": True``.
    """
    buckets: list[dict[str, Any]] = (await ctx.call("s3", "list_buckets")).get("Buckets", [])

    async def details(bucket: dict[str, Any]) -> None:
        try:
            await _bucket_details(ctx, bucket)
        except Exception as exc:
            bucket["Incomplete"] = True
            message = f"{_error_code(exc)}: {exc}" if isinstance(exc, ClientError) else repr(exc)
            ctx.record_error(f"arn:aws:s3:::{bucket['Name']}", message)

    await asyncio.gather(*(details(bucket) for bucket in buckets))
    return buckets


S3_COLLECTORS = [
    Collector(
        key="s3.account_public_access_block",
        fetch=fetch_account_public_access_block,
        evidence=True,
        description="s3control:GetPublicAccessBlock for the account",
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="s3.buckets",
        fetch=fetch_buckets,
        evidence=True,
        description="s3:ListBuckets with each bucket's location, public access block, ACL and policy",
        freshness=timedelta(hours=1),
    ),
]
