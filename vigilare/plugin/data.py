"""The data a scan collected, as scenarios see it (re-exported by :mod:`vigilare.plugin`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import msgspec

from vigilare.plugin.model import GLOBAL_REGION


class CollectionError(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of data that could not be collected: never a finding, but it makes the data incomplete.

    ``region`` is ``"global"`` for global data; ``resource`` names the one item that failed when
    the rest of the key was collected (e.g. one bucket whose policy could not be read).
    """

    key: str
    region: str
    error: str
    resource: str | None = None


class Capability(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the account allows an API, as a collector found out (``reason`` says why not).

    ``key`` is the data key whose collector recorded it: when ``available`` is False, that key is
    incomplete (nothing could be read) although nothing failed.
    """

    name: str
    available: bool
    reason: str = ""
    key: str = ""


class CollectedData(Mapping[str, Any]):
    """Read-only mapping of data key -> value, plus what could not be collected.

    Global keys map to their value. Regional keys map to a read-only ``{region: value}`` mapping
    holding only the regions that answered; the failed ones are in :attr:`errors`.
    ``collected_at`` is "now" for every age a detector computes, so results do not depend on when
    the detector happens to run.

    Detector tests build one directly::

        CollectedData(account_id="111122223333", collected_at=now,
                      values={"iam.users": [...]}, regional={"ec2.security_groups": {"us-east-1": [...]}})
    """

    def __init__(
        self,
        *,
        account_id: str,
        collected_at: datetime | None = None,
        values: Mapping[str, Any] | None = None,
        regional: Mapping[str, Mapping[str, Any]] | None = None,
        errors: Sequence[CollectionError] = (),
        regions: Sequence[str] | None = None,
        capabilities: Sequence[Capability] = (),
    ) -> None:
        regional = regional or {}
        values = values or {}
        overlap = set(values) & set(regional)
        if overlap:
            raise ValueError(f"keys given both as global and regional: {sorted(overlap)}")
        merged: dict[str, Any] = dict(values)
        merged.update({key: MappingProxyType(dict(per_region)) for key, per_region in regional.items()})
        self._values: Mapping[str, Any] = MappingProxyType(merged)
        self._regional_keys = frozenset(regional)
        self._errors = tuple(errors)
        self.capabilities: tuple[Capability, ...] = tuple(capabilities)
        self.account_id = account_id
        self.collected_at = collected_at or datetime.now(UTC)
        if regions is None:
            regions = sorted({region for per_region in regional.values() for region in per_region})
        self.regions: tuple[str, ...] = tuple(regions)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def errors(self) -> tuple[CollectionError, ...]:
        return self._errors

    def is_regional(self, key: str) -> bool:
        return key in self._regional_keys

    def per_region(self, key: str) -> Mapping[str, Any]:
        """``{region: value}`` for a regional key; empty when nothing was collected."""
        if key in self._values and key not in self._regional_keys:
            raise KeyError(f"{key} is global data, not regional")
        value: Mapping[str, Any] = self._values.get(key, MappingProxyType({}))
        return value

    def regional_items(self, key: str) -> Iterator[tuple[str, Any]]:
        """``(region, item)`` for every item of a regional key whose values are lists."""
        for region, items in sorted(self.per_region(key).items()):
            for item in items:
                yield region, item

    def errors_for(self, key: str) -> tuple[CollectionError, ...]:
        return tuple(error for error in self._errors if error.key == key)

    def is_complete(self, *keys: str) -> bool:
        """True when every key was collected everywhere without error, and its API was available."""
        unavailable = {capability.key for capability in self.capabilities if not capability.available}
        return all(
            key in self._values and not self.errors_for(key) and key not in unavailable for key in keys
        )

    def capability(self, name: str) -> Capability | None:
        """What a collector recorded about capability ``name`` in this scan, if anything."""
        return next((capability for capability in self.capabilities if capability.name == name), None)

    def failed_regions(self, key: str) -> tuple[str, ...]:
        return tuple(
            sorted({error.region for error in self.errors_for(key) if error.region != GLOBAL_REGION})
        )
