"""Using the web console as a browser would, without one: forms with their CSRF token, cookies."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import httpx

from tests.support.api import DEFAULT_PASSWORD
from tests.support.db import db_session
from vigilare.accounts.models import ACTIVE, PENDING, AwsAccount
from vigilare.ids import new_id, utcnow
from vigilare.scans.models import SUCCEEDED, Scan
from vigilare.scoring.models import ScorePoint
from vigilare.signals.models import Signal

_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
_FLASH = re.compile(r'<div class="flash (ok|error)"[^>]*>(.*?)</div>', re.S)
_TAG = re.compile(r"<[^>]+>")


def text_of(page: str) -> str:
    """What the page says, tags removed and spaces collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", page)).split())


def flash_of(page: str) -> tuple[str, str] | None:
    found = _FLASH.search(page)
    return (found.group(1), text_of(found.group(2))) if found else None


async def csrf_token(client: Any, page: str) -> str:
    """The form token a page hands out (the page also sets the matching cookie)."""
    response = await client.get(page)
    assert response.status_code == 200, (page, response.status_code, response.text[:500])
    found = _CSRF_FIELD.search(response.text)
    assert found, f"no form token on {page}"
    return found.group(1)


async def submit(client: Any, page: str, action: str, fields: dict[str, Any] | None = None) -> Any:
    """Post a form of ``page`` to ``action`` as the browser would (no redirect followed)."""
    token = await csrf_token(client, page)
    return await client.post(action, data={"_csrf_token": token, **(fields or {})}, follow_redirects=False)


async def console_signup(
    client: Any, email: str, name: str = "Acme", password: str = DEFAULT_PASSWORD
) -> Any:
    """Sign up through the form, then log in as the page that follows asks; returns the login's answer."""
    response = await submit(
        client, "/app/signup", "/app/signup", {"name": name, "email": email, "password": password}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/app/login?email="), response.headers["location"]
    logged_in = await console_login(client, email, password)
    assert logged_in.status_code == 303, logged_in.text
    return logged_in


async def console_login(
    client: Any, email: str, password: str = DEFAULT_PASSWORD, next_page: str = ""
) -> Any:
    return await submit(
        client, "/app/login", "/app/login", {"email": email, "password": password, "next": next_page}
    )


async def log_in_as(client: Any, email: str, password: str = DEFAULT_PASSWORD) -> httpx.Cookies:
    """A fresh browser session for ``email`` in ``client``; returns its cookies, to switch back later."""
    client.cookies.clear()
    response = await console_login(client, email, password)
    assert response.status_code == 303, response.text
    return httpx.Cookies(client.cookies)


# --- data as scans leave it -----------------------------------------------------------------

RISKY, FINE, MIDDLING, NEW = "111111111111", "222222222222", "333333333333", "444444444444"


def _account(
    tenant_id: str, aws_account_id: str, srs: int | None, name: str, status: str = ACTIVE
) -> AwsAccount:
    return AwsAccount(
        id=new_id(),
        tenant_id=tenant_id,
        aws_account_id=aws_account_id,
        display_name=name,
        tags=[],
        external_id="e" * 40,
        role_name="VigilareAudit",
        status=status,
        connected_at=utcnow() - timedelta(days=10),
        current_srs=srs,
        capabilities={},
    )


def _signal(
    account: AwsAccount, severity: str, title: str, scenario: str = "iam", age_minutes: int = 0
) -> Signal:
    seen = utcnow() - timedelta(minutes=age_minutes)
    return Signal(
        id=new_id(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        fingerprint=new_id(),
        scenario=scenario,
        kind="quarantine_policy" if severity == "CRITICAL" else "stale_key",
        severity=severity,
        title=title,
        description=f"{title}, seen by the test",
        region="us-east-1",
        resource=f"arn:aws:iam::{account.aws_account_id}:user/{title.split()[-1]}",
        remediation="Rotate it.",
        docs_url="https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
        details={},
        detected_at=seen,
        last_seen_at=seen,
    )


async def seed_accounts(database_url: str, tenant_id: str) -> dict[str, AwsAccount]:
    """Four accounts as scans leave them: at risk (35, signals, history, a scan), fine (96, 30
    LOW signals), middling (61) and just connected (pending)."""
    today = utcnow().date()
    async with db_session(database_url) as session:
        accounts = {
            RISKY: _account(tenant_id, RISKY, 35, "Production"),
            FINE: _account(tenant_id, FINE, 96, "Sandbox"),
            MIDDLING: _account(tenant_id, MIDDLING, 61, "Staging"),
            NEW: _account(tenant_id, NEW, None, "Just connected", status=PENDING),
        }
        session.add_all(accounts.values())
        await session.flush()
        risky = accounts[RISKY]
        session.add_all(
            [
                _signal(risky, "CRITICAL", "Quarantine policy attached to ci-deployer"),
                _signal(risky, "HIGH", "Access key unused for 200 days on alice", age_minutes=5),
                _signal(risky, "HIGH", "Access key unused for 300 days on bob", age_minutes=6),
            ]
        )
        session.add_all(
            _signal(accounts[FINE], "LOW", f"Old key {n} on user{n}", scenario="hygiene", age_minutes=n)
            for n in range(30)
        )
        session.add_all(
            ScorePoint(
                id=new_id(),
                tenant_id=tenant_id,
                account_id=risky.id,
                day=today - timedelta(days=back),
                srs=srs,
                computed_at=utcnow(),
            )
            for back, srs in ((2, 80), (1, 50), (0, 35))
        )
        session.add(
            Scan(
                id=new_id(),
                tenant_id=tenant_id,
                account_id=risky.id,
                trigger="scheduled",
                status=SUCCEEDED,
                queued_at=utcnow() - timedelta(minutes=3),
                finished_at=utcnow() - timedelta(minutes=2),
                outcomes={},
                collection_errors=[],
                evidence={},
                findings_count=3,
            )
        )
    return accounts
