"""Counting AWS calls for ``/metrics``: by service, operation and outcome.

The outcome is what an operator acts on: ``ok``; ``throttled`` (the customer's API rate budget is
spent, after botocore's own retries: the error codes botocore's standard retry mode treats as
throttling); ``denied`` (the role lacks a permission, or an SCP denies it); ``error`` (anything else,
AWS's or the network's). Operation names are AWS's (``DescribeInstances``), from the client's own
model, so the label's values are bounded by the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from vigilare import metrics
from vigilare.aws.retries import THROTTLING_CODES

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
        "OptInRequired",
        "SubscriptionRequiredException",
    }
)


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in THROTTLING_CODES:
            return "throttled"
        if code in DENIED_CODES:
            return "denied"
    return "error"


def api_name(client: Any, method: str) -> str:
    """``describe_instances`` -> ``DescribeInstances`` (as the client's model names it)."""
    try:
        mapping: dict[str, str] = client.meta.method_to_api_mapping
    except AttributeError:
        return method
    return mapping.get(method, method)


def service_name(client: Any) -> str:
    try:
        return str(client.meta.service_model.service_name)
    except AttributeError:
        return "unknown"


@dataclass
class CallCount:
    calls: int = 0


# The count of the scan running in this task (and the tasks it starts, which inherit it).
_CURRENT: ContextVar[CallCount | None] = ContextVar("vigilare_aws_call_count", default=None)


@contextmanager
def counting_calls() -> Iterator[CallCount]:
    """Count the AWS calls made inside the block, by this task and the tasks it starts: one scan's
    calls (``vigilare_scan_aws_calls``), whatever other scans the process runs at the same time."""
    count = CallCount()
    token = _CURRENT.set(count)
    try:
        yield count
    finally:
        _CURRENT.reset(token)


@contextmanager
def counted_call(client: Any, service: str | None, method: str) -> Iterator[None]:
    """Count the call made inside the block (a ``StopAsyncIteration`` ending a listing is no call).
    ``service`` None: the client's own service name."""
    service = service or service_name(client)
    count = _CURRENT.get()
    if count is not None:
        count.calls += 1
    try:
        yield
    except StopAsyncIteration:
        raise
    except BaseException as error:
        metrics.AWS_CALLS.labels(service, api_name(client, method), outcome_of(error)).inc()
        raise
    metrics.AWS_CALLS.labels(service, api_name(client, method), "ok").inc()
