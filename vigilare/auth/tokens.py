"""JWTs: issuing the token set of a login and checking the Bearer id token."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from vigilare.crypto import derive_key
from vigilare.errors import Unauthorized
from vigilare.ids import new_id, utcnow

ISSUER = "vigilare"
AUDIENCE = "vigilare-api"
ALGORITHM = "HS256"
TOKEN_TTL = timedelta(hours=1)
REFRESH_TTL = timedelta(days=30)

ID, ACCESS, REFRESH = "id", "access", "refresh"
# Id tokens already verified, kept until they expire (see ``TokenIssuer.decode``).
VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    id_token: str
    refresh_token: str
    refresh_jti: str
    expires_in: int


@dataclass(frozen=True)
class Claims:
    user_id: str
    tenant_id: str
    role: str
    token_version: int
    family_id: str
    jti: str


def unix_now() -> float:
    return time.time()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenIssuer:
    def __init__(self, secret_key: str) -> None:
        self._key = derive_key(secret_key, "jwt-v1")
        # token -> (its claims, its expiry as a Unix time): the id tokens this process has verified.
        self._verified: dict[str, tuple[Claims, float]] = {}

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue(
        self,
        *,
        user_id: str,
        tenant_id: str,
        role: str,
        email: str,
        name: str,
        token_version: int,
        family_id: str,
    ) -> TokenSet:
        now = utcnow()
        base = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "tenant_id": tenant_id,
            "role": role,
            "ver": token_version,
            "fam": family_id,
            "iat": now,
            "nbf": now,
        }
        expires = now + TOKEN_TTL
        refresh_jti = new_id()
        return TokenSet(
            access_token=self._encode({**base, "jti": new_id(), "exp": expires, "token_use": ACCESS}),
            id_token=self._encode(
                {**base, "jti": new_id(), "exp": expires, "token_use": ID, "email": email, "name": name}
            ),
            refresh_token=self._encode(
                {**base, "jti": refresh_jti, "exp": now + REFRESH_TTL, "token_use": REFRESH}
            ),
            refresh_jti=refresh_jti,
            expires_in=int(TOKEN_TTL.total_seconds()),
        )

    def decode(self, token: str, expected_use: str) -> Claims:
        """Validate signature, algorithm, issuer, audience, expiry and token use.

        An id token is sent with every request of its hour: once verified, its claims are kept
        (keyed by the whole token, signature included, so any other string is verified afresh) until
        it expires. Only the cryptography is skipped: whether the login or the user still holds
        (logout, revocation, role change) is the caller's check, on every request.
        """
        if expected_use == ID:
            known = self._verified.get(token)
            if known is not None:
                if unix_now() < known[1]:
                    return known[0]
                del self._verified[token]
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "token_use"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token") from exc
        if claims.get("token_use") != expected_use:
            raise Unauthorized(f"an {expected_use} token is required")
        try:
            decoded = Claims(
                user_id=str(claims["sub"]),
                tenant_id=str(claims["tenant_id"]),
                role=str(claims["role"]),
                token_version=int(claims["ver"]),
                family_id=str(claims["fam"]),
                jti=str(claims["jti"]),
            )
            expires_at = float(claims["exp"])
        except (KeyError, TypeError, ValueError) as exc:
            raise Unauthorized("invalid token") from exc
        if expected_use == ID:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()  # bounded: a flood of valid tokens costs their verification again
            self._verified[token] = (decoded, expires_at)
        return decoded
