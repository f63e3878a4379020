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

Events AWS pushes (EventBridge: AWS Health, GuardDuty, sign-ins, CloudTrail API calls) reach
scenarios through event handlers: an :class:`EventHandler` names the ``sources`` it reads and the
``scenario`` it reports for, and turns one :class:`AwsEvent` into an :class:`EventResult` (findings
present, findings over, a rescan wanted), usually by running its scenario over data built from the
event (``await ctx.detect(...)``) so the fingerprints are the scan's. Register handlers with the
``vigilare_event_handlers`` hook.

A collector that must remember something between scans of an account (a baseline, a cached
billed-per-request answer, the time of its last poll) reads ``ctx.previous_state`` and calls
``ctx.save_state(json_value)``; see :mod:`vigilare.plugin.state`.

Helpers the built-in scenarios use, for the same jobs in yours:

- time and wording: :func:`as_datetime` (botocore datetimes and ISO strings, ``"N/A"`` -> None),
  :func:`whole_days`, :func:`days_text`, :func:`hours_ago`, :func:`day_of`, :func:`minute_of`,
  :func:`masked_key`, :func:`iso_utc` (for finding details);
- IAM and S3 policies: :func:`policy_statements`, :func:`statement_allows`, :func:`grants_everything`,
  :func:`has_public_principal`, :func:`is_restricted_by_condition`, :func:`public_statements`;
- AWS Health deadlines: :func:`find_deadline`;
- regions: :func:`region_first_use` and :func:`has_baseline` (a region is new to the account until it
  has been used for :data:`REGION_BASELINE`, 30 days), :func:`is_accelerated_type` (GPU families).

Testing a scenario: :mod:`vigilare.testing` is a pytest plugin (installed with Vigilare) whose
``run_scenario`` fixture runs your scenario over in-memory data through the scanner's own checks.
"""

from __future__ import annotations

import pluggy

from vigilare.plugin.collector import EVERY_SCAN, Collector, CollectorContext, CollectorFunction
from vigilare.plugin.data import Capability, CollectedData, CollectionError
from vigilare.plugin.events import AwsEvent, EventContext, EventHandler, EventResult
from vigilare.plugin.helpers.deadlines import find_deadline
from vigilare.plugin.helpers.instances import is_accelerated_type
from vigilare.plugin.helpers.policies import (
    RESTRICTING_CONDITION_KEYS,
    grants_everything,
    has_public_principal,
    is_restricted_by_condition,
    policy_statements,
    public_statements,
    statement_allows,
)
from vigilare.plugin.helpers.regions import REGION_BASELINE, has_baseline, region_first_use
from vigilare.plugin.helpers.wording import (
    as_datetime,
    day_of,
    days_text,
    hours_ago,
    iso_utc,
    masked_key,
    minute_of,
    whole_days,
)
from vigilare.plugin.model import GLOBAL_REGION, Finding, Scenario, Severity
from vigilare.plugin.state import JsonValue, ScanState

PROJECT_NAME = "vigilare"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin's implementation of a Vigilare hook."""

__all__ = [
    "EVERY_SCAN",
    "GLOBAL_REGION",
    "REGION_BASELINE",
    "RESTRICTING_CONDITION_KEYS",
    "AwsEvent",
    "Capability",
    "CollectedData",
    "CollectionError",
    "Collector",
    "CollectorContext",
    "CollectorFunction",
    "EventContext",
    "EventHandler",
    "EventResult",
    "Finding",
    "JsonValue",
    "ScanState",
    "Scenario",
    "Severity",
    "as_datetime",
    "day_of",
    "days_text",
    "find_deadline",
    "grants_everything",
    "has_baseline",
    "has_public_principal",
    "hookimpl",
    "hours_ago",
    "is_accelerated_type",
    "is_restricted_by_condition",
    "iso_utc",
    "masked_key",
    "minute_of",
    "policy_statements",
    "public_statements",
    "region_first_use",
    "statement_allows",
    "whole_days",
]
