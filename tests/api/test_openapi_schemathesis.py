"""The published schema is the truth: schemathesis fuzzes a real `vigilare serve` from its /openapi.json.

Bounded (a fixed number of examples per operation, a fixed seed), authenticated as the owner of a
seeded tenant, every check on: no 5xx, every status documented, every body as documented
(``{"error": string}`` for errors), headers and content types as documented, auth enforced where
the schema says so. Stripe is a local stand-in (tests/support/stripe_standin.py), so billing answers
as it would when configured.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import DEFAULT_PASSWORD
from tests.support.process import ServerProcess, serve, vigilare_env
from tests.support.stripe_standin import running_stripe_standin

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 8
SEED = 15


@pytest.fixture
def server(pg_url: str, queue_name: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with running_stripe_standin() as stripe_base:
        env = {
            "VIGILARE_DATABASE_URL": pg_url,
            "VIGILARE_SECRET_KEY": "schemathesis-" + "k" * 40,
            "VIGILARE_DATA_DIR": str(tmp_path / "data"),
            "VIGILARE_QUEUE_NAME": queue_name,
            # The fuzzer sends thousands of requests from one address.
            "VIGILARE_RATE_LIMIT_PER_MINUTE": "0",
            "VIGILARE_LOGIN_MAX_FAILURES": "100000",
            "VIGILARE_STRIPE_API_KEY": "sk_test_schemathesis",
            "VIGILARE_STRIPE_API_BASE": stripe_base,
            "VIGILARE_STRIPE_WEBHOOK_SECRET": "whsec_schemathesis",
            "VIGILARE_STRIPE_PRICE_SOLO": "price_solo",
            "VIGILARE_STRIPE_PRICE_TEAM": "price_team",
            "VIGILARE_STRIPE_PRICE_AGENCY": "price_agency",
            "VIGILARE_SLACK_CLIENT_ID": "1234.5678",
            "VIGILARE_SLACK_CLIENT_SECRET": "slack-secret",
            # No AWS is reachable from here: verification fails fast, as AWS refusing would.
            "VIGILARE_AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }
        with serve(env) as server:
            yield server


OWNER = "owner@schemathesis.test"


def owner_token(base_url: str) -> str:
    signed_up = httpx.post(
        f"{base_url}/auth/signup",
        json={"email": OWNER, "password": DEFAULT_PASSWORD, "name": "Owner"},
        timeout=30,
    )
    assert signed_up.status_code == 201, signed_up.text
    return login_token(base_url)


def login_token(base_url: str, email: str = OWNER) -> str:
    tokens = httpx.post(
        f"{base_url}/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}, timeout=30
    )
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"])


def _schemathesis(server: ServerProcess, token: str, paths: list[str], report: Path) -> None:
    """One bounded schemathesis run as ``token``'s holder (``paths``: --include/--exclude options)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--header",
        f"Authorization: Bearer {token}",
        *paths,
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(report),
    ]
    report.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        command,
        cwd=report,
        env=vigilare_env({"NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = result.stdout + result.stderr
    (report / "schemathesis.txt").write_text(output)
    assert result.returncode == 0, output[:24000] + "\n--- server ---\n" + server.text()[-3000:]
    assert "No issues found" in output or " passed" in output, output[-4000:]


def test_the_running_api_matches_its_openapi_schema(server: ServerProcess, tmp_path: Path) -> None:
    token = owner_token(server.base_url)
    # Logging out would end the owner's login for every operation after it: every other operation
    # first, then logout alone, on a login of its own (its later examples meet a revoked token: 401).
    _schemathesis(server, token, ["--exclude-path", "/auth/logout"], tmp_path / "all")
    _schemathesis(
        server, login_token(server.base_url), ["--include-path", "/auth/logout"], tmp_path / "logout"
    )
