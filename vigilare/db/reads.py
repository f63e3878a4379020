"""Tenant reads on the driver's own connection: the hot listings' path, with the same two walls.

The API's busiest routes only read (an account's signals, the accounts, the alerts). Through the ORM
session a page cost several times the database's own work in Python: the session, the statement's
compilation, the tenant criteria, rows hydrated and converted. A ``TenantRead`` runs hand-written SQL
on the pooled asyncpg connection instead, in one transaction per request, with the same isolation:

- the SQL of each listing names its tenant (``tenant_id = $1``): the first wall, as the ORM's
  criteria are for sessions;
- row-level security, the second wall, exactly as for sessions (``vigilare.db.tenancy``): the
  transaction begins with role ``vigilare_app`` and ``vigilare.tenant_id`` set for that
  transaction only (``set_config(..., true)``), in the same round trip as ``BEGIN`` (one simple
  query), so the policies hold even for a statement that forgot its tenant;
- a check may travel in that round trip too (``check``: the caller's, ``vigilare.auth.service``),
  run after the settings, so under the policies: a statement that raises an error of its own
  (SQLSTATE class ``VG``) when what it checks does not hold; the read then ends (``ROLLBACK``,
  the connection stays pooled) and ``CheckRefused`` says which error it was;
- the transaction always ends before the connection goes back to the pool: ``COMMIT`` after the
  request, ``ROLLBACK`` after an error, and a connection whose state is unknown (a cancelled
  statement, a broken link) is closed, never reused.

PostgreSQL only: on SQLite (no row-level security, another driver) the routes keep their ORM path.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn

from vigilare.db.tenancy import APP_ROLE, TENANT_SETTING

# The route option (``opt={TENANT_READ: True}``) of a route that only reads and may run in a
# ``TenantRead`` (``vigilare.api.middleware.AuthenticationMiddleware``; PostgreSQL only).
TENANT_READ = "tenant_read"
# Ids the service makes (ULIDs) and test ids: safe to write as an SQL literal. Anything else goes
# as a bound parameter, in a round trip of its own.
_LITERAL_SAFE = re.compile(r"[0-9A-Za-z_-]{1,64}")
_SCOPE = f"SELECT set_config('role', '{APP_ROLE}', true), set_config('{TENANT_SETTING}', $1, true)"


def utc_text(column: str) -> str:
    """SQL for a ``timestamptz`` column written as the API writes timestamps (``vigilare.ids.isoformat``:
    ISO 8601 in UTC, ``+00:00``, microseconds unless there are none); NULL stays NULL.

    The listings read their timestamps as this text: PostgreSQL writes them in C, on the cores the
    API process leaves free, where decoding and formatting a ``datetime`` cost the API's single
    thread about a microsecond each (150 per page of signals).
    """
    return (
        f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
        " || '+00:00'"
    )


def supports_tenant_reads(engine: AsyncEngine) -> bool:
    """Whether ``tenant_read`` can run on ``engine`` (PostgreSQL through asyncpg)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"


def begin_statement(tenant_id: str) -> str | None:
    """``BEGIN`` and the transaction's role and tenant in one simple query, or None if the id is odd."""
    if not _LITERAL_SAFE.fullmatch(tenant_id):
        return None
    return (
        f"BEGIN READ ONLY; SELECT set_config('role', '{APP_ROLE}', true), "
        f"set_config('{TENANT_SETTING}', '{tenant_id}', true)"
    )


def json_list(value: Any) -> list[Any]:
    """A JSON list column's value read in a ``TenantRead``: SQLAlchemy's dialect sets a JSON codec
    on its pooled connections, so it arrives decoded; text (a connection without it) is decoded
    here. JSON ``null`` or SQL NULL is an empty list."""
    if isinstance(value, str | bytes):
        value = msgspec.json.decode(value)
    return list(value or [])


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object column's value read in a ``TenantRead`` (see ``json_list``)."""
    if isinstance(value, str | bytes):
        value = msgspec.json.decode(value)
    return dict(value or {})


def literal_safe(value: str) -> bool:
    """Whether ``value`` (an id) may be written into a statement as an SQL literal."""
    return _LITERAL_SAFE.fullmatch(value) is not None


class CheckRefused(Exception):
    """The check a ``TenantRead`` began with raised its own error (SQLSTATE class ``VG``)."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate


class ReadEnded(RuntimeError):
    """A statement was sent to a ``TenantRead`` after it ended."""


class TenantRead:
    """One pooled connection in one read-only transaction that sees one tenant's rows.

    A listing calls :meth:`end` after its last statement, so that the connection goes back to the
    pool while the answer is built and sent (the busiest listings hold it for a fraction of the
    request); otherwise ``tenant_read`` ends it when the request is over.
    """

    __slots__ = ("_connection", "_pooled", "tenant_id")

    def __init__(self, pooled: Any, tenant_id: str) -> None:
        self._pooled = pooled  # the pool's handle on the connection
        self._connection: Any = pooled.driver_connection  # asyncpg.Connection
        self.tenant_id = tenant_id

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Rows (``asyncpg.Record``) of ``sql``; its statement is prepared once per connection."""
        rows: list[Any] = await self._open().fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._open().fetchrow(sql, *args)

    async def end(self) -> None:
        """Commit and hand the connection back to the pool; later statements raise ``ReadEnded``."""
        await self._finish("COMMIT")

    def _open(self) -> Any:
        if self._connection is None:
            raise ReadEnded("this read has ended: its connection is back in the pool")
        return self._connection

    async def _begin(self, check: str | None) -> None:
        begin = begin_statement(self.tenant_id)
        if begin is not None:
            await self._connection.execute(begin if check is None else f"{begin}; {check}")
            return
        await self._connection.execute("BEGIN READ ONLY")
        await self._connection.execute(_SCOPE, self.tenant_id)
        if check is not None:
            await self._connection.execute(check)

    async def _finish(self, statement: str | None) -> None:
        """End the transaction with ``statement`` and return the connection to the pool; with no
        statement, or when ending fails, close the connection instead (its state is unknown)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        reusable = False
        try:
            if statement is not None:
                await connection.execute(statement)
                reusable = not connection.is_closed() and not connection.is_in_transaction()
        finally:
            if reusable:
                self._pooled.close()
            else:
                await greenlet_spawn(self._pooled.invalidate)


class ListingSource:
    """What a ``TENANT_READ`` route reads from: the request's ``TenantRead`` on PostgreSQL, else
    (SQLite) its tenant-scoped session; exactly one of the two is set. And the application secret
    its page tokens (and masked secrets) are derived from.

    One dependency for all of it: Litestar resolves two independent dependencies of a handler in
    an anyio task group, which cost a tenth of a listing's time.
    """

    __slots__ = ("read", "secret_key", "session")

    def __init__(
        self, *, secret_key: str, read: TenantRead | None = None, session: AsyncSession | None = None
    ) -> None:
        if (read is None) == (session is None):
            raise ValueError("a listing reads from a TenantRead or a session, one of them")
        self.read = read
        self.session = session
        self.secret_key = secret_key

    def orm_session(self) -> AsyncSession:
        """The session, when there is no ``TenantRead``."""
        assert self.session is not None
        return self.session


def _refusal(error: BaseException) -> CheckRefused | None:
    """The check's own error (SQLSTATE class ``VG``, raised by the database), else None."""
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(error, asyncpg.PostgresError) and isinstance(sqlstate, str) and sqlstate.startswith("VG"):
        return CheckRefused(sqlstate, str(getattr(error, "message", "") or error))
    return None


@asynccontextmanager
async def tenant_read(
    engine: AsyncEngine, tenant_id: str, *, check: str | None = None
) -> AsyncIterator[TenantRead]:
    """A read-only transaction of ``tenant_id`` on a connection of ``engine``'s pool.

    ``check``, a statement with its values written in (see ``literal_safe``), runs in the round
    trip that begins the transaction, after its settings; when it raises an error of its own
    (SQLSTATE class ``VG``) the transaction is rolled back and ``CheckRefused`` raised.

    Committed when the block ends (unless the listing ended it first), rolled back when it raises;
    the connection returns to the pool with no transaction open and no setting left. A cancelled
    or failed statement leaves the connection's state unknown: it is closed, never reused.
    """
    read = TenantRead(await engine.raw_connection(), tenant_id)
    try:
        await read._begin(check)
    except Exception as error:
        refused = _refusal(error)
        if refused is None:
            await read._finish(None)
            raise
        # The database answered: the connection is fine, its transaction ends here.
        await read._finish("ROLLBACK")
        raise refused from None
    except BaseException:
        await read._finish(None)
        raise
    try:
        yield read
    except Exception:
        # The error that ended the block is the one to raise, whether or not the rollback works.
        with contextlib.suppress(Exception):
            await read._finish("ROLLBACK")
        raise
    except BaseException:  # cancelled: a statement may still be running on the connection
        await read._finish(None)
        raise
    await read.end()
