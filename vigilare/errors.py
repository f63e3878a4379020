"""One error hierarchy: each expected condition maps to one HTTP status and a clear message.

Services raise these; the API renders every one of them as ``{"error": "..."}``.
"""

from __future__ import annotations


class VigilareError(Exception):
    status_code = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(VigilareError):
    status_code = 400


class Unauthorized(VigilareError):
    status_code = 401


class Forbidden(VigilareError):
    status_code = 403


class NotFound(VigilareError):
    status_code = 404


class Conflict(VigilareError):
    status_code = 409


class Unprocessable(VigilareError):
    status_code = 422


class RateLimited(VigilareError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class ServiceUnavailable(VigilareError):
    status_code = 503


# A route's ``opt`` key listing the statuses its service can answer beyond those that follow from the
# route itself (validation, authentication, role, path parameters, rate limit, database): the OpenAPI
# schema documents them (``vigilare.api.openapi``).
ANSWERS = "answers"
# A route's ``opt`` key for routes that never touch the database (no 503 to document).
NO_DATABASE = "no_database"


def answers(*statuses: int, **opt: object) -> dict[str, object]:
    """A route's ``opt``: the error statuses its service raises (``answers(404, 409)``), plus ``opt``."""
    return {ANSWERS: tuple(statuses), **opt}
