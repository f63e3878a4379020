"""The public surface for scenario plugin authors: import everything you need from here, and only here.

A plugin is a module (or object) exposing ``@hookimpl`` functions named after the hook specs in
:mod:`vigilare.scenarios.hookspecs`, registered in the ``vigilare.scenarios`` entry-point group::

    # pyproject.toml
    [project.entry-points."vigilare.scenarios"]
    my_plugin = "my_package.plugin"

    # my_package/plugin.py
    from vigilare.plugin import CollectedData, Finding, Scenario, Severity, hookimpl

    class Imdsv1Instances(Scenario):
        id = "imdsv1"
        title = "Instances accepting IMDSv1"
        requires = ("ec2.instances",)
        emits = {"imdsv1_enabled": (Severity.MEDIUM,)}

        async def detect(self, data: CollectedData) -> list[Finding]:
            ...

    @hookimpl
    def vigilare_scenarios() -> list[type[Scenario]]:
        return [Imdsv1Instances]

``emits`` declares each kind of finding the scenario reports with the severities it may have
(``Severity`` is CRITICAL, HIGH, MEDIUM or LOW). A finding of an undeclared kind, or with a severity
not declared for its kind, is refused at scan time: it is not stored and the scenario's outcome says
why.

A collector that must remember something between scans of an account (a baseline, a cached
billed-per-request answer, the time of its last poll) reads ``ctx.previous_state`` and calls
``ctx.save_state(json_value)``; see :mod:`vigilare.scenarios.state`.
"""

from __future__ import annotations

import pluggy

from vigilare.scenarios.collector import Collector, CollectorContext, CollectorFunction
from vigilare.scenarios.data import Capability, CollectedData, CollectionError
from vigilare.scenarios.model import GLOBAL_REGION, Finding, Scenario, Severity
from vigilare.scenarios.state import JsonValue, ScanState

PROJECT_NAME = "vigilare"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin's implementation of a Vigilare hook."""

__all__ = [
    "GLOBAL_REGION",
    "Capability",
    "CollectedData",
    "CollectionError",
    "Collector",
    "CollectorContext",
    "CollectorFunction",
    "Finding",
    "JsonValue",
    "ScanState",
    "Scenario",
    "Severity",
    "hookimpl",
]
