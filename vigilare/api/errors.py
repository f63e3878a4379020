"""The single place that turns exceptions into the API's ``{"error": "..."}`` body."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from vigilare.errors import VigilareError
from vigilare.outages import unavailable_dependency

logger = logging.getLogger("vigilare.api")

# What an answer of 503 for an outage suggests to the client (seconds).
OUTAGE_RETRY_AFTER = "5"


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response({"error": message}, status_code=status_code, headers=headers or {})


def handle_vigilare_error(_request: Request[Any, Any, Any], exc: VigilareError) -> Response[Any]:
    return error_response(exc.status_code, exc.message, exc.headers)


def _validation_message(exc: ValidationException) -> str:
    """Name the field: "min_srs: Expected `int`, got `str`"."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        message = message.split(" - at `")[0]
        key = item.get("key")
        if key and key != "body":
            parts.append(f"{key}: {message}")
        else:
            parts.append(message)
    if parts:
        return "; ".join(parts)
    return exc.detail or "invalid request"


def handle_http_exception(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return error_response(400, _validation_message(exc))
    status = exc.status_code
    message = exc.detail
    if status == 404:
        message = "not found"
    elif status == 405:
        message = "method not allowed"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in ("retry-after", "allow")}
    return error_response(status, message, headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    reason = unavailable_dependency(exc)
    if reason is not None:
        logger.warning("%s %s answered 503: %s (%r)", request.method, request.url.path, reason, exc)
        return error_response(HTTP_503_SERVICE_UNAVAILABLE, reason, {"Retry-After": OUTAGE_RETRY_AFTER})
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    VigilareError: handle_vigilare_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
