"""Route guards: the role a route requires, declared on the route itself.

Every route that is not public carries exactly one ``requires_role(...)`` guard. The caller was
authenticated once, before the guards run (``AuthenticationMiddleware``); the guard only compares roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from vigilare.auth.roles import ROLES, Principal
from vigilare.errors import Unauthorized


@dataclass(frozen=True)
class RoleGuard:
    """Lets the request through when the caller's role is ``minimum`` or higher, else 403."""

    minimum: str

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):  # fail closed: a guarded route is never anonymous
            raise Unauthorized("missing Bearer token")
        principal.require(self.minimum)


def requires_role(minimum: str) -> RoleGuard:
    if minimum not in ROLES:
        raise ValueError(f"unknown role {minimum!r}")
    return RoleGuard(minimum)
