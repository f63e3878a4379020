"""Every hook is documented and used by the built-ins (which load through the public entry points)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

from vigilare import plugin
from vigilare.scenarios import hookspecs
from vigilare.scenarios.manager import find_entry_points


def hook_names() -> list[str]:
    return [
        name for name, value in vars(hookspecs).items() if name.startswith("vigilare_") and callable(value)
    ]


def test_every_hook_is_documented_and_implemented_by_a_builtin() -> None:
    builtin_plugins = [entry.entry_point.load() for entry in find_entry_points() if entry.is_builtin]
    assert hook_names() == ["vigilare_scenarios", "vigilare_collectors", "vigilare_event_handlers"]
    for name in hook_names():
        assert len(inspect.getdoc(getattr(hookspecs, name)) or "") > 40, f"{name} needs documentation"
        assert any(hasattr(module, name) for module in builtin_plugins), f"no built-in implements {name}"


def test_the_public_plugin_surface_is_explicit() -> None:
    assert set(plugin.__all__) == {
        "GLOBAL_REGION",
        "AwsEvent",
        "EventContext",
        "EventHandler",
        "EventResult",
        "Capability",
        "CollectedData",
        "CollectionError",
        "EVERY_SCAN",
        "Collector",
        "CollectorContext",
        "CollectorFunction",
        "Finding",
        "JsonValue",
        "ScanState",
        "Scenario",
        "Severity",
        "hookimpl",
        # Helpers the built-ins use, public so third parties can use them too.
        "REGION_BASELINE",
        "RESTRICTING_CONDITION_KEYS",
        "as_datetime",
        "day_of",
        "days_text",
        "find_deadline",
        "grants_everything",
        "has_baseline",
        "has_public_principal",
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
    }
    for name in plugin.__all__:
        assert hasattr(plugin, name)


def test_a_region_is_new_until_its_earliest_recorded_use_is_30_days_old() -> None:
    """The baseline every built-in "new region" finding uses, public for third-party scenarios."""
    now = datetime(2026, 11, 29, tzinfo=UTC)
    ec2 = {"region_first_seen": (now - timedelta(days=10)).isoformat()}
    sagemaker = {"region_first_seen": (now - timedelta(days=45)).isoformat()}
    assert plugin.region_first_use(ec2, None, {}) == now - timedelta(days=10)
    first_use = plugin.region_first_use(ec2, sagemaker)
    assert first_use == now - timedelta(days=45)
    assert plugin.has_baseline(first_use, now)
    # A launch 20 days ago came when the region had been in use for 25 days: still new then.
    assert not plugin.has_baseline(first_use, now - timedelta(days=20))
    assert plugin.region_first_use(None, {}) is None
    assert not plugin.has_baseline(None, now)
