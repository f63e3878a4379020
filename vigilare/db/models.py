"""Every table of the application, imported in one place for alembic and the tests."""

from __future__ import annotations

from vigilare.auth.models import Invitation, RefreshToken, Tenant, User
from vigilare.db.base import Base

metadata = Base.metadata

__all__ = ["Invitation", "RefreshToken", "Tenant", "User", "metadata"]
