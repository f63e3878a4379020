from __future__ import annotations

from typing import Annotated

import msgspec

from vigilare.auth.schemas import Name


class UserOut(msgspec.Struct):
    user_id: str
    email: str
    name: str
    role: str
    created_at: str
    status: str = "active"


class TenantOut(msgspec.Struct):
    tenant_id: str
    name: str
    plan: str
    status: str
    created_at: str
    trial_ends_at: str | None = None


class MeOut(msgspec.Struct):
    user: UserOut
    tenant: TenantOut


class MePatch(msgspec.Struct):
    name: Name


class NameOut(msgspec.Struct):
    name: str


class TeamMemberOut(UserOut):
    # An invited user's invitation email could not be sent, and why (null otherwise).
    invitation_error: str | None = None


class UsersOut(msgspec.Struct):
    users: list[TeamMemberOut]
    total: int


class InviteIn(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    name: Name
    role: str = "member"


class InviteOut(msgspec.Struct):
    user_id: str
    email: str
    name: str
    role: str
    message: str


class RolePatch(msgspec.Struct):
    role: str


class RoleOut(msgspec.Struct):
    user_id: str
    role: str
    updated_at: str
