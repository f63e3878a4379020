"""Queues that take many jobs in one round trip: the scheduler's tick hands thousands of scans to
the queue after its commit, which one ``enqueue`` per job (three Redis round trips each with arq)
could not do within the hand-off's time limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

# One queued job: (registered name, arguments, job id, defer seconds).
QueuedJob = tuple[str, tuple[Any, ...], str, float]


@runtime_checkable
class BulkJobQueue(Protocol):
    async def enqueue_many(self, jobs: Sequence[QueuedJob]) -> int:
        """Queue each job unless its id is already queued, running or finished (as ``enqueue``
        does); returns how many were queued."""
