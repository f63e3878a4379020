"""Where panic packages go: S3 with a presigned URL, or local disk served at a signed, expiring URL."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path
from typing import IO

from vigilare.aws.objects import put_and_presign
from vigilare.config import Settings
from vigilare.crypto import derive_key
from vigilare.errors import Forbidden, NotFound

LOCAL_KEEP_SECONDS = 24 * 3600


def _signature(settings: Settings, export_id: str, expires: int) -> str:
    key = derive_key(settings.secret_key, "export-download")
    return hmac.new(key, f"{export_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def local_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "exports"


def local_path(settings: Settings, export_id: str) -> Path:
    if not export_id.isalnum():
        raise NotFound("export not found")
    return local_dir(settings) / f"{export_id}.zip"


async def store(settings: Settings, key: str, export_id: str, package: IO[bytes]) -> str:
    """Store a package and return a download URL that expires after ``export_url_ttl_seconds``."""
    package.seek(0)
    if settings.export_bucket:
        return await _store_s3(settings, key, package)
    return _store_local(settings, export_id, package)


async def _store_s3(settings: Settings, key: str, package: IO[bytes]) -> str:
    return await put_and_presign(
        bucket=settings.export_bucket,
        key=key,
        body=package.read(),
        content_type="application/zip",
        expires_in=settings.export_url_ttl_seconds,
        endpoint_url=settings.aws_endpoint_url or None,
    )


def _store_local(settings: Settings, export_id: str, package: IO[bytes]) -> str:
    folder = local_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_old(folder)
    path = local_path(settings, export_id)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        while chunk := package.read(1 << 20):
            handle.write(chunk)
    expires = int(time.time()) + settings.export_url_ttl_seconds
    signature = _signature(settings, export_id, expires)
    return (
        f"{settings.public_url.rstrip('/')}/exports/{export_id}.zip?expires={expires}&signature={signature}"
    )


def _remove_old(folder: Path) -> None:
    cutoff = time.time() - LOCAL_KEEP_SECONDS
    for old in folder.glob("*.zip"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def check_local_download(settings: Settings, export_id: str, expires: int, signature: str) -> Path:
    expected = _signature(settings, export_id, expires)
    # compare_digest refuses non-ASCII text with a TypeError: such a signature is simply wrong.
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        raise Forbidden("invalid download link")
    if expires < time.time():
        raise Forbidden("download link expired: generate a new panic package")
    path = local_path(settings, export_id)
    if not path.exists():
        raise NotFound("export not found")
    return path
