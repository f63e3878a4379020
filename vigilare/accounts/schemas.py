from __future__ import annotations

from typing import Annotated, Any

import msgspec

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class AccountIn(msgspec.Struct):
    aws_account_id: str
    display_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class AccountCreatedOut(msgspec.Struct):
    aws_account_id: str
    external_id: str
    sentinel_account_id: str
    status: str
    terraform_snippet: str
    fallback_cli_script: str
    role_name: str
    role_arn: str


class VerifyOut(msgspec.Struct):
    aws_account_id: str
    status: str
    first_scan_execution_arn: str


# gc=False: a listing builds thousands of these a second; plain data, they are never in a reference
# cycle, so the garbage collector need not track them.
class AccountSummaryOut(msgspec.Struct, gc=False):
    aws_account_id: str
    display_name: str | None
    status: str
    current_srs: int | None
    last_scan_at: str | None
    tags: list[str]


class AccountListOut(msgspec.Struct):
    accounts: list[AccountSummaryOut]
    total: int


class PushStatusOut(msgspec.Struct):
    """Push delivery from the account's EventBridge (see ``vigilare.ingest.service.push_status``)."""

    status: str
    """``not_configured``, ``waiting`` (set up, nothing received yet), ``connected`` or ``stale``."""
    last_event_at: str | None
    events_24h: int


class AccountOut(msgspec.Struct):
    aws_account_id: str
    display_name: str | None
    status: str
    current_srs: int | None
    connected_at: str
    last_scan_at: str | None
    last_successful_scan_at: str | None
    tags: list[str]
    external_id: str
    role_arn: str
    verified_at: str | None
    disconnected_at: str | None
    capabilities: dict[str, Any]
    push: PushStatusOut


class MessageOut(msgspec.Struct):
    message: str


class ScanStartedOut(msgspec.Struct):
    message: str
    execution_arn: str
