"""``JobQueue.ping()`` says whether the queue can take jobs now, and ``/readyz`` answers 503 when it
cannot, for either executor."""

from __future__ import annotations

import time

import msgspec
from arq import ArqRedis
from litestar.testing import AsyncTestClient

from tests.support.net import free_port
from tests.support.services import REDIS_URL
from vigilare.api.app import create_app
from vigilare.jobs.queue import ArqQueue, InProcessQueue


def _unreachable_queue(queue_name: str) -> ArqQueue:
    """An arq queue on a port nothing listens on (a Redis that went away)."""
    return ArqQueue(ArqRedis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1), queue_name)


async def test_arq_queue_ping(settings):
    reachable = await ArqQueue.connect(msgspec.structs.replace(settings, redis_url=REDIS_URL))
    try:
        assert await reachable.ping() is True
    finally:
        await reachable.close()
    unreachable = _unreachable_queue(settings.queue_name)
    try:
        started = time.monotonic()
        assert await unreachable.ping() is False
        assert time.monotonic() - started < 5  # a readiness probe must not hang
    finally:
        await unreachable.close()


async def test_in_process_queue_ping(settings, db):
    queue = InProcessQueue(settings, db)
    assert await queue.ping() is True
    await queue.close()
    assert await queue.ping() is False


async def test_readyz_on_redis_and_when_the_queue_is_unreachable(settings):
    configured = msgspec.structs.replace(settings, redis_url=REDIS_URL)
    async with AsyncTestClient(app=create_app(configured)) as client:
        services = client.app.state["services"]
        assert isinstance(services.queue, ArqQueue)
        assert (await client.get("/readyz")).json() == {"status": "ready"}

        working, services.queue = services.queue, _unreachable_queue(settings.queue_name)
        try:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json() == {"error": "queue unreachable"}
        finally:
            await services.queue.close()
            services.queue = working
        assert (await client.get("/readyz")).status_code == 200


async def test_readyz_when_the_in_process_queue_is_closed(client):
    services = client.app.state["services"]
    assert isinstance(services.queue, InProcessQueue)
    assert (await client.get("/readyz")).status_code == 200
    stopped = InProcessQueue(services.settings, services.session_factory)
    await stopped.close()
    working, services.queue = services.queue, stopped
    try:
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json() == {"error": "queue unreachable"}
    finally:
        services.queue = working
