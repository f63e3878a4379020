"""Runs the collectors a scan needs: each data key fetched once (per enabled region when regional).

A failure (a region answering 500, an access denied, a bug in a collector) becomes a recorded
:class:`CollectionError` for that key and region, never a finding and never a crashed scan.
An access denied by a service control policy (an explicit deny the account's organization set,
e.g. a region guard) is not a failure of the scan: it becomes a ``scp_denied:<region>`` capability
of the account, the region's data is simply absent, and the scan stays ``ok``. An action the
Vigilare role's own policies do not grant (a role set up from an older onboarding policy) is not a
failure either: one ``role_policy`` capability names every such action and asks for the policy to
be updated; that data was not read, so the signals it would settle stay as they were.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from vigilare.aws.freshness import REGIONS_FRESHNESS, REGIONS_STATE_KEY
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
        run: _RunNotes | None = None,
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
        self._run = run if run is not None else _RunNotes(full=True)

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
        other = _Context(
            self._session, self._key, region, self._errors, self._state, self._capabilities, self._run
        )
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

    @property
    def full(self) -> bool:
        return self._run.full

    def fresh_until(self, moment: datetime) -> None:
        place = self._state_region or GLOBAL_REGION
        self._run.fresh_until[(self._key, place)] = moment

    def record_capability(self, name: str, available: bool, reason: str = "") -> None:
        known = self._capabilities.get(name)
        if known is not None and not known.available:
            return  # one region saying "unavailable" is not undone by another saying "available"
        self._capabilities[name] = Capability(name=name, available=available, reason=reason, key=self._key)


@dataclass
class _RunNotes:
    """What collectors said about one scan's collection besides their data."""

    full: bool
    fresh_until: dict[tuple[str, str], datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Collection:
    """One scan's collection: the data, where each key was asked for (``attempted``), where its run
    did not fail (``succeeded``), and the collectors' own freshness deadlines."""

    data: CollectedData
    attempted: dict[str, set[str]]
    succeeded: dict[str, set[str]]
    fresh_until: dict[tuple[str, str], datetime]


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
ROLE_POLICY_CAPABILITY = "role_policy"
_ROLE_DENY_TEXT = "because no identity-based policy allows"


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


def role_denied_action(exc: BaseException) -> str | None:
    """The action the caller's own policies do not grant, or None when ``exc`` is not such a denial.

    AWS says so in the access-denied message: "User: ... is not authorized to perform:
    ec2:DescribeFleets ... because no identity-based policy allows the ec2:DescribeFleets action"
    (IAM User Guide, "Troubleshoot access denied error messages": an implicit deny).
    """
    if not isinstance(exc, ClientError):
        return None
    text = describe_error(exc)
    if _ROLE_DENY_TEXT not in text.lower():
        return None
    match = _DENIED_ACTION.search(text)
    return match.group(1) if match else None


def role_policy_capability(account_id: str, denied: Mapping[str, set[str]]) -> Capability:
    """The ``role_policy`` capability: the actions the role lacks, and where they were refused."""
    actions = sorted({action for actions in denied.values() for action in actions})
    places = sorted(denied)
    where = "" if places == [GLOBAL_REGION] else f" (refused in {', '.join(places)})"
    return Capability(
        name=ROLE_POLICY_CAPABILITY,
        available=False,
        reason=(
            f"the Vigilare role may not call {', '.join(actions)}{where}: it was set up from an older "
            f"onboarding policy. Update its additions policy (the console's /app/accounts/{account_id}/setup "
            "shows the current one); until then these checks do not run and what they found stays as it was"
        ),
    )


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
    wanted = sorted(set(required_keys))
    run = await collect_planned(
        session,
        collectors,
        wanted,
        lambda scan_regions: None,
        regions=regions,
        collected_at=collected_at,
        state=state,
    )
    return run.data


async def collect_planned(
    session: AccountSession,
    collectors: Mapping[str, Collector],
    wanted: Sequence[str],
    planner: Callable[[Sequence[str]], Mapping[str, set[str]] | None],
    *,
    regions: Sequence[str] | None = None,
    collected_at: datetime | None = None,
    state: StateStore | None = None,
    full: bool = True,
) -> Collection:
    """Fetch the keys of ``wanted`` that ``planner`` (given the scan's regions) says are due, in the
    places it names (``"global"`` for global keys); a planner answering None collects everything."""
    state = state if state is not None else StateStore(None)
    collected_at = collected_at or datetime.now(UTC)
    errors: list[CollectionError] = []
    capabilities: dict[str, Capability] = {}
    notes = _RunNotes(full=full)
    scp_denied: dict[str, set[str]] = {}
    role_denied: dict[str, set[str]] = {}
    for key in wanted:
        if key not in collectors:
            errors.append(
                CollectionError(key=key, region=GLOBAL_REGION, error="no collector provides this data")
            )
    selected = [collectors[key] for key in wanted if key in collectors]

    scan_regions: list[str] = []
    if any(collector.regional for collector in selected):
        scan_regions = (
            list(regions)
            if regions is not None
            else await _regions_or_home(session, errors, state, full, collected_at)
        )
    due = planner(scan_regions)
    if due is None:
        due = {
            collector.key: set(scan_regions) if collector.regional else {GLOBAL_REGION}
            for collector in selected
        }
    selected = [collector for collector in selected if due.get(collector.key)]

    values: dict[str, Any] = {}
    regional: dict[str, dict[str, Any]] = {collector.key: {} for collector in selected if collector.regional}
    succeeded: dict[str, set[str]] = {collector.key: set() for collector in selected}

    async def run(collector: Collector, region: str | None) -> None:
        context = _Context(session, collector.key, region, errors, state, capabilities, notes)
        try:
            value = await collector.fetch(context)
        except Exception as exc:
            denied_action = scp_denied_action(exc)
            if denied_action is not None:
                scp_denied.setdefault(region or GLOBAL_REGION, set()).add(denied_action)
                # Nothing to read there until the policy changes: looked at again on the key's clock.
                succeeded[collector.key].add(region or GLOBAL_REGION)
                return
            lacking = role_denied_action(exc)
            if lacking is not None:
                # Not read (the key stays unsettled), but not a failure of the scan either.
                role_denied.setdefault(region or GLOBAL_REGION, set()).add(lacking)
                return
            logger.info("collecting %s in %s failed: %s", collector.key, region or GLOBAL_REGION, exc)
            errors.append(
                CollectionError(key=collector.key, region=region or GLOBAL_REGION, error=describe_error(exc))
            )
            return
        succeeded[collector.key].add(region or GLOBAL_REGION)
        if region is None:
            values[collector.key] = value
        else:
            regional[collector.key][region] = value

    runs = []
    for collector in selected:
        if collector.regional:
            runs += [run(collector, region) for region in scan_regions if region in due[collector.key]]
        else:
            runs.append(run(collector, None))
    await asyncio.gather(*runs)
    for capability in scp_capabilities(scp_denied):
        capabilities[capability.name] = capability
    if role_denied:
        capabilities[ROLE_POLICY_CAPABILITY] = role_policy_capability(session.account_id, role_denied)
    data = CollectedData(
        account_id=session.account_id,
        collected_at=collected_at,
        values=values,
        regional=regional,
        errors=sorted(errors, key=lambda error: (error.key, error.region, error.resource or "")),
        regions=scan_regions,
        capabilities=[capabilities[name] for name in sorted(capabilities)],
    )
    attempted = {collector.key: set(due[collector.key]) for collector in selected}
    return Collection(data=data, attempted=attempted, succeeded=succeeded, fresh_until=notes.fresh_until)


async def _regions_or_home(
    session: AccountSession, errors: list[CollectionError], state: StateStore, full: bool, now: datetime
) -> list[str]:
    """The enabled regions: listed again hourly (and on a full scan), remembered in the state."""
    known = state.previous(REGIONS_STATE_KEY, None)
    if (
        not full
        and isinstance(known, dict)
        and isinstance(known.get("regions"), list)
        and isinstance(known.get("listed_at"), int | float)
        and now.timestamp() - known["listed_at"] < REGIONS_FRESHNESS.total_seconds()
    ):
        return [str(region) for region in known["regions"]]
    try:
        listed = await enabled_regions(session)
        state.save(REGIONS_STATE_KEY, None, {"regions": listed, "listed_at": round(now.timestamp(), 3)})
        return listed
    except Exception as exc:
        # Without the region list, still read the home region rather than nothing.
        errors.append(CollectionError(key=REGIONS_KEY, region=GLOBAL_REGION, error=describe_error(exc)))
        return [session.home_region]
