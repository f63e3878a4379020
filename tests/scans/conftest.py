"""Fixtures of the scan job's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.jobs.queue import InProcessQueue


@pytest.fixture
async def queue(aws_settings: Settings, db: SessionFactory) -> AsyncIterator[InProcessQueue]:
    """Jobs run in this process, on the test's event loop, with AWS in the sandbox."""
    in_process = InProcessQueue(aws_settings, db)
    try:
        yield in_process
    finally:
        await in_process.close()
