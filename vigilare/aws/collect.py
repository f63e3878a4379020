"""Runs the collectors a scan needs: each data key fetched once (per enabled region when regional).

A failure (a region answering 500, an access denied, a bug in a collector) becomes a recorded
:class:`CollectionError` for that key and region, never a finding and never a crashed scan.
An access denied by a service control policy (an explicit deny the account's organization set,
e.g. a region guard) is not a failure of the scan: it becomes a ``scp_denied:<region>`` capability
of the account, the region's data is simply absent, and the scan stays ``ok``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from vigilare.aws.session import AccountSession
from vigilare.plugin import GLOBAL_REGION, Capability, CollectedData, CollectionError, Collector, JsonValue
from vigilare.plugin.state import StateStore

logger = logging.getLogger(__name__)

REGIONS_KEY = "ec2.regions"
_ENABLED_OPT_IN_STATUSES = {"opt-in-not-required", "opted-in"}


class _Context:
    """The :class:`vigilare.plugin.CollectorContext` of one collector run in one region."""

    def __init__(
        self,
        session: AccountSession,
        key: str,
        region: str | None,
        errors: list[CollectionError],
        state: StateStore,
        capabilities: dict[str, Capability],
    ) -> None:
        self._session = session
        self._key = key
        self._region = region or session.home_region
        self._error_region = region or GLOBAL_REGION
        self._errors = errors
        self._state = state
        # State belongs to the run's own region (None for a global collector), even after in_region().
        self._state_region = region
        self._capabilities = capabilities

    @property
    def account_id(self) -> str:
        return self._session.account_id

    @property
    def region(self) -> str:
        return self._region

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = await self._session.call(service, operation, region=self._region, **params)
        return response

    async def paginate(self, service: str, operation: str, result_key: str, **params: Any) -> list[Any]:
        return await self._session.paginate(service, operation, result_key, region=self._region, **params)

    def in_region(self, region: str) -> _Context:
        other = _Context(self._session, self._key, region, self._errors, self._state, self._capabilities)
        other._error_region = self._error_region
        other._state_region = self._state_region
        return other

    def record_error(self, resource: str, error: str) -> None:
        self._errors.append(
            CollectionError(key=self._key, region=self._error_region, error=error, resource=resource)
        )

    @property
    def previous_state(self) -> JsonValue:
        return self._state.previous(self._key, self._state_region)

    def save_state(self, value: JsonValue) -> None:
        self._state.save(self._key, self._state_region, value)

    def record_capability(self, name: str, available: bool, reason: str = "") -> None:
        known = self._capabilities.get(name)
        if known is not None and not known.available:
            return  # one region saying "unavailable" is not undone by another saying "available"
        self._capabilities[name] = Capability(name=name, available=available, reason=reason, key=self._key)


_MAX_ERROR_LENGTH = 300


def describe_error(exc: BaseException) -> str:
    """A short human-readable error: AWS's code and message, or the exception's type and text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}"
    else:
        # e.g. a 500 answered with an HTML page: keep the gist, not the page.
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_LENGTH else text[: _MAX_ERROR_LENGTH - 3] + "..."


SCP_CAPABILITY_PREFIX = "scp_denied:"
_SCP_DENY_TEXT = "explicit deny in a service control policy"
_DENIED_ACTION = re.compile(r"perform: ([\w-]+:[\w*-]+)")


def scp_denied_action(exc: BaseException) -> str | None:
    """The action a service control policy denied (``"cloudtrail:DescribeTrails"``, or ``"*"`` when
    AWS does not say), or None when ``exc`` is not an SCP's explicit deny.

    AWS answers such a call with an access-denied error whose message says "with an explicit deny in
    a service control policy" (IAM User Guide, "Troubleshoot access denied error messages"). The
    denial belongs to the account's organization, not to the scan: it is a capability, not an error.
    """
    text = describe_error(exc) if isinstance(exc, ClientError) else str(exc)
    if _SCP_DENY_TEXT not in text.lower():
        return None
    match = _DENIED_ACTION.search(text)
    return match.group(1) if match else "*"


def scp_capabilities(denied: Mapping[str, set[str]]) -> list[Capability]:
    """One capability per region (``scp_denied:ap-east-1``) naming the actions the SCP denied there."""
    return [
        Capability(
            name=f"{SCP_CAPABILITY_PREFIX}{region}",
            available=False,
            reason=(
                f"denied by SCP in {region}: {', '.join(sorted(actions))} "
                "(explicit deny in a service control policy); Vigilare cannot read there, and neither can "
                "anyone else in the account"
                if region != GLOBAL_REGION
                else f"denied by SCP: {', '.join(sorted(actions))} "
                "(explicit deny in a service control policy)"
            ),
        )
        for region, actions in sorted(denied.items())
    ]


def partition_of(region: str) -> str:
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b")):
        if region.startswith(prefix):
            return partition
    return "aws-iso" if region.startswith("us-iso-") else "aws"


async def enabled_regions(session: AccountSession) -> list[str]:
    """Regions enabled for the account in the home region's partition (attackers use the others too)."""
    response = await session.call("ec2", "describe_regions", region=session.home_region, AllRegions=True)
    home_partition = partition_of(session.home_region)
    return sorted(
        region["RegionName"]
        for region in response.get("Regions", [])
        if region.get("OptInStatus", "opt-in-not-required") in _ENABLED_OPT_IN_STATUSES
        and partition_of(region["RegionName"]) == home_partition
    )


async def collect(
    session: AccountSession,
    collectors: Mapping[str, Collector],
    required_keys: Iterable[str],
    *,
    regions: Sequence[str] | None = None,
    collected_at: datetime | None = None,
    state: StateStore | None = None,
) -> CollectedData:
    """Fetch ``required_keys`` (only those) and return them as :class:`CollectedData`.

    ``state`` holds the account's previous scan state and receives what collectors save.
    """
    state = state if state is not None else StateStore(None)
    collected_at = collected_at or datetime.now(UTC)
    errors: list[CollectionError] = []
    capabilities: dict[str, Capability] = {}
    scp_denied: dict[str, set[str]] = {}
    wanted = sorted(set(required_keys))
    for key in wanted:
        if key not in collectors:
            errors.append(
                CollectionError(key=key, region=GLOBAL_REGION, error="no collector provides this data")
            )
    selected = [collectors[key] for key in wanted if key in collectors]

    scan_regions: list[str] = []
    if any(collector.regional for collector in selected):
        scan_regions = list(regions) if regions is not None else await _regions_or_home(session, errors)

    values: dict[str, Any] = {}
    regional: dict[str, dict[str, Any]] = {collector.key: {} for collector in selected if collector.regional}

    async def run(collector: Collector, region: str | None) -> None:
        context = _Context(session, collector.key, region, errors, state, capabilities)
        try:
            value = await collector.fetch(context)
        except Exception as exc:
            denied_action = scp_denied_action(exc)
            if denied_action is not None:
                scp_denied.setdefault(region or GLOBAL_REGION, set()).add(denied_action)
                return
            logger.info("collecting %s in %s failed: %s", collector.key, region or GLOBAL_REGION, exc)
            errors.append(
                CollectionError(key=collector.key, region=region or GLOBAL_REGION, error=describe_error(exc))
            )
            return
        if region is None:
            values[collector.key] = value
        else:
            regional[collector.key][region] = value

    runs = []
    for collector in selected:
        if collector.regional:
            runs += [run(collector, region) for region in scan_regions]
        else:
            runs.append(run(collector, None))
    await asyncio.gather(*runs)
    for capability in scp_capabilities(scp_denied):
        capabilities[capability.name] = capability
    return CollectedData(
        account_id=session.account_id,
        collected_at=collected_at,
        values=values,
        regional=regional,
        errors=sorted(errors, key=lambda error: (error.key, error.region, error.resource or "")),
        regions=scan_regions,
        capabilities=[capabilities[name] for name in sorted(capabilities)],
    )


async def _regions_or_home(session: AccountSession, errors: list[CollectionError]) -> list[str]:
    try:
        return await enabled_regions(session)
    except Exception as exc:
        # Without the region list, still read the home region rather than nothing.
        errors.append(CollectionError(key=REGIONS_KEY, region=GLOBAL_REGION, error=describe_error(exc)))
        return [session.home_region]
