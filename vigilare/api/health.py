"""Liveness and readiness for load balancers."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import text

from vigilare.api.errors import error_response
from vigilare.api.state import AppServices
from vigilare.errors import answers

# A load balancer's probe must get an answer in time, whatever the database does.
READY_DATABASE_TIMEOUT_SECONDS = 3.0


@get(
    "/healthz",
    tags=["Operations"],
    summary="The process is alive",
    opt=answers(public=True, no_database=True),
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["Operations"], summary="Database and queue are reachable", opt={"public": True})
async def readyz(app_services: NamedDependency[AppServices]) -> Response[Any]:
    try:
        async with asyncio.timeout(READY_DATABASE_TIMEOUT_SECONDS):
            async with app_services.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:
        return error_response(503, "database unreachable")
    if not await app_services.queue.ping():
        return error_response(503, "queue unreachable")
    return Response({"status": "ready"})


@get(
    "/openapi.json",
    tags=["Operations"],
    summary="OpenAPI 3.1 schema",
    opt={"public": True},
    include_in_schema=False,
    media_type="application/vnd.oai.openapi+json",
)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.app.openapi_schema.to_schema()
