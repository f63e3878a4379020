"""The console in process (the app on PostgreSQL, spoken to over https as a browser would), and in
a real browser against `vigilare serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, async_playwright

from tests.support.aws import SENTINEL_ACCOUNT_ID, TEST_REGIONS
from tests.support.net import free_port
from tests.support.process import ServerProcess, serve
from tests.support.smtp import SmtpSink
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare_sandbox import Sandbox


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """Its public URL is https, so its cookies are Secure: the client speaks https too."""
    async with AsyncTestClient(app=create_app(settings), base_url="https://vigilare.local") as client:
        yield client


# --- the console in a real browser, against `vigilare serve` ---------------------------------------

# Debian's chromium, driven by Playwright; `playwright install` (which downloads browsers) is never run.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            "the browser tests need Debian's chromium: run scripts/browser.sh (apt-get install chromium)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def console_server(settings: Settings, sandbox: Sandbox, smtp_sink: SmtpSink) -> Iterator[ServerProcess]:
    """`vigilare serve` on PostgreSQL, jobs in process, AWS in the sandbox, mail to the SMTP sink."""
    port = free_port()
    env = {
        "VIGILARE_DATABASE_URL": settings.database_url,
        "VIGILARE_DATABASE_APP_URL": settings.database_app_url,
        "VIGILARE_SECRET_KEY": settings.secret_key,
        "VIGILARE_DATA_DIR": settings.data_dir,
        "VIGILARE_QUEUE_NAME": settings.queue_name,
        "VIGILARE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VIGILARE_RATE_LIMIT_PER_MINUTE": "0",
        "VIGILARE_AWS_ENDPOINT_URL": sandbox.endpoint_url,
        "VIGILARE_SENTINEL_ACCOUNT_ID": SENTINEL_ACCOUNT_ID,
        "VIGILARE_SCAN_REGIONS": ",".join(TEST_REGIONS),
        "VIGILARE_SMTP_HOST": "127.0.0.1",
        "VIGILARE_SMTP_PORT": str(smtp_sink.port),
        "VIGILARE_SMTP_STARTTLS": "false",
    }
    with serve(env, port=port) as server:
        yield server
