from __future__ import annotations

from typing import Any

import msgspec


class ScanStartedOut(msgspec.Struct):
    message: str
    execution_arn: str


class ScanOut(msgspec.Struct):
    scan_id: str
    aws_account_id: str
    trigger: str
    status: str
    queued_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    error: str | None
    findings_count: int
    scenarios: dict[str, Any]
    collection_errors: list[dict[str, Any]]
