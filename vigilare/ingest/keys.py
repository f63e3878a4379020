"""Per-account ingest secrets: made here, shown once, stored as an HMAC, compared in constant time.

A secret reads ``<key id>.<random part>``: the key id (a ULID) finds its row without a search by
secret, and the random part (32 random bytes) is checked against the stored HMAC-SHA256, keyed with
a key derived from ``VIGILARE_SECRET_KEY`` for this purpose only. A stolen database therefore holds
no usable secret, and a guess learns nothing from response times.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from vigilare.crypto import derive_key
from vigilare.ids import new_id

PURPOSE = "ingest-secret"
HEADER_NAME = "X-Vigilare-Ingest-Key"
"""The header the customer's EventBridge connection sends the secret in (API key authorization)."""

_SECRET = re.compile(r"^([0-9A-HJKMNP-TV-Z]{26})\.([A-Za-z0-9_-]{43})$")
# Compared against when the key id is unknown, so an unknown key costs what a wrong one costs.
_DUMMY_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class NewSecret:
    key_id: str
    secret: str
    """What the customer puts in the connection: shown once, never stored."""
    secret_hash: str


@functools.lru_cache(maxsize=4)
def _hmac_key(secret_key: str) -> bytes:
    return derive_key(secret_key, PURPOSE)


def hash_part(secret_key: str, random_part: str) -> str:
    return hmac.new(_hmac_key(secret_key), random_part.encode(), hashlib.sha256).hexdigest()


def new_secret(secret_key: str) -> NewSecret:
    key_id = new_id()
    random_part = secrets.token_urlsafe(32)
    return NewSecret(
        key_id=key_id, secret=f"{key_id}.{random_part}", secret_hash=hash_part(secret_key, random_part)
    )


def split_secret(value: str | None) -> tuple[str, str] | None:
    """``(key id, random part)`` of a well-formed secret, else None."""
    match = _SECRET.match((value or "").strip())
    return (match.group(1), match.group(2)) if match else None


def part_matches(secret_key: str, random_part: str, stored_hash: str | None) -> bool:
    """Whether ``random_part`` is the secret behind ``stored_hash``, in constant time (a missing
    hash is compared against a dummy all the same)."""
    expected = stored_hash or _DUMMY_HASH
    return hmac.compare_digest(hash_part(secret_key, random_part), expected) and stored_hash is not None
