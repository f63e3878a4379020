"""Testing scenarios without AWS: a pytest plugin, active wherever Vigilare is installed.

Vigilare registers this module in pytest's ``pytest11`` entry-point group, so a plugin's tests get
the ``run_scenario`` fixture with no conftest. It runs one scenario over data built in memory,
through the scanner's own code: the class checks plugin loading applies (``id``, ``requires``, time
budget, ``emits``), then the runner with its time budget and its checks on what ``detect`` returns
(a list of this scenario's own findings, of the kinds and severities ``emits`` declares; duplicates
collapse to the most severe)::

    from vigilare.plugin import Severity
    from vigilare.testing import RunScenario

    async def test_imdsv1_is_reported(run_scenario: RunScenario) -> None:
        [finding] = await run_scenario(
            Imdsv1Instances, regional={"ec2.instances": {"eu-west-1": [instance]}}
        )
        assert finding.severity is Severity.MEDIUM

Global data keys go in the first argument (``{"iam.users": [...]}``), regional ones in
``regional=`` as ``{key: {region: value}}``. The data carries a fixed account id
(:data:`ACCOUNT_ID`) and a fixed "now" (:data:`COLLECTED_AT`, the ``collected_at`` every age is
computed from) unless given, so results never depend on the day the tests run.

``await run_scenario(...)`` returns the findings and fails the test (:class:`ScenarioFailed`) when
the scenario raised, timed out or returned something the scanner refuses.
``await run_scenario.run(...)`` returns findings and outcome without judging, e.g. to check that
missing data marks the outcome incomplete. :func:`collected_data` builds the data alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from vigilare.plugin import Capability, CollectedData, CollectionError, Finding, Scenario
from vigilare.scenarios.manager import check_scenario_class
from vigilare.scenarios.runner import ScenarioOutcome, run_detectors

ACCOUNT_ID = "111122223333"
"""The account id of data built by :func:`collected_data` unless given."""
COLLECTED_AT = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)
"""The ``collected_at`` ("now") of data built by :func:`collected_data` unless given."""

__all__ = [
    "ACCOUNT_ID",
    "COLLECTED_AT",
    "RunScenario",
    "ScenarioFailed",
    "ScenarioOutcome",
    "ScenarioRun",
    "collected_data",
    "run_scenario",
]


def collected_data(
    values: Mapping[str, Any] | None = None,
    *,
    regional: Mapping[str, Mapping[str, Any]] | None = None,
    errors: Sequence[CollectionError] = (),
    capabilities: Sequence[Capability] = (),
    regions: Sequence[str] | None = None,
    account_id: str = ACCOUNT_ID,
    collected_at: datetime = COLLECTED_AT,
) -> CollectedData:
    """Collected data as a scan would hand it to scenarios: global ``values`` by data key,
    ``regional`` as ``{key: {region: value}}``, plus what could not be collected (``errors``) and
    what the account's plan does not allow (``capabilities``)."""
    return CollectedData(
        account_id=account_id,
        collected_at=collected_at,
        values=values or {},
        regional=regional or {},
        errors=errors,
        capabilities=capabilities,
        regions=regions,
    )


class ScenarioFailed(AssertionError):
    """The scenario raised, timed out or returned what the scanner refuses; ``outcome`` says which."""

    def __init__(self, outcome: ScenarioOutcome) -> None:
        super().__init__(f"scenario {outcome.scenario_id!r} {outcome.status}: {outcome.error}")
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """What one scenario produced over the data, and how its run went (as a scan records it)."""

    findings: list[Finding]
    outcome: ScenarioOutcome


class RunScenario:
    """The ``run_scenario`` fixture: runs one scenario class over in-memory data, as a scan does."""

    async def __call__(
        self,
        scenario: type[Scenario],
        values: Mapping[str, Any] | CollectedData | None = None,
        /,
        **data: Any,
    ) -> list[Finding]:
        """The scenario's findings; raises :class:`ScenarioFailed` unless its outcome is ``ok``.

        ``values`` and ``data`` are :func:`collected_data`'s arguments, or ``values`` is a
        :class:`~vigilare.plugin.CollectedData` already built.
        """
        run = await self.run(scenario, values, **data)
        if run.outcome.status != "ok":
            raise ScenarioFailed(run.outcome)
        return run.findings

    async def run(
        self,
        scenario: type[Scenario],
        values: Mapping[str, Any] | CollectedData | None = None,
        /,
        **data: Any,
    ) -> ScenarioRun:
        """Findings and outcome, whatever the outcome (``ok``, ``failed`` or ``timeout``)."""
        check_scenario_class(scenario, f"scenario {getattr(scenario, '__qualname__', scenario)!r}")
        if isinstance(values, CollectedData):
            if data:
                raise TypeError("pass either CollectedData or collected_data() arguments, not both")
            collected = values
        else:
            collected = collected_data(values, **data)
        _refuse_undeclared_data(scenario, collected)
        result = await run_detectors(collected, [scenario])
        return ScenarioRun(findings=result.findings, outcome=result.outcomes[scenario.id])


def _refuse_undeclared_data(scenario: type[Scenario], data: CollectedData) -> None:
    # A scan collects only the keys some scenario requires: reading an undeclared key works in a
    # test and then finds nothing in production.
    undeclared = sorted(set(data) - set(scenario.requires))
    if undeclared:
        raise ValueError(
            f"{scenario.__qualname__} is given data {undeclared} it does not list in `requires` "
            f"{scenario.requires}: a scan collects only required data"
        )


@pytest.fixture
def run_scenario() -> RunScenario:
    """Run a scenario over in-memory data through the scanner's checks (see :mod:`vigilare.testing`)."""
    return RunScenario()
