"""The job queue: the only package that knows arq.

Business code registers job functions with ``@job`` and asks for work with
``enqueue_after_commit(session, ...)``; whether an arq worker on Redis or the API process itself
runs the job is decided here, in one place.
"""

from vigilare.jobs.context import JobContext
from vigilare.jobs.outbox import enqueue_after_commit, flush_after_commit
from vigilare.jobs.queue import JobQueue, create_queue
from vigilare.jobs.registry import Retry, job

__all__ = [
    "JobContext",
    "JobQueue",
    "Retry",
    "create_queue",
    "enqueue_after_commit",
    "flush_after_commit",
    "job",
]
