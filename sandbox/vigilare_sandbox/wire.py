"""HTTP request/response values and the AWS wire conventions the fake services share.

The gateway turns each HTTP request into a `WireRequest`; the fake answers with a `WireResponse`.
Two protocols matter here (see botocore's service models):

- JSON 1.1 (`X-Amz-Target`): timestamps are epoch seconds, errors are a body `{"__type", "message"}`.
- REST-JSON: timestamps are ISO 8601 strings, errors carry the code in the `x-amzn-ErrorType` header
  and the body.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")

JSON_11 = "application/x-amz-json-1.1"
REST_JSON = "application/json"


@dataclass(frozen=True)
class CredentialScope:
    """Who signed a request, where and for which service (from the SigV4 credential scope)."""

    access_key_id: str
    region: str
    service: str


@dataclass
class WireRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    scope: CredentialScope | None

    @property
    def target(self) -> str:
        return self.headers.get("x-amz-target", "")

    def json_body(self) -> dict[str, Any]:
        if not self.body:
            return {}
        parsed = json.loads(self.body)
        return parsed if isinstance(parsed, dict) else {}

    def form(self) -> dict[str, str]:
        """Query-protocol parameters, from the form body or the query string."""
        params = {key: values[0] for key, values in self.query.items()}
        if self.body and "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            body_params = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
            params.update({key: values[0] for key, values in body_params.items()})
        return params


@dataclass
class WireResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # Headers exactly as an upstream sent them (repeats and case kept); used instead of `headers`.
    raw_headers: list[tuple[str, str]] | None = None

    def header_items(self) -> list[tuple[str, str]]:
        return self.raw_headers if self.raw_headers is not None else list(self.headers.items())


def credential_scope(headers: dict[str, str], query: dict[str, list[str]]) -> CredentialScope | None:
    """Read the SigV4 credential scope from the Authorization header or a presigned query string."""
    source = headers.get("authorization", "")
    if not source and "X-Amz-Credential" in query:
        source = "Credential=" + query["X-Amz-Credential"][0]
    match = _CREDENTIAL_SCOPE.search(source)
    if match is None:
        return None
    access_key_id, _date, region, service = match.groups()
    return CredentialScope(access_key_id=access_key_id, region=region, service=service)


def _request_id_headers() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


def json11_ok(payload: dict[str, Any]) -> WireResponse:
    headers = {"Content-Type": JSON_11, **_request_id_headers()}
    return WireResponse(200, json.dumps(payload).encode(), headers)


def json11_error(status: int, code: str, message: str) -> WireResponse:
    headers = {"Content-Type": JSON_11, **_request_id_headers()}
    body = json.dumps({"__type": code, "message": message}).encode()
    return WireResponse(status, body, headers)


def rest_json_ok(payload: dict[str, Any]) -> WireResponse:
    headers = {"Content-Type": REST_JSON, **_request_id_headers()}
    return WireResponse(200, json.dumps(payload).encode(), headers)


def rest_json_error(status: int, code: str, message: str) -> WireResponse:
    # AWS REST-JSON services name the error in this header; botocore reads it before the body.
    headers = {"Content-Type": REST_JSON, "x-amzn-ErrorType": f"{code}:", **_request_id_headers()}
    body = json.dumps({"message": message, "__type": code}).encode()
    return WireResponse(status, body, headers)


def epoch_seconds(moment: datetime) -> float:
    return moment.timestamp()


def from_epoch(value: float | int | str) -> datetime:
    """Parse a JSON 1.1 request timestamp (botocore sends epoch seconds; accept ISO too)."""
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.fromtimestamp(value, UTC)


def iso_millis(moment: datetime) -> str:
    """The ISO form GuardDuty uses in findings: `2024-05-01T12:00:00.000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
