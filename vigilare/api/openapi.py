"""The OpenAPI schema, made to say exactly what the API does.

Litestar describes each operation from its handler; this module completes it once, when the app is
built, from facts the route table already holds:

- every error answer is ``{"error": string}`` (``components.schemas.Error``), never Litestar's
  ``{status_code, detail}``;
- security only where a token is needed: an authenticated operation carries ``BearerToken``; a public
  one (``opt={"public": True}``) none;
- each operation lists every status it can answer. The common ones follow from the route: 400 for an
  operation with parameters or a body (the validation), 401 and 403 behind the role guard (403 when
  the guard asks for more than the viewer role), 404 with a path parameter, 429 from the API-wide
  rate limit, 503 when the database (or a provider) cannot be reached. A handler adds what its
  service raises beyond those with ``opt=answers(409, 422, ...)`` (:func:`vigilare.errors.answers`).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.routes import HTTPRoute

from vigilare.api.middleware import OWN_RATE_LIMIT, PUBLIC, RATE_LIMIT_EXEMPT
from vigilare.auth.guards import RoleGuard
from vigilare.auth.roles import VIEWER
from vigilare.errors import ANSWERS, NO_DATABASE

SECURITY_SCHEME = "BearerToken"
ERROR_SCHEMA = "Error"

# The meanings of the API reference's error table.
DESCRIPTIONS = {
    400: "Bad request: a parameter or the body failed validation (`error` names the field)",
    401: "Unauthorized: missing, invalid, expired or revoked credentials",
    403: "Forbidden: insufficient role, or not included in the tenant's plan",
    404: "Not found (also for another tenant's resource)",
    409: "Conflict: the resource already exists, or is not in a state that allows this",
    413: "Payload too large",
    422: "Unprocessable: AWS refused the cross-account role (the reason is in `error`)",
    429: "Rate limited: too many requests; retry after `Retry-After` seconds",
    503: "Service unavailable: the database or a provider cannot be reached; try again shortly",
}


def error_schema() -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        properties={"error": Schema(type=OpenAPIType.STRING, description="What went wrong, for a person")},
        required=["error"],
        description="Every error answer of the API",
    )


def error_response(status: int) -> OpenAPIResponse:
    headers: dict[str, OpenAPIHeader | Reference] | None = None
    if status == 429:
        headers = {
            "Retry-After": OpenAPIHeader(
                schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
                description="Seconds until the limit resets",
                required=True,
            )
        }
    return OpenAPIResponse(
        description=DESCRIPTIONS[status],
        content={
            "application/json": OpenAPIMediaType(schema=Reference(f"#/components/schemas/{ERROR_SCHEMA}"))
        },
        headers=headers,
    )


def minimum_role(handler: Any) -> str | None:
    for guard in handler.resolve_guards():
        if isinstance(guard, RoleGuard):
            return guard.minimum
    return None


def statuses_of(path: str, operation: Operation, handler: Any) -> set[int]:
    """Every error status the operation can answer."""
    opt = handler.opt
    public = bool(opt.get(PUBLIC))
    found = set(opt.get(ANSWERS, ()))
    parameters = operation.parameters or []
    if parameters or operation.request_body is not None:
        found.add(400)
    if not public:
        found.add(401)
        role = minimum_role(handler)
        if role is not None and role != VIEWER:
            found.add(403)
    if any(getattr(p, "param_in", None) == "path" for p in parameters):
        found.add(404)
    if path not in RATE_LIMIT_EXEMPT and not opt.get(OWN_RATE_LIMIT):
        found.add(429)
    if not opt.get(NO_DATABASE):
        found.add(503)
    return found


def document(app: Litestar) -> None:
    """Complete ``app``'s OpenAPI schema in place (``/openapi.json`` and Litestar's own serve it)."""
    schema = app.openapi_schema
    schema.security = None  # per operation: public operations need none
    if schema.components.schemas is None:
        schema.components.schemas = {}
    schema.components.schemas[ERROR_SCHEMA] = error_schema()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in (schema.paths or {}):
            continue
        path_item = schema.paths[route.path_format]  # type: ignore[index]
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                operation: Operation | None = getattr(path_item, method.lower(), None)
                if operation is None:
                    continue
                if not handler.opt.get(PUBLIC):
                    operation.security = [{SECURITY_SCHEME: []}]
                responses = {
                    code: answer for code, answer in (operation.responses or {}).items() if int(code) < 400
                }
                for status in sorted(statuses_of(route.path_format, operation, handler)):
                    responses[str(status)] = error_response(status)
                operation.responses = responses
