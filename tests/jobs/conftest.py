from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vigilare.config import Settings
from vigilare.db.engine import SessionFactory, create_engine, create_session_factory


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[SessionFactory]:
    """Sessions on the test's own event loop."""
    engine = create_engine(settings.database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
