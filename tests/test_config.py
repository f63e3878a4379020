from __future__ import annotations

import pytest

from vigilare.config import ConfigError, Settings


def test_development_defaults_to_sqlite_and_keeps_a_generated_key(tmp_path):
    first = Settings.from_env({"VIGILARE_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"VIGILARE_DATA_DIR": str(tmp_path)})
    assert first.database_url.startswith("sqlite+aiosqlite:///") and first.is_sqlite
    assert first.secret_key and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VIGILARE_ENV": "production", "VIGILARE_DATABASE_URL": "postgresql+asyncpg://db/x"}, "SECRET_KEY"),
        ({"VIGILARE_ENV": "production", "VIGILARE_SECRET_KEY": "k" * 40}, "SQLite"),
        (
            {
                "VIGILARE_ENV": "production",
                "VIGILARE_SECRET_KEY": "k" * 40,
                "VIGILARE_DATABASE_URL": "sqlite+aiosqlite:///x.db",
            },
            "SQLite",
        ),
        ({"VIGILARE_ENV": "staging"}, "VIGILARE_ENV"),
        ({"VIGILARE_SMTP_PORT": "not-a-port"}, "VIGILARE_SMTP_PORT"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"VIGILARE_DATA_DIR": str(tmp_path), **environ})


def test_production_with_postgres_and_key_is_accepted(tmp_path):
    settings = Settings.from_env(
        {
            "VIGILARE_ENV": "production",
            "VIGILARE_SECRET_KEY": "k" * 40,
            "VIGILARE_DATABASE_URL": "postgresql+asyncpg://db/x",
            "VIGILARE_DATA_DIR": str(tmp_path),
        }
    )
    assert not settings.is_sqlite and settings.secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()
