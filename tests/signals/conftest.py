"""Signal tests: whole scans of sandbox accounts through the billing, compute and threat scenarios,
and a recorder of the AWS requests a scan makes (what the customer's account is billed and rated on)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.signals.signals_support import AwsRequestLog
from vigilare_sandbox import Sandbox


@pytest.fixture
def aws_requests(sandbox: Sandbox) -> Iterator[AwsRequestLog]:
    """Every request that reaches the sandbox gateway during the test, by signing service."""
    log = AwsRequestLog()
    gateway = sandbox.gateway
    original: Callable[..., Any] = gateway.dispatch

    def recording(method: str, raw_path: str, header_items: list[tuple[str, str]], body: bytes) -> Any:
        log.record(method, raw_path, header_items, body)
        return original(method, raw_path, header_items, body)

    gateway.dispatch = recording  # type: ignore[method-assign]
    try:
        yield log
    finally:
        del gateway.dispatch
