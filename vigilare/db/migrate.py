"""Bring the schema to head with alembic, and tell whether a database is at head."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import vigilare
from alembic import command


def _script_location() -> Path:
    package = Path(vigilare.__file__).parent
    installed = package / "_alembic"  # where the wheel ships the repository's alembic/ folder
    return installed if installed.is_dir() else package.parent / "alembic"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Run every pending migration. Blocking: call it from a thread inside an event loop."""
    command.upgrade(alembic_config(database_url), "head")


def head_revisions(database_url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    def _current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def schema_is_current(engine: AsyncEngine, database_url: str) -> bool:
    return await current_revisions(engine) == head_revisions(database_url)
