from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from vigilare.crypto import (
    ExpiredStateError,
    ForgedStateError,
    MalformedStateError,
    SecretBox,
    SecretDecryptionError,
    mask_secret,
    sign_state,
    verify_state,
)

APP_KEY = "app-secret-key-for-tests-0123456789"
NOW = datetime(2026, 5, 22, 10, 0, tzinfo=UTC)


def test_secret_box_round_trip_and_ciphertext_hides_the_value() -> None:
    box = SecretBox(APP_KEY)

    stored = box.encrypt("xoxb-123-secret-token")

    assert "xoxb" not in stored
    assert box.decrypt(stored) == "xoxb-123-secret-token"
    # Fernet uses a random IV: the same secret never gives the same ciphertext twice.
    assert box.encrypt("xoxb-123-secret-token") != stored


@pytest.mark.parametrize(
    "other_box",
    [SecretBox("a-different-app-secret-key-9876543210"), SecretBox(APP_KEY, purpose="another-purpose")],
)
def test_wrong_key_or_purpose_cannot_decrypt(other_box: SecretBox) -> None:
    stored = SecretBox(APP_KEY).encrypt("routing-key-abc123")

    with pytest.raises(SecretDecryptionError):
        other_box.decrypt(stored)


def test_tampered_ciphertext_is_rejected() -> None:
    box = SecretBox(APP_KEY)
    stored = bytearray(base64.urlsafe_b64decode(box.encrypt("routing-key-abc123")))
    stored[-40] ^= 1

    with pytest.raises(SecretDecryptionError):
        box.decrypt(base64.urlsafe_b64encode(bytes(stored)).decode())
    with pytest.raises(SecretDecryptionError):
        box.decrypt("not a fernet token")


def test_rotated_app_key_still_decrypts_old_values_and_reencrypts() -> None:
    old_value = SecretBox("old-app-secret-key-000000000000").encrypt("pd-routing-key")
    rotated = SecretBox(
        "new-app-secret-key-111111111111", previous_secret_keys=["old-app-secret-key-000000000000"]
    )

    assert rotated.decrypt(old_value) == "pd-routing-key"
    rewritten = rotated.reencrypt(old_value)
    assert SecretBox("new-app-secret-key-111111111111").decrypt(rewritten) == "pd-routing-key"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("xoxb-1234-abcdefc123", "\u2022" * 8 + "c123"),
        ("R0UT1NGKEY00000000000000000fe12", "\u2022" * 8 + "fe12"),
        ("abc123", "\u2022" * 8),  # too short to show any of it
        ("", "\u2022" * 8),
        (None, "\u2022" * 8),
    ],
)
def test_mask_secret(value: str | None, masked: str) -> None:
    assert mask_secret(value) == masked


def test_state_round_trip_carries_tenant_user_and_a_fresh_nonce() -> None:
    payload = {"tenant_id": "01TENANT", "user_id": "01USER", "return_to": "/settings"}

    first = verify_state(sign_state(payload, 600, secret_key=APP_KEY, now=NOW), secret_key=APP_KEY, now=NOW)
    second = verify_state(sign_state(payload, 600, secret_key=APP_KEY, now=NOW), secret_key=APP_KEY, now=NOW)

    assert (first.tenant_id, first.user_id) == ("01TENANT", "01USER")
    assert first.payload["return_to"] == "/settings"
    assert first.expires_at == NOW + timedelta(seconds=600)
    assert len(first.nonce) >= 16 and first.nonce != second.nonce


def test_expired_state_is_rejected() -> None:
    token = sign_state({"tenant_id": "t", "user_id": "u"}, 600, secret_key=APP_KEY, now=NOW)

    assert verify_state(token, secret_key=APP_KEY, now=NOW + timedelta(seconds=599)).tenant_id == "t"
    with pytest.raises(ExpiredStateError):
        verify_state(token, secret_key=APP_KEY, now=NOW + timedelta(seconds=600))


def _reencode_payload(token: str, **changes: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_state_bound_to_another_tenant_or_other_key_is_forged() -> None:
    token = sign_state({"tenant_id": "tenant-a", "user_id": "u"}, 600, secret_key=APP_KEY, now=NOW)

    with pytest.raises(ForgedStateError):
        verify_state(_reencode_payload(token, tenant_id="tenant-b"), secret_key=APP_KEY, now=NOW)
    with pytest.raises(ForgedStateError):
        verify_state(token, secret_key="some-other-app-secret-key-00000", now=NOW)


def test_jwt_signed_with_the_raw_app_key_is_not_a_state() -> None:
    # A session token or anything else signed with the app key itself must not pass as a state.
    import jwt

    token = jwt.encode(
        {
            "tenant_id": "t",
            "user_id": "u",
            "nonce": "n",
            "aud": "vigilare:oauth-state",
            "iat": NOW,
            "exp": NOW + timedelta(minutes=5),
        },
        APP_KEY,
        algorithm="HS256",
    )

    with pytest.raises(ForgedStateError):
        verify_state(token, secret_key=APP_KEY, now=NOW)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_malformed_state_is_rejected(token: str) -> None:
    with pytest.raises(MalformedStateError):
        verify_state(token, secret_key=APP_KEY, now=NOW)


@pytest.mark.parametrize("payload", [{"tenant_id": "t"}, {"user_id": "u"}, {"tenant_id": "", "user_id": "u"}])
def test_state_must_name_tenant_and_user(payload: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        sign_state(payload, 600, secret_key=APP_KEY)
