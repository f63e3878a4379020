from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.guards import requires_role
from vigilare.auth.models import Tenant, User
from vigilare.auth.roles import ADMIN, OWNER, VIEWER, Principal
from vigilare.errors import answers
from vigilare.ids import isoformat
from vigilare.users import service
from vigilare.users.schemas import (
    InviteIn,
    InviteOut,
    MeOut,
    MePatch,
    NameOut,
    RoleOut,
    RolePatch,
    TeamMemberOut,
    TenantOut,
    UserOut,
    UsersOut,
)


def user_out(user: User) -> UserOut:
    return UserOut(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        created_at=isoformat(user.created_at) or "",
        status=user.status,
    )


def tenant_out(tenant: Tenant) -> TenantOut:
    return TenantOut(
        tenant_id=tenant.id,
        name=tenant.name,
        plan=tenant.plan,
        status=tenant.status,
        created_at=isoformat(tenant.created_at) or "",
        trial_ends_at=isoformat(tenant.trial_ends_at),
    )


class MeController(Controller):
    path = "/me"
    tags = ["Profile"]

    @get("", summary="Get current user and tenant", guards=[requires_role(VIEWER)])
    async def me(
        self, db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> MeOut:
        user, tenant = await service.get_me(db_session, principal)
        return MeOut(user=user_out(user), tenant=tenant_out(tenant))

    @patch("", summary="Update display name", guards=[requires_role(VIEWER)])
    async def rename(
        self,
        data: JSONBody[MePatch],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> NameOut:
        user = await service.rename_me(db_session, principal, data.name)
        return NameOut(name=user.name)


class UsersController(Controller):
    path = "/users"
    tags = ["Users"]

    @get("", summary="List team members", guards=[requires_role(VIEWER)])
    async def list_users(self, db_session: NamedDependency[AsyncSession]) -> UsersOut:
        users = await service.list_users(db_session)
        errors = await service.invitation_errors(db_session, users)
        members = [
            TeamMemberOut(**msgspec.structs.asdict(user_out(user)), invitation_error=errors.get(user.id))
            for user in users
        ]
        return UsersOut(users=members, total=len(users))

    @post(
        "/invite",
        status_code=201,
        summary="Invite a new team member",
        guards=[requires_role(ADMIN)],
        opt=answers(409),
    )
    async def invite(
        self,
        data: JSONBody[InviteIn],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> InviteOut:
        user = await service.invite(db_session, principal, data.email, data.name, data.role)
        return InviteOut(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            message="Invitation sent. The user will receive an email with login instructions.",
        )

    @patch("/{user_id:str}", summary="Change a user's role", guards=[requires_role(OWNER)])
    async def change_role(
        self,
        user_id: FromPath[str],
        data: JSONBody[RolePatch],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> RoleOut:
        user = await service.change_role(db_session, principal, user_id, data.role)
        await db_session.flush()
        return RoleOut(user_id=user.id, role=user.role, updated_at=isoformat(user.updated_at) or "")

    @delete("/{user_id:str}", status_code=204, summary="Remove a team member", guards=[requires_role(ADMIN)])
    async def remove(
        self,
        user_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> None:
        await service.remove_user(db_session, principal, user_id)
