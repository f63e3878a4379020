"""Background jobs: the only package that knows arq.

Define a job where its domain lives, and register it once, with its name and how it runs::

    from vigilare.jobs import JobContext, Retry, enqueue_after_commit, job

    @job("send_invitation", max_tries=5, timeout=60)
    async def send_invitation(ctx: JobContext, tenant_id: str, user_id: str) -> None:
        async with ctx.unit_of_work(tenant_id) as session:  # commits, then hands its queued jobs over
            ...
        if should_try_again and not ctx.is_last_attempt:
            raise Retry(defer_seconds=10 * ctx.attempt)

and queue it by the function itself, never by its name, from inside a transaction::

    enqueue_after_commit(session, send_invitation, user.tenant_id, user.id, job_id=f"invite:{user.id}")

The commit writes the job to the outbox (``job_outbox``) in the same transaction, and the boundary
(the request, or the ``unit_of_work`` of another job) hands it to the queue after the commit; a
rollback drops it. What the queue did not take then (Redis down, the process killed) or lost later
(a Redis restart) the relay (``vigilare.jobs.relay``, in every worker) hands over again, under the
same job id. ``job_id`` dedupes; arguments must be JSON values.

- ``@job(name, max_tries=5, timeout=300, every=None)``: ``max_tries`` counts every run, the first
  included; ``timeout`` bounds one run (exceeded: the run fails, no retry); ``every`` (a function of
  the settings, in seconds) makes it periodic. Both executors honour all three.
- ``JobContext``: ``settings``, ``session_factory``, ``queue``, ``extras`` (process-wide clients),
  ``attempt``, ``max_tries``, ``is_last_attempt`` and ``unit_of_work(tenant_id)`` — one tenant's
  rows — or ``unit_of_work(cross_tenant=True)``, every tenant's (row-level security: a session is
  always one or the other).
- Executors: an arq worker on Redis (``vigilare worker``) when ``VIGILARE_REDIS_URL`` is set, else
  tasks of the API process (``InProcessQueue``); ``create_queue`` picks one, ``JobQueue.ping()``
  tells readiness. Job modules are listed in ``registry.JOB_MODULES`` so both import the same jobs.
- Process start-up and shutdown (client pools, registries) are not the queue's business: packages
  register hooks with ``vigilare.lifecycle``; the API and the worker run them.
"""

from vigilare.jobs.context import JobContext
from vigilare.jobs.outbox import (
    enqueue_after_commit,
    enqueue_each_after_commit,
    flush_after_commit,
    unit_of_work,
)
from vigilare.jobs.queue import JobQueue, create_queue
from vigilare.jobs.registry import Retry, job, load_jobs
from vigilare.jobs.state import JobState

__all__ = [
    "JobContext",
    "JobQueue",
    "JobState",
    "Retry",
    "create_queue",
    "enqueue_after_commit",
    "enqueue_each_after_commit",
    "flush_after_commit",
    "job",
    "load_jobs",
    "unit_of_work",
]
