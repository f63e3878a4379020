"""Which data keys a scan collects: each key on its own clock (:attr:`Collector.freshness`).

The account's scan state keeps, under :data:`FRESHNESS_KEY`, when each key was last collected in
each region and until when that data is fresh: ``{key: {region or "global": [collected, until]}}``
(seconds since the epoch). A scheduled scan collects a key in the regions whose data is stale; a
full scan (the account's first, a manual scan, a scan an event asked for) collects everything.

A scenario that does not say which keys each kind reads (``Scenario.kind_requires``) gets all its
keys together: when one is due, all are collected. The keys of a declared kind, and the regions of
one key, are kept in step: when one is due, those that would be due within a quarter of their
freshness (at most 15 minutes) are collected with it; a key read at every scan pulls nothing along.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin import EVERY_SCAN, GLOBAL_REGION, CollectedData, Collector, JsonValue

FRESHNESS_KEY = "vigilare.freshness"
"""Reserved scan-state entry: when each key was collected and until when it is fresh."""
REGIONS_STATE_KEY = "vigilare.regions"
"""Reserved scan-state entry: the enabled regions as last listed, and when."""
REGIONS_FRESHNESS = timedelta(hours=1)
MAX_SNAP = timedelta(minutes=15)
SPREAD_FROM = timedelta(minutes=30)
"""Keys this slow fall due at a per-account moment (:func:`spread_deadline`)."""


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    """How one scan decides what is due.

    ``full``: collect everything. ``push_live``: the account's push ingest is delivering (an event
    arrived recently), so keys with a ``push_freshness`` use it. ``unavailable_capabilities``:
    capabilities the account's last scans recorded unavailable (push relief that depends on one of
    them does not apply).
    """

    now: datetime
    full: bool = True
    push_live: bool = False
    unavailable_capabilities: frozenset[str] = field(default_factory=frozenset)


def _record(state: Mapping[str, JsonValue], key: str) -> dict[str, list[float]]:
    record = (state.get(FRESHNESS_KEY) or {}).get(key)
    if not isinstance(record, dict):
        return {}
    return {
        region: value
        for region, value in record.items()
        if isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int | float)
        and isinstance(value[1], int | float)
    }


def _effective_until(collector: Collector, entry: list[float], policy: FreshnessPolicy) -> float:
    collected, until = entry
    if (
        policy.push_live
        and collector.push_freshness is not None
        and (
            collector.push_capability is None
            or collector.push_capability not in policy.unavailable_capabilities
        )
    ):
        return max(until, collected + collector.push_freshness.total_seconds())
    return until


def due_regions(
    collector: Collector,
    state: Mapping[str, JsonValue],
    regions: Sequence[str],
    policy: FreshnessPolicy,
) -> set[str]:
    """Where ``collector``'s key is due (``{"global"}`` or nothing for a global key)."""
    return _due(collector, {} if policy.full else _record(state, collector.key), regions, policy)


def _due(
    collector: Collector, record: Mapping[str, list[float]], regions: Sequence[str], policy: FreshnessPolicy
) -> set[str]:
    places = list(regions) if collector.regional else [GLOBAL_REGION]
    if policy.full:
        return set(places)
    now = policy.now.timestamp()
    until = {
        place: _effective_until(collector, record[place], policy) if place in record else None
        for place in places
    }
    due = {place for place, moment in until.items() if moment is None or now >= moment}
    if due and collector.regional:
        snap = min(collector.freshness / 4, MAX_SNAP).total_seconds()
        due |= {place for place, moment in until.items() if moment is not None and now >= moment - snap}
    return due


def plan(
    collectors: Mapping[str, Collector],
    wanted: Iterable[str],
    groups: Iterable[tuple[Sequence[str], bool]],
    state: Mapping[str, JsonValue],
    regions: Sequence[str],
    policy: FreshnessPolicy,
) -> dict[str, set[str]]:
    """``{key: regions to collect it in}`` for the due keys of ``wanted`` ("global" for global keys).

    ``groups`` are the keys one scenario reads together, each with ``strict``: a scenario that does
    not declare ``kind_requires`` reads all its keys at once, so when any is due all are collected,
    everywhere (strict). The keys of a declared kind are only kept in step: when one is due, the
    others are collected with it where they would be due within their snap window. A key read at
    every scan does not pull the others of its kind forward (it is there whenever they fall due);
    otherwise an hourly key read with it would be read every 45 minutes.
    """
    wanted = [key for key in wanted if key in collectors]
    records = {key: _record(state, key) for key in wanted}  # read once: each is asked twice
    due = {key: _due(collectors[key], records[key], regions, policy) for key in wanted}
    everywhere = {key: set(regions) if collectors[key].regional else {GLOBAL_REGION} for key in wanted}
    soon = {
        key: _due(collectors[key], records[key], regions, _ahead(policy, collectors[key])) for key in wanted
    }
    resolved_groups = [([key for key in group if key in due], strict) for group, strict in groups]
    changed = True
    while changed:  # groups may share keys: repeat until nothing more is pulled in
        changed = False
        for group, strict in resolved_groups:
            pulling = group if strict else [key for key in group if not _every_scan(collectors[key])]
            if not any(due[key] for key in pulling):
                continue
            for key in group:
                wanted_places = everywhere[key] if strict else due[key] | soon[key]
                if not wanted_places <= due[key]:
                    due[key] |= wanted_places
                    changed = True
    return {key: places for key, places in due.items() if places}


def _every_scan(collector: Collector) -> bool:
    """Due at every scan: neither a freshness nor a push relief of its own."""
    return collector.freshness <= EVERY_SCAN and collector.push_freshness is None


def _ahead(policy: FreshnessPolicy, collector: Collector) -> FreshnessPolicy:
    """The policy as it will be a snap window from now (a quarter of the freshness, at most 15 min)."""
    snap = min(collector.freshness / 4, MAX_SNAP)
    return FreshnessPolicy(
        now=policy.now + snap,
        full=policy.full,
        push_live=policy.push_live,
        unavailable_capabilities=policy.unavailable_capabilities,
    )


def account_phase(account_id: str) -> float:
    """A stable fraction in [0, 1) per AWS account, from a hash of its id (see :func:`spread_deadline`)."""
    digest = hashlib.blake2b(account_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def spread_deadline(stamp: float, freshness: float, phase: float) -> float:
    """When data collected at ``stamp`` falls due: ``stamp + freshness`` for keys on a short clock;
    for slow keys (:data:`SPREAD_FROM` and longer) the last of the account's phase moments (every
    half freshness, offset by ``phase``) before then.

    Accounts connected together (a migration, an organisation onboarded at once) would otherwise
    have all their hourly keys fall due in the same minute, hour after hour, and a worker would see
    a wall of slow scans once an hour. The first interval is between half and the whole freshness
    (data never gets older than declared); from then on it is exactly the freshness, at the
    account's own moment."""
    if freshness < SPREAD_FROM.total_seconds():
        return stamp + freshness
    half = freshness / 2
    latest = stamp + freshness
    return latest - ((latest - phase * half) % half)


def record_collection(
    state: dict[str, JsonValue],
    collectors: Mapping[str, Collector],
    collected: Mapping[str, set[str]],
    fresh_until: Mapping[tuple[str, str], datetime],
    now: datetime,
    account_id: str = "",
) -> None:
    """Note in ``state`` what this scan collected: ``collected`` maps keys to the places whose run
    did not fail; ``fresh_until`` holds the collectors' own deadlines (``ctx.fresh_until``); slow
    keys fall due at the account's own phase (:func:`spread_deadline`)."""
    record: dict[str, Any] = dict(state.get(FRESHNESS_KEY) or {})
    stamp = now.timestamp()
    phase = account_phase(account_id)
    for key, places in collected.items():
        per_key = dict(record.get(key) or {})
        for place in places:
            until = fresh_until.get((key, place))
            deadline = (
                until.timestamp()
                if until is not None
                else spread_deadline(stamp, collectors[key].freshness.total_seconds(), phase)
            )
            per_key[place] = [round(stamp, 3), round(deadline, 3)]
        record[key] = per_key
    state[FRESHNESS_KEY] = record


def coverage(data: CollectedData, collected: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Per key, the places this scan read completely: run without error, no item failed, and the
    account's plan allowed the API. A signal is resolved only where its keys are covered."""
    unavailable = {capability.key for capability in data.capabilities if not capability.available}
    covered: dict[str, set[str]] = {}
    for key, places in collected.items():
        if key in unavailable:
            covered[key] = set()
            continue
        failed = {error.region for error in data.errors_for(key)}
        if data.is_regional(key):
            read = set(data.per_region(key))
        else:
            read = {GLOBAL_REGION} if key in data else set()
        covered[key] = (set(places) & read) - failed
    return covered
