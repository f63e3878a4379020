"""Per-account scan state: what a collector remembers from one scan of an account to the next.

The scanner stays free of databases: the caller hands :func:`vigilare.scanner.scan_account` the
account's previous :data:`ScanState` and stores :attr:`vigilare.scanner.ScanReport.state` once the
scan completes. Inside a scan, each collector sees only its own slice, keyed by its data key (and,
for regional collectors, by region)::

    async def fetch_costs(ctx: CollectorContext) -> dict[str, Any]:
        cached = ctx.previous_state or {}          # what this collector saved last time, or None
        ...
        ctx.save_state({"fetched_at": now.isoformat(), "result": result})
        return result

A collector that does not call ``save_state`` (or fails) keeps its previous value, so one failed
region never wipes another scan's baseline. Values must be plain JSON (dict, list, str, int,
float, bool, None): they are stored in a JSON column.

Layout of a :data:`ScanState`: ``{data_key: value}`` for global collectors and
``{data_key: {region: value}}`` for regional ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import msgspec

JsonValue: TypeAlias = Any
"""A plain JSON value: dict (str keys), list, str, int, float, bool or None."""

ScanState: TypeAlias = dict[str, JsonValue]
"""One account's state: ``{data_key: value}``, regional keys as ``{data_key: {region: value}}``."""


class StateNotJsonError(TypeError):
    """A collector tried to save something that cannot be stored as plain JSON."""


def _plain_json(key: str, value: JsonValue) -> JsonValue:
    try:
        # A round trip both checks the value and detaches it from the collector's own objects.
        return msgspec.json.decode(msgspec.json.encode(value))
    except (TypeError, msgspec.EncodeError) as exc:
        raise StateNotJsonError(f"state of {key!r} is not plain JSON: {exc}") from exc


def _detached(value: JsonValue) -> JsonValue:
    """A copy of plain JSON that shares nothing with ``value`` (a msgspec round trip: several times
    cheaper than ``copy.deepcopy``, which a scan would otherwise pay on the whole state twice)."""
    return msgspec.json.decode(msgspec.json.encode(value))


class StateStore:
    """The previous state of one scan and the new state its collectors save (used by the scanner).

    Collectors get copies of their previous slice and what they save is copied, so a collector can
    never change the stored state, another collector's or its own saved value by mutating a value.
    The store never changes the previous state it was given; the state it returns is new at its top
    and regional levels, and shares the values no collector saved again with the previous state
    (they are the same values, and a scan no longer copies the whole ~40-KB state twice). A caller
    that goes on changing the old state after the scan must give the store a copy."""

    def __init__(self, previous: Mapping[str, JsonValue] | None) -> None:
        self._previous: dict[str, JsonValue] = dict(previous or {})
        self._saved: dict[str, JsonValue] = {}
        self._saved_regional: dict[str, dict[str, JsonValue]] = {}
        self._handed_out = False

    def previous(self, key: str, region: str | None) -> JsonValue:
        """What the collector of ``key`` saved at the last completed scan (in ``region``), or None."""
        value = self._previous.get(key)
        if region is not None:
            value = value.get(region) if isinstance(value, dict) else None
        # Containers are copied (plain JSON: a msgspec round trip, several times cheaper than
        # copy.deepcopy); strings, numbers, booleans and None cannot be changed.
        return _detached(value) if isinstance(value, dict | list) else value

    def save(self, key: str, region: str | None, value: JsonValue) -> None:
        plain = _plain_json(key, value)
        if region is None:
            self._saved[key] = plain
        else:
            self._saved_regional.setdefault(key, {})[region] = plain

    def result(self) -> ScanState:
        """The state to store: everything previous, overlaid with what this scan saved.

        The first call hands over the new state without copying it again (values no collector
        saved are the previous state's own, see the class); a later call copies."""
        if self._handed_out:
            return _detached(self._result())
        self._handed_out = True
        return self._result()

    def _result(self) -> ScanState:
        state: ScanState = dict(self._previous)
        state.update(self._saved)
        for key, per_region in self._saved_regional.items():
            previous = state.get(key)
            merged = dict(previous) if isinstance(previous, dict) else {}
            merged.update(per_region)
            state[key] = merged
        return state
