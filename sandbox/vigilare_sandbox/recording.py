"""A record of the AWS requests that reach the gateway, for tests that count or inspect calls
(what a customer's account is billed or rate-limited on, which ExternalId an AssumeRole carried).

Recording is off unless asked for (`Sandbox.recording()`): a long-running sandbox (the demo, the
benchmark) keeps nothing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from vigilare_sandbox.wire import WireRequest


@dataclass(frozen=True)
class RecordedRequest:
    service: str  # SigV4 signing name
    target: str  # X-Amz-Target ("" for query and REST protocols)
    path: str
    body: bytes
    params: dict[str, str]  # query-protocol parameters (STS, IAM, EC2...): Action, RoleArn, ExternalId...
    method: str = "POST"  # HTTP method (REST protocols name the operation by method and path)

    @property
    def operation(self) -> str:
        """The operation name: X-Amz-Target's suffix or the query protocol's Action ("" for REST)."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        return self.params.get("Action", "")

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body)) if self.body else {}

    def form(self) -> dict[str, str]:
        return dict(self.params)


@dataclass
class RequestLog:
    requests: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, request: WireRequest) -> None:
        if request.scope is None:
            return  # unsigned: moto's own /moto-api calls, not AWS requests
        recorded = RecordedRequest(
            request.scope.service, request.target, request.path, request.body, request.form(), request.method
        )
        with self._lock:
            self.requests.append(recorded)

    def to(self, service: str, operation: str = "") -> list[RecordedRequest]:
        """Requests to a service, optionally only one operation (X-Amz-Target or Action, or a REST
        path ending in it)."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.service == service
                and (not operation or request.operation == operation or request.path.endswith(operation))
            ]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
