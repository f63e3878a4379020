"""Slow keys fall due at each account's own moment: accounts first scanned together do not all
re-read their hourly data in the same minute, hour after hour (issue 16), and no data gets older
than its declared freshness."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from vigilare.aws.collectors import builtin_collectors
from vigilare.aws.freshness import FreshnessPolicy, due_regions, record_collection
from vigilare.plugin import GLOBAL_REGION

HOUR = timedelta(hours=1)
START = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def hourly_key() -> str:
    return next(key for key, c in builtin_collectors().items() if c.freshness == HOUR and not c.regional)


def first_due(account_id: str, key: str) -> timedelta:
    """When the key, collected by the account's first scan at START, is first due (5-minute scans)."""
    collector = builtin_collectors()[key]
    state: dict = {}
    record_collection(state, builtin_collectors(), {key: {GLOBAL_REGION}}, {}, START, account_id=account_id)
    for minutes in range(5, 65, 5):
        policy = FreshnessPolicy(now=START + timedelta(minutes=minutes), full=False)
        if due_regions(collector, state, [], policy):
            return timedelta(minutes=minutes)
    raise AssertionError(f"{key} not due within the hour")


def test_hourly_keys_of_accounts_scanned_together_fall_due_at_different_moments_within_the_hour() -> None:
    key = hourly_key()
    moments = {first_due(f"{200000000000 + index}", key) for index in range(40)}
    assert len(moments) >= 4, moments  # spread over the hour's second half, not one wall
    assert all(timedelta(minutes=30) < moment <= HOUR for moment in moments)


def test_after_the_first_interval_a_slow_key_is_due_exactly_every_freshness() -> None:
    key, account = hourly_key(), "210987654321"
    collectors = builtin_collectors()
    collector = collectors[key]
    state: dict = {}
    record_collection(state, collectors, {key: {GLOBAL_REGION}}, {}, START, account_id=account)
    collected_at = [START]
    now = START
    while len(collected_at) < 4:
        now += timedelta(minutes=5)
        if due_regions(collector, state, [], FreshnessPolicy(now=now, full=False)):
            record_collection(state, collectors, {key: {GLOBAL_REGION}}, {}, now, account_id=account)
            collected_at.append(now)
    intervals = [later - earlier for earlier, later in itertools.pairwise(collected_at)]
    assert intervals[0] <= HOUR  # never older than declared, the first time included
    # Then hourly at the account's moment, without drift (each read is the first 5-minute scan
    # after it).
    assert intervals[1:] == [HOUR] * (len(intervals) - 1)
