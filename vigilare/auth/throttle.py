"""Login throttling: every attempt is counted before its password is checked.

Three counters, each a fixed 15-minute window, are hit atomically before the check, so concurrent
attempts cannot all slip past a read-then-count (of 30 simultaneous guesses, at most
``max_failures`` are checked):

- the (email, address) pair: over ``max_failures`` attempts, that pair is locked for the window.
  This is the only hard lock, and it stops exactly the one guessing.
- the address: over ``4 * max_failures`` attempts (any emails), the address is refused, except for
  users who have logged in from it before, so one sprayer cannot lock out a whole office.
- the email, across all addresses: from the ``max_failures``-th attempt on, the email is *slowed*:
  one attempt at a time, each followed by a delay that doubles with every attempt in the window
  (``SLOWDOWN_BASE_SECONDS`` up to ``SLOWDOWN_MAX_SECONDS``). A distributed guesser gets few
  guesses; the owner is delayed, not locked out, and not even delayed from an address they have
  logged in from before (a *known-good* address).

A successful login takes its own attempt back (and clears its pair): logging in never counts
against anyone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from vigilare.config import Settings
from vigilare.crypto import derive_key
from vigilare.errors import RateLimited
from vigilare.ratelimit import Counter

LOGIN_WINDOW_SECONDS = 15 * 60
# Attempts from one address (over every email) per window, as a multiple of max_failures.
ADDRESS_FACTOR = 4
SLOWDOWN_BASE_SECONDS = 5.0
SLOWDOWN_MAX_SECONDS = 5 * 60.0

_REFUSED = "too many failed logins; try again later"


def slowdown_seconds(attempts: int, max_failures: int) -> float:
    """The pause after the ``attempts``-th attempt on one email in the window (0: no pause yet)."""
    if attempts < max_failures:
        return 0.0
    return min(SLOWDOWN_BASE_SECONDS * 2 ** (attempts - max_failures), SLOWDOWN_MAX_SECONDS)


@dataclass(frozen=True)
class Attempt:
    """An admitted login attempt; counted as a failure unless :meth:`succeeded` is called."""

    counter: Counter
    pair_key: str
    address_key: str
    email_key: str

    async def succeeded(self) -> None:
        await self.counter.reset(self.pair_key)
        await self.counter.undo(self.address_key)
        await self.counter.undo(self.email_key)


@dataclass(frozen=True)
class LoginThrottle:
    counter: Counter
    max_failures: int
    # Keys the hash under which known-good addresses are stored.
    address_key: bytes

    @classmethod
    def from_settings(cls, counter: Counter, settings: Settings) -> LoginThrottle:
        return cls(counter, settings.login_max_failures, derive_key(settings.secret_key, "login-address"))

    def fingerprint(self, address: str) -> str:
        """What is stored of a known-good address: a keyed hash, not the address itself."""
        return hmac.new(self.address_key, address.encode(), hashlib.sha256).hexdigest()

    async def admit(self, email: str, address: str, known_good: Callable[[], Awaitable[bool]]) -> Attempt:
        """Count the attempt, then raise :class:`RateLimited` if it may not be checked.

        ``known_good`` tells whether ``address`` is one the email's user has logged in from; it
        is asked only when a limit is reached.
        """
        attempt = Attempt(
            counter=self.counter,
            pair_key=f"login:pair:{email}|{address}",
            address_key=f"login:address:{address}",
            email_key=f"login:email:{email}",
        )
        count, retry_after = await self.counter.hit(attempt.pair_key, LOGIN_WINDOW_SECONDS)
        if count > self.max_failures:
            raise RateLimited(_REFUSED, retry_after=retry_after)
        exempt: bool | None = None
        count, retry_after = await self.counter.hit(attempt.address_key, LOGIN_WINDOW_SECONDS)
        if count > self.max_failures * ADDRESS_FACTOR:
            exempt = await known_good()
            if not exempt:
                raise RateLimited(_REFUSED, retry_after=retry_after)
        count, _ = await self.counter.hit(attempt.email_key, LOGIN_WINDOW_SECONDS)
        pause = slowdown_seconds(count, self.max_failures)
        if pause and not (exempt if exempt is not None else await known_good()):
            wait = await self.counter.claim(f"login:slowdown:{email}", pause)
            if wait:
                raise RateLimited(_REFUSED, retry_after=wait)
        return attempt
