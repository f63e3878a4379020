"""The Litestar application, assembled in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from redis.asyncio import Redis

import vigilare
from vigilare import lifecycle
from vigilare.accounts.controllers import AccountsController
from vigilare.accounts.service import StartMonitoring
from vigilare.alerts.controllers import AlertRulesController, AlertsController, SlackIntegrationController
from vigilare.api.deps import client_address, provide_db_session, provide_principal, provide_services
from vigilare.api.errors import EXCEPTION_HANDLERS, error_response
from vigilare.api.health import docs, healthz, openapi_json, readyz
from vigilare.api.state import AppServices
from vigilare.api.throttle import Counter, MemoryCounter, RedisCounter
from vigilare.auth.controllers import AuthController
from vigilare.auth.tokens import TokenIssuer
from vigilare.billing.controllers import BillingController, StripeWebhookController
from vigilare.billing.gateway import open_stripe_gateway
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory
from vigilare.db.migrate import schema_is_current, upgrade_to_head
from vigilare.errors import ServiceUnavailable
from vigilare.exports.controllers import ExportsController, download_export
from vigilare.jobs import create_queue, load_jobs
from vigilare.scans.controllers import ScansController
from vigilare.scans.scheduler import start_monitoring
from vigilare.scoring.controllers import ScoreController
from vigilare.users.controllers import MeController, UsersController

logger = logging.getLogger("vigilare.api")

ROUTE_HANDLERS: list[Any] = [
    AuthController,
    MeController,
    UsersController,
    AccountsController,
    ScansController,
    ScoreController,
    ExportsController,
    download_export,
    BillingController,
    StripeWebhookController,
    AlertRulesController,
    AlertsController,
    SlackIntegrationController,
    healthz,
    readyz,
    openapi_json,
    docs,
]

RATE_LIMIT_EXEMPT = frozenset({"/healthz", "/readyz"})


class SchemaNotCurrent(ServiceUnavailable):
    pass


async def prepare_database(settings: Settings, engine: Any) -> None:
    """Migrate an embedded SQLite file; refuse to run on an un-migrated server database."""
    if await schema_is_current(engine, settings.database_url):
        return
    if settings.is_sqlite:
        import asyncio

        logger.info("migrating the embedded SQLite database to the current schema")
        await asyncio.to_thread(upgrade_to_head, settings.database_url)
        return
    raise SchemaNotCurrent(
        "the database schema is not current: run `vigilare migrate` before starting the API"
    )


def _counter(settings: Settings) -> Counter:
    if settings.redis_url:
        return RedisCounter(Redis.from_url(settings.redis_url), prefix=f"{settings.queue_name}:rl:")
    return MemoryCounter()


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    settings: Settings = app.state["settings"]
    # The API imports every job module, as a worker does, so both run the same lifecycle hooks;
    # they also cover the jobs this process runs itself (the in-process executor).
    load_jobs()
    async with lifecycle.running(settings):
        engine = create_engine(settings.database_url)
        try:
            await prepare_database(settings, engine)
            session_factory = create_session_factory(engine)
            queue = await create_queue(settings, session_factory)
            counter = _counter(settings)
            stripe_gateway = open_stripe_gateway(settings)
            app.state["services"] = AppServices(
                settings=settings,
                engine=engine,
                session_factory=session_factory,
                queue=queue,
                counter=counter,
                issuer=TokenIssuer(settings.secret_key),
                stripe=stripe_gateway,
            )
            try:
                yield
            finally:
                await queue.close()
                await counter.close()
                if stripe_gateway is not None:
                    await stripe_gateway.close()
        finally:
            await engine.dispose()


async def _rate_limit(request: Request[Any, Any, Any]) -> Response[Any] | None:
    services: AppServices = request.app.state["services"]
    limit = services.settings.rate_limit_per_minute
    if limit <= 0 or request.url.path in RATE_LIMIT_EXEMPT:
        return None
    client = client_address(request, services.settings.trust_forwarded_for)
    count, retry_after = await services.counter.hit(f"api:{client}", 60)
    if count > limit:
        return error_response(429, "rate limit exceeded; slow down", {"Retry-After": str(retry_after)})
    return None


def provide_start_monitoring() -> StartMonitoring:
    """Verifying an account starts its scans; accounts gets the function from here because scans
    depends on accounts, never the reverse."""
    return start_monitoring


def create_app(settings: Settings) -> Litestar:
    return Litestar(
        route_handlers=ROUTE_HANDLERS,
        dependencies={
            "db_session": Provide(provide_db_session),
            "principal": Provide(provide_principal),
            "app_services": Provide(provide_services),
            "start_monitoring": Provide(provide_start_monitoring, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=_rate_limit,
        lifespan=[_lifespan],
        state=None,
        on_app_init=[lambda config: _attach_settings(config, settings)],
        openapi_config=OpenAPIConfig(
            title="Vigilare API",
            version=vigilare.__version__,
            description="Watches AWS accounts for the signals that come before a suspension.",
            path="/schema",
            render_plugins=[],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        cors_config=CORSConfig(allow_origins=[]),
        debug=False,
    )


def _attach_settings(config: Any, settings: Settings) -> Any:
    from litestar.datastructures import State

    config.state = State({"settings": settings})
    return config
