"""Opaque keyset cursors: signed, so a forged or edited ``next_token`` is a 400, never a 500."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from vigilare.crypto import derive_key
from vigilare.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class CursorCodec:
    def __init__(self, secret_key: str) -> None:
        self._key = derive_key(secret_key, "pagination-cursor")

    def encode(self, scope: str, values: list[Any]) -> str:
        payload = msgspec.json.encode({"s": scope, "v": values})
        signature = hmac.digest(self._key, payload, "sha256")[:16]
        return base64.urlsafe_b64encode(signature + payload).decode().rstrip("=")

    def decode(self, scope: str, token: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            signature, payload = raw[:16], raw[16:]
            expected = hmac.digest(self._key, payload, "sha256")[:16]
            if not hmac.compare_digest(signature, expected):
                raise ValueError("bad signature")
            data = json.loads(payload)
            if data.get("s") != scope or not isinstance(data.get("v"), list):
                raise ValueError("wrong scope")
            return list(data["v"])
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            raise BadRequest("next_token: invalid or expired pagination token") from exc


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
    return limit


async def newest_first_page(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    time_column: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[str],
    *,
    cursors: CursorCodec,
    scope: str,
    limit: int,
    next_token: str | None,
) -> tuple[list[Any], str | None]:
    """One page of ``query``, newest first, keyset-paginated on (time, id).

    A query of one entity pages entities; a query of columns pages rows (each with ``time_column``
    and ``id_column`` under their own names).

    ``scope`` binds a token to the listing (and filters) it came from, so it cannot continue another.
    """
    check_limit(limit)
    after = keyset_after(cursors, scope, next_token)
    if after is not None:
        last_time, last_id = after
        query = query.where(or_(time_column < last_time, and_(time_column == last_time, id_column < last_id)))
    ordered = query.order_by(time_column.desc(), id_column.desc()).limit(limit + 1)
    if len(ordered.column_descriptions) == 1:
        rows: list[Any] = list(await session.scalars(ordered))
    else:
        rows = list((await session.execute(ordered)).all())
    token = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = next_page_token(cursors, scope, getattr(last, time_column.key), getattr(last, id_column.key))
    return rows, token


def keyset_after(cursors: CursorCodec, scope: str, next_token: str | None) -> tuple[datetime, str] | None:
    """The (time, id) a ``next_token`` continues after, newest first; None for a first page."""
    if not next_token:
        return None
    values = cursors.decode(scope, next_token)
    try:
        time_iso, last_id = values
        return datetime.fromisoformat(str(time_iso)), str(last_id)
    except ValueError as exc:
        raise BadRequest("next_token: invalid or expired pagination token") from exc


def next_page_token(cursors: CursorCodec, scope: str, last_time: datetime | str, last_id: str) -> str:
    """The ``next_token`` of a page whose last row is (``last_time``, ``last_id``); the time as a
    ``datetime`` or as its ISO 8601 text (``vigilare.db.reads.utc_text``)."""
    time_iso = last_time if isinstance(last_time, str) else last_time.isoformat()
    return cursors.encode(scope, [time_iso, last_id])
