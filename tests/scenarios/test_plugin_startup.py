"""A broken plugin stops the API and the worker at start-up with its name, never a scan stuck
running; ``vigilare plugins`` shows every plugin and why one is not loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.support.accounts import connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.plugins import BROKEN_ON_IMPORT, InstallPlugin, scenario_plugin
from tests.support.process import run_cli
from tests.support.services import REDIS_URL
from vigilare.api.app import create_app
from vigilare.config import Settings
from vigilare.jobs.worker import create_worker
from vigilare.scenarios.manager import PluginLoadError
from vigilare_sandbox import Sandbox

ACCOUNT = "210987654321"


def cli_env(tmp_path: Path, plugin_site: Path, **extra: str) -> dict[str, str]:
    return {"VIGILARE_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(plugin_site), **extra}


async def test_the_api_does_not_start_with_a_broken_plugin_and_names_it(
    settings: Settings, install_plugin: InstallPlugin
) -> None:
    install_plugin("acme-broken", BROKEN_ON_IMPORT)
    # The test client runs the lifespan in a task group, which wraps what start-up raised.
    with pytest.raises(BaseExceptionGroup) as raised:
        async with AsyncTestClient(app=create_app(settings)):
            pass
    assert raised.group_contains(PluginLoadError, match=r"'acme-broken'.*ACME_LICENSE_KEY is not set")

    blocked = msgspec.structs.replace(settings, disabled_plugins="acme-broken")
    async with AsyncTestClient(app=create_app(blocked)) as client:
        assert (await client.get("/healthz")).status_code == 200


async def test_the_worker_does_not_start_with_a_broken_plugin(
    settings: Settings, install_plugin: InstallPlugin, redis_flush: None
) -> None:
    install_plugin("acme-broken", BROKEN_ON_IMPORT)
    worker = create_worker(
        msgspec.structs.replace(settings, redis_url=REDIS_URL), burst=True, poll_delay=0, handle_signals=False
    )
    try:
        with pytest.raises(PluginLoadError, match=r"'acme-broken'"):
            await worker.main()
    finally:
        await worker.close()


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"]])
def test_serve_and_worker_exit_with_one_clear_message_naming_the_plugin(
    tmp_path: Path, plugin_site: Path, install_plugin: InstallPlugin, command: list[str]
) -> None:
    install_plugin("acme-broken", BROKEN_ON_IMPORT)
    result = run_cli(command, cli_env(tmp_path, plugin_site, VIGILARE_REDIS_URL=REDIS_URL), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "vigilare: cannot start: scenario plugin 'acme-broken'" in result.stderr
    assert "ACME_LICENSE_KEY is not set" in result.stderr
    assert "VIGILARE_DISABLED_PLUGINS=acme-broken" in result.stderr  # what to do about it


def test_plugins_command_shows_blocked_not_allowed_and_failed_plugins_and_why(
    tmp_path: Path, plugin_site: Path, install_plugin: InstallPlugin
) -> None:
    install_plugin("acme-broken", BROKEN_ON_IMPORT)
    install_plugin("acme-wanted", scenario_plugin("acme-wanted"))
    install_plugin("acme-unwanted", scenario_plugin("acme-unwanted"))
    install_plugin("acme-crashing", BROKEN_ON_IMPORT.replace("RuntimeError", "ZeroDivisionError"))

    result = run_cli(
        ["plugins"],
        cli_env(
            tmp_path,
            plugin_site,
            VIGILARE_PLUGINS="acme-wanted,acme-broken",
            VIGILARE_DISABLED_PLUGINS="acme-broken,exposure",
        ),
    )
    assert result.returncode == 0, result.stderr  # nothing that may load is broken
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PLUGIN", "VERSION", "ORIGIN", "SCENARIOS", "STATUS", "DATA"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert by_name["acme-wanted"].split()[1:5] == ["1.2.3", "acme-scenarios", "acme-wanted", "loaded"]
    assert "blocked: named in VIGILARE_DISABLED_PLUGINS" in by_name["acme-broken"]
    assert "blocked: named in VIGILARE_DISABLED_PLUGINS" in by_name["exposure"]
    assert "not allowed: VIGILARE_PLUGINS does not name it" in by_name["acme-unwanted"]
    assert "not allowed" in by_name["acme-crashing"]  # not imported, so not failed
    assert by_name["iam"].split()[2:5] == ["builtin", "iam", "loaded"]

    failing = run_cli(["plugins"], cli_env(tmp_path, plugin_site))
    assert failing.returncode == 1
    by_name = {line.split()[0]: line for line in failing.stdout.splitlines()[1:]}
    assert by_name["acme-broken"].split()[1:5] == ["1.2.3", "acme-scenarios", "-", "failed"]
    assert "iam" in by_name and "acme-wanted" in by_name  # the others are still listed
    assert "vigilare: plugin 'acme-broken' failed to load:" in failing.stderr
    assert "ACME_LICENSE_KEY is not set" in failing.stderr and "ZeroDivisionError" in failing.stderr


async def test_a_scan_that_meets_a_plugin_load_error_fails_instead_of_staying_running(
    aws_client: Any, sandbox: Sandbox, install_plugin: InstallPlugin
) -> None:
    # The API started cleanly; then the scan job's process finds a plugin it cannot load (here: a
    # configuration no start-up loaded, and a plugin installed since).
    install_plugin("acme-broken", BROKEN_ON_IMPORT)
    context = aws_client.app.state["services"].queue.context
    context.settings = msgspec.structs.replace(context.settings, disabled_plugins="acme-not-installed")
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    scan = await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    assert scan["status"] == "failed"
    assert scan["error"].startswith("the scenario plugins could not be loaded:")
    assert "'acme-broken'" in scan["error"] and scan["attempts"] == 1
