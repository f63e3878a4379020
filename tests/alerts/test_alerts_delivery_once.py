"""An alert delivery is notified exactly once even when its job is handed to the queue twice: real
`vigilare worker` processes, the real Redis, a real SMTP server that takes its time to accept.

A second hand-off of a delivery's job happens when Redis loses the job while a worker is sending
it (a restart without persistence) and the outbox relay hands it over again, under the same id,
and when the queue has forgotten a finished job whose outbox row survived."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from redis.asyncio import Redis
from sqlalchemy import select

from tests.support.alerts import alert_settings, new_signal, new_tenant_and_account
from tests.support.process import start_worker, stop
from tests.support.services import REDIS_URL
from tests.support.waiting import eventually
from vigilare.alerts.channel_configs import parse_channels
from vigilare.alerts.evaluation import evaluate_rules
from vigilare.alerts.models import AlertDelivery, AlertRule
from vigilare.crypto import SecretBox
from vigilare.ids import new_id, utcnow
from vigilare.jobs import unit_of_work
from vigilare.jobs.queue import ArqQueue


async def _fire(settings: Any, db: Any, queue: ArqQueue) -> AlertDelivery:
    """A CRITICAL signal and an email rule: the alert's delivery, committed and handed over."""
    tenant, account = new_tenant_and_account(srs=10)
    box = SecretBox(settings.secret_key)
    async with unit_of_work(db, queue, cross_tenant=True) as session:
        session.add(tenant)
        await session.flush()
        session.add(account)
        await session.flush()
        session.add(new_signal(account, "iam", "CRITICAL"))
        session.add(
            AlertRule(
                id=new_id(),
                tenant_id=tenant.id,
                name="Critical",
                min_srs=40,
                min_severity="HIGH",
                scenarios=[],
                channels=parse_channels(
                    [{"type": "email", "to": ["oncall@acme.test"]}], box, slack_installed=False
                ),
                enabled=True,
            )
        )
        await session.flush()
        await evaluate_rules(session, account, utcnow())
    async with db() as session:
        return (await session.scalars(select(AlertDelivery))).one()


async def _delivery(db: Any, delivery_id: str) -> AlertDelivery:
    async with db() as session:
        return await session.get_one(AlertDelivery, delivery_id)


async def _forget(redis: Redis, queue_name: str, job_id: str) -> None:
    """What a Redis restart does to a job: its keys and its place in the queue are gone."""
    await redis.delete(f"arq:job:{job_id}", f"arq:in-progress:{job_id}", f"arq:result:{job_id}")
    await redis.zrem(queue_name, job_id)


async def test_a_delivery_handed_over_twice_is_notified_once(
    settings, db, smtp_sink, fake_slack, redis_flush
):
    settings = msgspec.structs.replace(alert_settings(settings, smtp_sink, fake_slack), redis_url=REDIS_URL)
    smtp_sink.slow_down(3)  # each email is in flight for 3 s
    queue = await ArqQueue.connect(settings)
    redis = Redis.from_url(REDIS_URL)
    workers = [start_worker(settings), start_worker(settings)]
    try:
        delivery = await _fire(settings, db, queue)
        job_id = f"alert-delivery:{delivery.id}"

        async def sending() -> bool:
            return (await _delivery(db, delivery.id)).sending_until is not None

        await eventually(sending, timeout=30)
        # While the first run sends, Redis loses the job and it is handed over again, same id:
        # the other worker takes it at once.
        await _forget(redis, settings.queue_name, job_id)
        assert await queue.enqueue("deliver_alert", delivery.id, job_id=job_id) == job_id

        async def delivered() -> AlertDelivery | None:
            found = await _delivery(db, delivery.id)
            return found if found.status == "delivered" else None

        done = await eventually(delivered, timeout=30)
        await asyncio.sleep(5)  # the second run has looked again by now (it waits out the claim)
        assert len(smtp_sink.messages) == 1
        assert (done.attempts, done.sending_until) == (1, None)

        # Long after: the queue has forgotten the finished job and it is handed over once more.
        await _forget(redis, settings.queue_name, job_id)
        assert await queue.enqueue("deliver_alert", delivery.id, job_id=job_id) == job_id

        async def ran_again() -> bool:
            return bool(await redis.exists(f"arq:result:{job_id}"))

        await eventually(ran_again, timeout=30)
        assert len(smtp_sink.messages) == 1
        assert (await _delivery(db, delivery.id)).attempts == 1
    finally:
        for worker in workers:
            stop(worker)
        await queue.close()
        await redis.aclose()
