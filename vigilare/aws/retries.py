"""Retries with a budget of their own per account scan.

Scans share one botocore client per (service, region) (vigilare.aws.clients), and botocore's
``standard`` retry mode keeps its retry quota per client: one customer's throttled account would
drain the quota every other scan on the worker retries from, and their throttled calls would fail
without a retry. So the shared clients do not retry (``total_max_attempts`` 1) and each account
scan retries its own calls here, with botocore's standard policy (up to 5 attempts; a quota of 500
tokens, 5 per retry, 10 per retried timeout, paid back on success; exponential backoff with full
jitter, at most 20 s) and one addition: when AWS throttles the account, every call of that scan
waits out the backoff, not only the throttled one, since the limit is the account's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

RetryKind = Literal["throttled", "transient", "timeout"]

# Error codes AWS services answer when a caller goes over a rate (botocore's standard list).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


_CONNECTION_ERRORS = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError)


def retry_kind(exc: BaseException) -> RetryKind | None:
    """Whether a failed call is worth another attempt, and why; None for errors that would repeat."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in THROTTLING_CODES or status == 429:
            return "throttled"
        if code in TRANSIENT_CODES or status in TRANSIENT_STATUSES:
            return "transient"
        return None
    if isinstance(
        exc, ReadTimeoutError | ConnectTimeoutError | EndpointConnectionError | ConnectionClosedError
    ):
        return "timeout"
    return None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    quota: int = 500
    retry_cost: int = 5
    timeout_cost: int = 10
    success_refund: int = 1
    base_delay: float = 1.0
    max_delay: float = 20.0


DEFAULT_RETRY_POLICY = RetryPolicy()


class RetryBudget:
    """One account scan's retry quota and throttling pause (never shared between scans)."""

    def __init__(
        self,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        *,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self.available = policy.quota
        self.retries = 0
        self.throttled = 0
        self._clock = clock
        self._jitter = jitter
        self._paused_until = 0.0

    def take(self, kind: RetryKind) -> int | None:
        """Tokens for one retry, or None when the quota cannot pay for it (no retry then)."""
        cost = self.policy.timeout_cost if kind == "timeout" else self.policy.retry_cost
        if cost > self.available:
            return None
        self.available -= cost
        self.retries += 1
        return cost

    def succeeded(self, paid: int) -> None:
        """A call succeeded: pay back what its retries cost (or the small refund of a first try)."""
        self.available = min(self.policy.quota, self.available + (paid or self.policy.success_refund))

    def backoff(self, kind: RetryKind, attempt: int) -> float:
        """Full-jitter exponential backoff before retry ``attempt`` (1 for the first retry)."""
        delay = self._jitter() * min(self.policy.max_delay, self.policy.base_delay * 2**attempt)
        if kind == "throttled":
            # The account is over its rate: hold every call of this scan, not only this one.
            self.throttled += 1
            self._paused_until = max(self._paused_until, self._clock() + delay)
        return delay

    async def wait_out_throttling(self) -> None:
        delay = self._paused_until - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
