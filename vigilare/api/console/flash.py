"""One-time messages carried across a redirect ("Scan started", "manual scan limit reached ...").

The message rides in a short-lived cookie signed with the server's key, so a page only ever shows
what this server said; the next page shows it once and clears it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from litestar.datastructures import Cookie

from vigilare.config import Settings
from vigilare.crypto import derive_key
from vigilare.links import CONSOLE

FLASH_COOKIE = "vigilare_flash"
FLASH_SECONDS = 120
Kind = Literal["ok", "error"]


@dataclass(frozen=True)
class Flash:
    kind: Kind
    message: str


@functools.lru_cache(maxsize=8)
def _key(secret_key: str) -> bytes:
    return derive_key(secret_key, "console-flash")


def _sign(settings: Settings, payload: bytes) -> str:
    return hmac.new(_key(settings.secret_key), payload, hashlib.sha256).hexdigest()[:32]


def flash_cookie(settings: Settings, kind: Kind, message: str) -> Cookie:
    payload = json.dumps({"k": kind, "m": message[:1000]}, separators=(",", ":")).encode()
    value = f"{base64.urlsafe_b64encode(payload).decode().rstrip('=')}.{_sign(settings, payload)}"
    return _cookie(settings, value, FLASH_SECONDS)


def cleared_flash_cookie(settings: Settings) -> Cookie:
    return _cookie(settings, "", 0)


def _cookie(settings: Settings, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=FLASH_COOKIE,
        value=value,
        max_age=max_age,
        path=CONSOLE,
        httponly=True,
        secure=settings.public_url.lower().startswith("https://"),
        samesite="lax",
    )


def read_flash(settings: Settings, value: str | None) -> Flash | None:
    """The message in the cookie, or None when there is none or its signature does not hold."""
    if not value or "." not in value:
        return None
    encoded, signature = value.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(settings, payload)):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    kind, message = data.get("k"), data.get("m")
    if kind not in ("ok", "error") or not isinstance(message, str):
        return None
    return Flash(kind=kind, message=message)
