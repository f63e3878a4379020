"""A third-party scenario that crashes is recorded on the scan (partial); the others still report."""

from __future__ import annotations

import types

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from vigilare.plugin import CollectedData, Finding, Scenario, Severity, hookimpl
from vigilare.scans.registry import REGISTRY_KEY
from vigilare.scenarios.manager import PluginSource, load_registry
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNT = "210987654321"


class Exploding(Scenario):
    id = "exploding"
    title = "A plugin with a bug"
    requires = ("s3.buckets",)
    emits = {"never_reached": (Severity.LOW,)}
    remediation = "none"
    docs_url = "https://example.com"

    async def detect(self, data: CollectedData) -> list[Finding]:
        raise RuntimeError("plugin bug: division by zero")


def _crashing_plugin() -> PluginSource:
    module = types.ModuleType("exploding_plugin")

    @hookimpl
    def vigilare_scenarios() -> list[type[Scenario]]:
        return [Exploding]

    module.vigilare_scenarios = vigilare_scenarios  # type: ignore[attr-defined]
    return PluginSource(name="exploding", plugin=module, origin="acme-buggy", version="0.0.1")


async def test_a_crashing_plugin_makes_the_scan_partial_and_never_stops_the_others(aws_client, sandbox):
    create_public_bucket(sandbox, ACCOUNT, "still-found-bucket")
    registry = load_registry(extra_plugins=[_crashing_plugin()])
    aws_client.app.state["services"].queue.context.extras[REGISTRY_KEY] = registry
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    scan = await wait_for_scan(
        aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"], timeout=120
    )
    assert scan["status"] == "partial"
    assert scan["scenarios"]["exploding"]["status"] == "failed"
    assert "division by zero" in scan["scenarios"]["exploding"]["error"]
    assert scan["scenarios"]["exposure"]["status"] == "ok"
    assert any("still-found-bucket" in s["resource"] for s in await all_signals(aws_client, headers, ACCOUNT))
