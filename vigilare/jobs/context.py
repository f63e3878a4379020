"""What every job function receives: configuration and the shared clients of its process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vigilare.config import Settings
from vigilare.db.engine import SessionFactory

if TYPE_CHECKING:
    from vigilare.jobs.queue import JobQueue


@dataclass
class JobContext:
    settings: Settings
    session_factory: SessionFactory
    queue: JobQueue
    # Attempt number of the current run (1 for the first); set by the executor.
    attempt: int = 1
    extras: dict[str, Any] = field(default_factory=dict)
