"""What a queue knows of a job (the outbox relay and recovery ask it)."""

from __future__ import annotations

import enum


class JobState(enum.Enum):
    """Where a job is, as the queue knows it (a job the queue does not know has no state)."""

    WAITING = "waiting"  # queued, deferred, or waiting for its next try
    RUNNING = "running"  # taken by a worker (which may have died: the queue cannot tell)
    FINISHED = "finished"  # ran to an end, and the queue still remembers it
