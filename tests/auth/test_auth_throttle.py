"""Login throttling: counted before the password is checked, so concurrency cannot get past it, and
locking the (email, address) pair rather than the email or a whole office.

The app runs on the test's event loop (``running_app``) so that ``asyncio.gather`` really sends the
requests at the same time; each client comes from its own address.
"""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import pytest

from tests.support.api import DEFAULT_PASSWORD, app_client, running_app
from tests.support.services import REDIS_URL
from vigilare.auth import throttle
from vigilare.config import Settings
from vigilare.errors import RateLimited
from vigilare.ratelimit import MemoryCounter

WRONG = "not-the-password"


def _configured(settings: Settings, store: str) -> Settings:
    return settings if store == "memory" else msgspec.structs.replace(settings, redis_url=REDIS_URL)


async def _signup(app, email: str, address: str = "192.0.2.1") -> None:
    async with app_client(app, address) as client:
        response = await client.post(
            "/auth/signup", json={"email": email, "password": DEFAULT_PASSWORD, "name": "Victim"}
        )
        assert response.status_code == 201, response.text


async def _response(app, address: str, email: str, password: str) -> httpx.Response:
    async with app_client(app, address) as client:
        response = await client.post("/auth/login", json={"email": email, "password": password})
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) > 0 and "error" in response.json()
    return response


async def _login(app, address: str, email: str, password: str) -> int:
    return (await _response(app, address, email, password)).status_code


@pytest.mark.parametrize("store", ["memory", "redis"])
@pytest.mark.parametrize("spread", ["one address", "thirty addresses"])
async def test_thirty_concurrent_wrong_passwords_check_at_most_the_limit(
    settings, redis_flush, store, spread
):
    limit = settings.login_max_failures
    async with running_app(_configured(settings, store)) as app:
        await _signup(app, "victim@throttle.test")
        addresses = [f"198.51.100.{n if spread != 'one address' else 1}" for n in range(30)]
        statuses = await asyncio.gather(
            *(_login(app, address, "victim@throttle.test", WRONG) for address in addresses)
        )
    checked = statuses.count(401)
    assert 1 <= checked <= limit, statuses
    assert statuses.count(429) == len(statuses) - checked, statuses


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_failures_lock_the_pair_not_the_email(settings, redis_flush, store):
    async with running_app(_configured(settings, store)) as app:
        await _signup(app, "pair@throttle.test")
        home = "192.0.2.20"
        assert await _login(app, home, "pair@throttle.test", DEFAULT_PASSWORD) == 200
        for _ in range(settings.login_max_failures):
            assert await _login(app, "198.51.100.66", "pair@throttle.test", WRONG) == 401
        # The address that failed is locked out of this email, even with the right password ...
        locked = await _response(app, "198.51.100.66", "pair@throttle.test", DEFAULT_PASSWORD)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
        # ... but the owner is not: from home they get straight in, ...
        assert await _login(app, home, "pair@throttle.test", DEFAULT_PASSWORD) == 200
        # ... and from a new address they are slowed down by seconds, not locked out for the window.
        slowed = await _response(app, "192.0.2.201", "pair@throttle.test", DEFAULT_PASSWORD)
        assert slowed.status_code == 429
        assert int(slowed.headers["retry-after"]) <= throttle.SLOWDOWN_BASE_SECONDS


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_the_email_is_slowed_globally_and_a_known_good_address_still_gets_in(
    settings, redis_flush, store
):
    async with running_app(_configured(settings, store)) as app:
        await _signup(app, "slowed@throttle.test")
        home = "192.0.2.10"
        assert await _login(app, home, "slowed@throttle.test", DEFAULT_PASSWORD) == 200
        # Attackers spread over many addresses, each below the pair limit.
        statuses = [await _login(app, f"198.51.100.{n}", "slowed@throttle.test", WRONG) for n in range(1, 13)]
        assert statuses[:4] == [401] * 4  # the first failures are free ...
        assert 429 in statuses  # ... then the email is slowed down for everyone ...
        assert statuses.count(401) < len(statuses)
        # ... but it is a delay, not a lock: an unknown address is told when to try again ...
        assert await _login(app, "192.0.2.77", "slowed@throttle.test", DEFAULT_PASSWORD) == 429
        # ... and the owner's known-good address gets straight in with the right password.
        assert await _login(app, home, "slowed@throttle.test", DEFAULT_PASSWORD) == 200
        # A wrong password from that address is still only a failure of its own pair.
        assert await _login(app, home, "slowed@throttle.test", WRONG) == 401


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_an_office_behind_one_address_is_not_locked_out_by_one_sprayer(settings, redis_flush, store):
    office = "203.0.113.50"
    async with running_app(_configured(settings, store)) as app:
        await _signup(app, "regular@office.test")
        await _signup(app, "newcomer@office.test")
        assert await _login(app, office, "regular@office.test", DEFAULT_PASSWORD) == 200
        # Someone in the office sprays one wrong password over many emails.
        for n in range(settings.login_max_failures * 4):
            assert await _login(app, office, f"user{n}@elsewhere.test", WRONG) == 401
        assert await _login(app, office, "someone@elsewhere.test", WRONG) == 429
        # Who logged in from the office before still can; a first login from it waits out the window.
        assert await _login(app, office, "regular@office.test", DEFAULT_PASSWORD) == 200
        assert await _login(app, office, "newcomer@office.test", DEFAULT_PASSWORD) == 429


async def test_a_successful_login_does_not_count_against_the_address(settings):
    async with running_app(settings) as app:
        await _signup(app, "busy@office.test")
        for _ in range(settings.login_max_failures * 4 + 5):
            assert await _login(app, "203.0.113.60", "busy@office.test", DEFAULT_PASSWORD) == 200


async def test_the_slowdown_grows_with_each_attempt_and_ends_with_the_window():
    now = [0.0]
    throttle_ = throttle.LoginThrottle(MemoryCounter(clock=lambda: now[0]), max_failures=5, address_key=b"k")

    async def unknown_address() -> bool:
        return False

    async def attempt(n: int) -> int:
        """Seconds to wait, or 0 when the attempt was admitted (and then failed)."""
        try:
            await throttle_.admit("owner@slow.test", f"198.51.100.{n}", unknown_address)
        except RateLimited as refused:
            return refused.retry_after
        return 0

    assert [await attempt(n) for n in range(4)] == [0, 0, 0, 0]  # free
    assert await attempt(4) == 0  # admitted, and the email now pauses
    waits: list[int] = []
    n = 5
    while not waits or waits[-1] < throttle.SLOWDOWN_MAX_SECONDS:
        wait = await attempt(n)
        n += 1
        if wait:
            waits.append(wait)
            now[0] += wait  # the guesser waits exactly as told, then guesses again
    # One guess per pause, each pause longer than the last, up to the cap.
    assert waits == [5, 20, 80, 300]
    now[0] += throttle.LOGIN_WINDOW_SECONDS + throttle.SLOWDOWN_MAX_SECONDS
    assert await attempt(99) == 0
