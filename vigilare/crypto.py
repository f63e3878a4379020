"""Secrets at rest, masking for display, and signed OAuth ``state`` values.

Every key here is derived from the one application secret (``VIGILARE_SECRET_KEY``) with HKDF and a
*purpose* label, so the key that encrypts Slack tokens is not the key that signs OAuth state or JWTs:
a leak or misuse of one derived key does not unlock the others, and a token minted for one purpose is
never accepted for another.
"""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# A fixed, public salt: HKDF's security here comes from the secret key; the salt only separates
# Vigilare's derivations from any other use of the same key material.
_HKDF_SALT = b"vigilare.v1.key-derivation"
_MASK = "\u2022" * 8
# Showing 4 characters of a secret shorter than this would reveal too large a share of it.
_MIN_LENGTH_TO_REVEAL_TAIL = 12

SECRETS_PURPOSE = "secrets-at-rest"
OAUTH_STATE_PURPOSE = "oauth-state"
_STATE_ALGORITHM = "HS256"
_STATE_AUDIENCE = "vigilare:oauth-state"


class CryptoError(Exception):
    """Base class for the errors this module raises."""


class SecretDecryptionError(CryptoError):
    """A stored secret could not be decrypted: wrong key, wrong purpose, or tampered ciphertext."""


class InvalidStateError(CryptoError):
    """An OAuth ``state`` value must be rejected. Subclasses say why."""


class ForgedStateError(InvalidStateError):
    """The signature does not match: not minted by this server (or minted for another purpose)."""


class ExpiredStateError(InvalidStateError):
    """The state was genuine but its time to live has passed."""


class MalformedStateError(InvalidStateError):
    """Not a state token at all, or one missing the tenant, user or nonce it must carry."""


@functools.lru_cache(maxsize=64)
def derive_key(secret_key: str | bytes, purpose: str, length: int = 32) -> bytes:
    """Derive a key for one purpose from the application secret (HKDF-SHA256).

    Remembered per (secret, purpose, length): requests build their cursor codec and secret box
    from the settings, and the derivation is the same every time.
    """
    if not purpose:
        raise ValueError("a key purpose label is required")
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    if not material:
        raise ValueError("the application secret key is empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=purpose.encode())
    return hkdf.derive(material)


def _fernet_for(secret_key: str | bytes, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))


class SecretBox:
    """Encrypts secrets (Slack tokens, PagerDuty routing keys, webhook URLs) for storage.

    ``previous_secret_keys`` lets an operator rotate ``VIGILARE_SECRET_KEY``: values written under an
    old key still decrypt, and :meth:`reencrypt` rewrites them under the current one.
    """

    def __init__(
        self,
        secret_key: str | bytes,
        purpose: str = SECRETS_PURPOSE,
        *,
        previous_secret_keys: Sequence[str | bytes] = (),
    ) -> None:
        current = _fernet_for(secret_key, purpose)
        older = [_fernet_for(key, purpose) for key in previous_secret_keys]
        self._fernet = MultiFernet([current, *older])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SecretDecryptionError("stored secret cannot be decrypted with the configured key") from exc

    def reencrypt(self, ciphertext: str) -> str:
        """Return ``ciphertext`` re-encrypted under the current key (for key rotation)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretDecryptionError("stored secret cannot be decrypted with the configured key") from exc


def mask_secret(value: str | None) -> str:
    """Mask a secret for display: ``••••••••c123``; values too short to hint at are fully masked.

    The mask length is fixed so it does not reveal how long the secret is.
    """
    if not value or len(value) < _MIN_LENGTH_TO_REVEAL_TAIL:
        return _MASK
    return _MASK + value[-4:]


@dataclass(frozen=True, slots=True)
class VerifiedState:
    """A genuine, unexpired OAuth state. The caller must mark ``nonce`` used to stop replays."""

    tenant_id: str
    user_id: str
    nonce: str
    expires_at: datetime
    payload: dict[str, Any]


def sign_state(
    payload: Mapping[str, Any],
    ttl_seconds: int,
    *,
    secret_key: str | bytes,
    now: datetime | None = None,
) -> str:
    """Mint a signed, expiring OAuth ``state`` bound to ``payload["tenant_id"]`` and ``["user_id"]``.

    A fresh random nonce is added; read it back from :func:`verify_state` to record it as used.
    """
    tenant_id, user_id = payload.get("tenant_id"), payload.get("user_id")
    if not isinstance(tenant_id, str) or not tenant_id or not isinstance(user_id, str) or not user_id:
        raise ValueError("an OAuth state must name the tenant_id and user_id it belongs to")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued_at = now or datetime.now(UTC)
    claims = {
        **payload,
        "nonce": secrets.token_urlsafe(16),
        "aud": _STATE_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + timedelta(seconds=ttl_seconds),
    }
    key = derive_key(secret_key, OAUTH_STATE_PURPOSE)
    return jwt.encode(claims, key, algorithm=_STATE_ALGORITHM)


def verify_state(token: str, *, secret_key: str | bytes, now: datetime | None = None) -> VerifiedState:
    """Check a state's signature, expiry and shape; raise an :class:`InvalidStateError` subclass if bad.

    ``now`` exists so tests (and callers with their own clock) can check expiry deterministically.
    """
    key = derive_key(secret_key, OAUTH_STATE_PURPOSE)
    moment = now or datetime.now(UTC)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_STATE_ALGORITHM],
            audience=_STATE_AUDIENCE,
            # Time claims are checked below against ``moment`` so that ``now`` is honoured.
            options={"require": ["exp", "iat", "aud"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise ForgedStateError("OAuth state signature is invalid") from exc
    except jwt.InvalidAudienceError as exc:
        raise ForgedStateError("token was not issued as an OAuth state") from exc
    except jwt.InvalidTokenError as exc:
        raise MalformedStateError("OAuth state is malformed") from exc

    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if moment >= expires_at:
        raise ExpiredStateError("OAuth state has expired")
    fields = {name: claims.get(name) for name in ("tenant_id", "user_id", "nonce")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise MalformedStateError("OAuth state lacks tenant, user or nonce")
    extra = {k: v for k, v in claims.items() if k not in {"aud", "iat", "exp"}}
    return VerifiedState(
        tenant_id=str(fields["tenant_id"]),
        user_id=str(fields["user_id"]),
        nonce=str(fields["nonce"]),
        expires_at=expires_at,
        payload=extra,
    )
