"""Objects Vigilare itself keeps in S3 (panic packages): put privately, hand out a presigned link."""

from __future__ import annotations

import aioboto3
from botocore.config import Config


async def put_and_presign(
    *, bucket: str, key: str, body: bytes, content_type: str, expires_in: int, endpoint_url: str | None
) -> str:
    """Store ``body`` encrypted at rest and return a GET link that expires after ``expires_in`` seconds."""
    config = Config(retries={"mode": "standard"}, signature_version="s3v4")
    async with aioboto3.Session().client("s3", endpoint_url=endpoint_url, config=config) as s3:
        await s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type, ServerSideEncryption="AES256"
        )
        url: str = await s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
    return url
