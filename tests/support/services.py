"""Where the test run's PostgreSQL and Redis are (the real servers; see tests/fixtures/app.py)."""

from __future__ import annotations

import os

PG_ADMIN_URL = os.environ.get("VIGILARE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("VIGILARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
