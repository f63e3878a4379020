"""The role ladder of DESIGN.md: each role may do everything the roles below it may."""

from __future__ import annotations

from dataclasses import dataclass

from vigilare.errors import Forbidden

ROLES = ("viewer", "member", "admin", "owner")
INVITABLE_ROLES = ("admin", "member", "viewer")
VIEWER, MEMBER, ADMIN, OWNER = ROLES


def role_at_least(role: str, minimum: str) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: str
    tenant_id: str
    role: str
    email: str
    name: str
    family_id: str

    def require(self, minimum: str) -> None:
        if not role_at_least(self.role, minimum):
            raise Forbidden(f"this action requires the {minimum} role or higher (you are {self.role})")
