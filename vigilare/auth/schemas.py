from __future__ import annotations

from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(max_length=320, description="Email address")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024, description="At least 8 characters")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="Display name (1-200 chars)")]


class SignupIn(msgspec.Struct):
    email: Email
    password: Password
    name: Name


class SignupOut(msgspec.Struct):
    tenant_id: str
    user_id: str
    message: str


class LoginIn(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class TokensOut(msgspec.Struct):
    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


class RefreshIn(msgspec.Struct):
    refresh_token: Annotated[str, msgspec.Meta(max_length=4096)]


class AcceptInviteIn(msgspec.Struct):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    password: Password


class AcceptInviteOut(msgspec.Struct):
    user_id: str
    email: str
    message: str


class MessageOut(msgspec.Struct):
    message: str
