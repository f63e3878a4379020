"""Using the web console as a browser would, without one: forms with their CSRF token, cookies."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.support.api import DEFAULT_PASSWORD

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
    response = await submit(
        client, "/app/signup", "/app/signup", {"name": name, "email": email, "password": password}
    )
    assert response.status_code == 303, response.text
    return response


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
