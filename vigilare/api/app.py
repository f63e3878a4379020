"""The Litestar application, assembled in one place."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

import vigilare
from vigilare import lifecycle
from vigilare.api.console.errors import pages_for_browsers
from vigilare.api.console.pages import template_config
from vigilare.api.console.routes import console_routes
from vigilare.api.deps import dependencies
from vigilare.api.errors import EXCEPTION_HANDLERS
from vigilare.api.middleware import RateLimitMiddleware
from vigilare.api.observability import HttpMetricsMiddleware, count_unrouted
from vigilare.api.openapi import SECURITY_SCHEME, document
from vigilare.api.routes import api_router
from vigilare.api.state import AppServices
from vigilare.auth.tokens import TokenIssuer
from vigilare.billing.gateway import open_stripe_gateway
from vigilare.config import Settings
from vigilare.db.engine import create_engine, create_session_factory, owned_tables
from vigilare.db.migrate import schema_is_current, upgrade_to_head
from vigilare.errors import ServiceUnavailable
from vigilare.jobs import create_queue, load_jobs
from vigilare.ratelimit import Counter, FallbackCounter, MemoryCounter, RedisCounter, redis_client

logger = logging.getLogger("vigilare.api")


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
        # Shared by every API process; this process's own while Redis is unreachable.
        return FallbackCounter(
            RedisCounter(redis_client(settings.redis_url), prefix=f"{settings.queue_name}:rl:")
        )
    return MemoryCounter()


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    settings: Settings = app.state["settings"]
    # The API imports every job module, as a worker does, so both run the same lifecycle hooks;
    # they also cover the jobs this process runs itself (the in-process executor). Start-up hooks
    # run first, before any connection: a broken scenario plugin stops start-up with its name.
    load_jobs()
    async with lifecycle.running(settings):
        engine = create_engine(
            settings.app_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        try:
            await prepare_database(settings, engine)
            await owned_tables(engine)
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
            settle_heap()
            try:
                yield
            finally:
                await queue.close()
                await counter.close()
                if stripe_gateway is not None:
                    await stripe_gateway.close()
        finally:
            await engine.dispose()


def settle_heap() -> None:
    """Exempt what start-up built from the garbage collector's full passes (``gc.freeze``).

    The API process holds a few hundred thousand long-lived objects (the framework, SQLAlchemy, the
    routes, plugins) that live as long as it does. Every full collection walked them all: under load,
    pauses of hundreds of milliseconds every few dozen requests, the whole of the API's p99 latency.
    Frozen, they are never scanned again; objects made by requests are collected as before.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings) -> Litestar:
    app = Litestar(
        # The API at the root, as the reference has it; the web console under /app.
        route_handlers=[api_router(), *console_routes(settings)],
        dependencies=dependencies(),
        # The API's {"error": ...} bodies; pages for the console and the pages browsers land on.
        exception_handlers=pages_for_browsers(EXCEPTION_HANDLERS),
        template_config=template_config(),
        # Before authentication: a flood is refused before any token is looked at.
        # Outermost: every routed request is counted, the refused ones too.
        middleware=[HttpMetricsMiddleware(), RateLimitMiddleware()],
        after_exception=[count_unrouted],
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
                    SECURITY_SCHEME: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        cors_config=CORSConfig(allow_origins=[]),
        debug=False,
    )
    # Error bodies, security per operation and every status each operation answers.
    document(app)
    return app


def create_app_from_environment() -> Litestar:
    """The app of one `vigilare serve --workers N` process, configured from ``VIGILARE_*``."""
    from vigilare.config import get_settings

    return create_app(get_settings())


def _attach_settings(config: Any, settings: Settings) -> Any:
    from litestar.datastructures import State

    config.state = State({"settings": settings})
    return config
