"""Building a team through the API: invite, read the emailed token, accept, log in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.support.api import DEFAULT_PASSWORD, login
from tests.support.db import cross_tenant_factory
from vigilare.auth.models import User
from vigilare.db.engine import create_engine
from vigilare.users.invitations import create_invitation


async def add_member(client: Any, owner_headers: dict[str, str], email: str, role: str) -> dict[str, Any]:
    """Invite a user with a role and activate them; returns their login tokens.

    The emailed token is not readable here, so a second invitation for the same user is made
    directly, as the invitation job would.
    """
    response = await client.post(
        "/users/invite",
        json={"email": email, "name": email.split("@")[0], "role": role},
        headers=owner_headers,
    )
    assert response.status_code == 201, response.text
    # The test client runs the app on its own event loop: use an engine of this loop.
    engine = create_engine(client.app.state["settings"].database_url)
    try:
        async with cross_tenant_factory(engine)() as session:
            user = await session.scalar(select(User).where(User.email == email))
            assert user is not None
            token = await create_invitation(session, user, None)
            await session.commit()
    finally:
        await engine.dispose()
    accepted = await client.post("/auth/accept-invite", json={"token": token, "password": DEFAULT_PASSWORD})
    assert accepted.status_code == 200, accepted.text
    return await login(client, email)
