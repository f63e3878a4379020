"""An alert delivery is notified exactly once even when its job is handed to the queue twice: real
`vigilare worker` processes, the real Redis, a real SMTP server that takes its time to accept.

A second hand-off of a delivery's job happens when Redis loses the job while a worker is sending
it (a restart without persistence) and the outbox relay hands it over again, under the same id,
and when the queue has forgotten a finished job whose outbox row survived."""

from __future__ import annotations

import asyncio
from datetime import timedelta
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


async def test_a_delivery_whose_worker_died_is_sent_again_as_the_same_message(
    settings, db, smtp_sink, fake_slack, redis_flush
):
    """A worker killed after the SMTP server accepted the email and before the delivery was recorded
    leaves the delivery claimed: once the claim lapses it is sent again, within a scheduler tick,
    and the copy carries the first one's Message-ID, which the recipient's mail system drops."""
    settings = msgspec.structs.replace(
        alert_settings(settings, smtp_sink, fake_slack),
        redis_url=REDIS_URL,
        scheduler_tick_seconds=1,
        smtp_from="Vigilare <alerts@mail.acme-alerts.test>",
    )
    queue = await ArqQueue.connect(settings)
    worker = start_worker(settings)
    try:
        delivery = await _fire(settings, db, queue)

        async def delivered() -> AlertDelivery | None:
            found = await _delivery(db, delivery.id)
            return found if found.status == "delivered" else None

        await eventually(delivered, timeout=30)
        assert len(smtp_sink.messages) == 1
        # What a run killed between the send and its record leaves: the delivery still claimed
        # (the claim now lapsed), nothing recorded.
        async with db() as session:
            row = await session.get_one(AlertDelivery, delivery.id)
            row.status, row.delivered_at, row.attempts = "queued", None, 0
            row.sending_until = utcnow() - timedelta(seconds=1)
            await session.commit()

        done = await eventually(delivered, timeout=30)
        assert (done.attempts, done.sending_until) == (1, None)
        assert len(smtp_sink.messages) == 2  # at least once on the wire...
        first, second = (str(message["Message-ID"]).strip() for _rcpt, message in smtp_sink.messages)
        # ...once for the recipient: one Message-ID, derived from the delivery and the mail domain.
        assert first == second == f"<vigilare-alert-delivery-{delivery.id}@mail.acme-alerts.test>"
    finally:
        stop(worker)
        await queue.close()


async def test_a_delivery_whose_worker_died_before_claiming_it_is_handed_over_again(
    settings, db, smtp_sink, fake_slack, redis_flush
):
    """A worker killed after taking a delivery's job and before claiming the delivery leaves the job
    "in progress" in the queue, which arq re-runs only after its longest job timeout (minutes): the
    delivery is handed over again within a few scheduler ticks, and sent once."""
    settings = msgspec.structs.replace(
        alert_settings(settings, smtp_sink, fake_slack), redis_url=REDIS_URL, scheduler_tick_seconds=1
    )
    queue = await ArqQueue.connect(settings)
    redis = Redis.from_url(REDIS_URL)
    delivery = await _fire(settings, db, queue)
    worker = None
    try:
        # What the dead worker left in Redis: its job marked in progress (arq's own key and expiry).
        await redis.set(f"arq:in-progress:alert-delivery:{delivery.id}", b"1", px=300_000)
        worker = start_worker(settings)

        async def delivered() -> AlertDelivery | None:
            found = await _delivery(db, delivery.id)
            return found if found.status == "delivered" else None

        done = await eventually(delivered, timeout=40)
        assert (done.attempts, len(smtp_sink.messages)) == (1, 1)
    finally:
        if worker is not None:
            stop(worker)
        await redis.delete(f"arq:in-progress:alert-delivery:{delivery.id}")
        await queue.close()
        await redis.aclose()
