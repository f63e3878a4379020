"""`vigilare migrate` and `vigilare serve` as real processes, and the whole team flow over HTTP."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx
import pytest

from tests.support.process import run_cli, serve
from tests.support.services import PG_ADMIN_URL

PASSWORD = "correct-horse-battery"


@pytest.fixture
async def empty_pg_url():
    name = f"vigilare_cli_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_serve_refuses_an_unmigrated_postgres_then_migrate_is_idempotent(empty_pg_url, tmp_path):
    env = {"VIGILARE_DATABASE_URL": empty_pg_url, "VIGILARE_DATA_DIR": str(tmp_path)}
    with pytest.raises(AssertionError, match="vigilare migrate"), serve(env, timeout=30):
        pass
    first = run_cli(["migrate"], env)
    assert first.returncode == 0, first.stderr
    second = run_cli(["migrate"], env)
    assert second.returncode == 0, second.stderr
    assert "Running upgrade" in first.stderr and "Running upgrade" not in second.stderr
    with serve(env) as server:
        assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_cli(["serve"], {"VIGILARE_ENV": "production", "VIGILARE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "VIGILARE_SECRET_KEY" in result.stderr


def test_team_flow_over_http_on_the_embedded_sqlite_default(tmp_path):
    """signup -> login -> /me -> invite -> accept -> login as the invitee, against `vigilare serve`."""
    env = {"VIGILARE_DATA_DIR": str(tmp_path / "data"), "VIGILARE_PUBLIC_URL": "http://vigilare.local"}
    with serve(env) as server, httpx.Client(base_url=server.base_url, timeout=10) as http:
        created = http.post(
            "/auth/signup", json={"email": "owner@flow.test", "password": PASSWORD, "name": "Flow"}
        )
        assert created.status_code == 201
        tokens = http.post("/auth/login", json={"email": "owner@flow.test", "password": PASSWORD}).json()
        owner = {"Authorization": f"Bearer {tokens['id_token']}"}
        assert http.get("/me", headers=owner).json()["tenant"]["plan"] == "solo"
        assert re.search(
            r'INFO:     127\.0\.0\.1:\d+ - "GET /me HTTP/1\.1" 200 OK', server.wait_for_output("GET /me")
        )
        invited = http.post(
            "/users/invite", json={"email": "mate@flow.test", "name": "Mate", "role": "admin"}, headers=owner
        )
        assert invited.status_code == 201
        # No SMTP configured: the invitation email is written to the log, link included.
        output = server.wait_for_output("accept-invite?token=")
        token = re.search(r"accept-invite\?token=([A-Za-z0-9_\-]+)", output).group(1)
        accepted = http.post("/auth/accept-invite", json={"token": token, "password": PASSWORD})
        assert accepted.status_code == 200
        mate = http.post("/auth/login", json={"email": "mate@flow.test", "password": PASSWORD}).json()
        me = http.get("/me", headers={"Authorization": f"Bearer {mate['id_token']}"}).json()
        assert me["user"]["role"] == "admin" and me["tenant"]["tenant_id"] == created.json()["tenant_id"]
    assert (tmp_path / "data" / "vigilare.db").exists()
