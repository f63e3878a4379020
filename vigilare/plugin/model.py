"""Findings, severities and the Scenario base class (re-exported by :mod:`vigilare.plugin`)."""

from __future__ import annotations

import abc
import enum
import hashlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

if TYPE_CHECKING:
    from vigilare.plugin.data import CollectedData

GLOBAL_REGION = "global"
"""The ``region`` of a finding about a global resource (IAM, S3 account settings)."""


class Severity(enum.StrEnum):
    """How bad a finding is: the one severity scale of Vigilare (findings, signals, scores, alerts).

    Members are listed most severe first, so iterating ``Severity`` goes CRITICAL, HIGH, MEDIUM, LOW.
    There is no INFO: a finding is something to act on, and alert rules accept these four only.
    """

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"

    @property
    def rank(self) -> int:
        """4 for CRITICAL down to 1 for LOW: compare severities with this, not with ``<`` on strings."""
        return _RANKS[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank

    @classmethod
    def highest(cls, severities: Iterable[Severity]) -> Severity | None:
        """The most severe of an iterable of severities, or None when it is empty."""
        return max(severities, key=lambda severity: severity.rank, default=None)

    @classmethod
    def parse(cls, value: str) -> Severity:
        """The severity named by ``value`` in any letter case; anything else raises ``ValueError``."""
        try:
            return cls(value.upper())
        except ValueError:
            raise ValueError(f"unknown severity {value!r}; expected one of {cls.choices()}") from None

    @classmethod
    def choices(cls) -> str:
        """``"CRITICAL, HIGH, MEDIUM, LOW"``, for error messages."""
        return ", ".join(cls)


_RANKS = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One risky state found in one account.

    ``title`` and ``description`` say what, where and since when in plain words, because they are
    shown to the customer as is. ``resource`` identifies the thing (an ARN or id) and, with
    ``scenario``, ``region`` and ``kind``, makes the finding's fingerprint: a rescan that sees the
    same state produces the same fingerprint, so the signal is updated rather than duplicated.
    """

    scenario: str
    kind: str
    severity: Severity
    title: str
    description: str
    resource: str
    region: str = GLOBAL_REGION
    remediation: str = ""
    docs_url: str = ""
    details: dict[str, Any] = msgspec.field(default_factory=dict)

    def fingerprint(self, aws_account_id: str) -> str:
        identity = "|".join((self.scenario, aws_account_id, self.region, self.resource, self.kind))
        return hashlib.sha256(identity.encode()).hexdigest()


class Scenario(abc.ABC):
    """A detector: pure logic over data collected once per scan.

    Subclasses set the class attributes and implement :meth:`detect`. ``requires`` names the data
    keys the scenario reads (only those are collected); ``detect`` must not call AWS itself.
    A scenario that raises or runs past ``time_budget_seconds`` is recorded as failed or timed out
    and never stops the other scenarios. ``detect`` runs on the scan's event loop: it must not block
    it (no blocking I/O, no long CPU loops), or its time budget cannot be enforced.

    ``emits`` declares every kind of finding the scenario reports, each with the severities it may
    have::

        emits = {
            "public_bucket_write": (Severity.CRITICAL,),
            "ses_bounce_rate": (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM),
        }

    A finding of a kind not declared there, or with a severity not declared for its kind, is refused
    when the scan runs: it is not stored, and the scenario's outcome records it as an error.

    ``kind_requires`` says which of ``requires`` each kind is read from, when a kind needs fewer
    than all of them; a kind not listed reads all of ``requires``. Data keys are collected on their
    own clocks (:attr:`Collector.freshness`). Without ``kind_requires``, all of ``requires`` are
    collected together whenever one is due. With it, a scan runs the scenario when it collected any
    of its keys, with only the keys it collected in ``data``: ``detect`` must then report a kind
    only when that kind's keys are in ``data``. Either way a signal is resolved only by a scan that
    read every key of its kind, in the signal's region, without error::

        kind_requires = {"quarantine_policy": ("iam.quarantine_attachments",)}
    """

    id: ClassVar[str]
    title: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    emits: ClassVar[Mapping[str, tuple[Severity, ...]]] = {}
    kind_requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    remediation: ClassVar[str] = ""
    docs_url: ClassVar[str] = ""
    time_budget_seconds: ClassVar[float] = 30.0

    @classmethod
    def declared_kinds(cls) -> list[tuple[str, Severity]]:
        """Every ``(kind, severity)`` pair the scenario declares in ``emits``."""
        return [(kind, severity) for kind, severities in cls.emits.items() for severity in severities]

    @classmethod
    def keys_of_kind(cls, kind: str) -> tuple[str, ...]:
        """The data keys findings of ``kind`` are read from (all of ``requires`` unless declared)."""
        return tuple(cls.kind_requires.get(kind, cls.requires))

    @classmethod
    def key_groups(cls) -> list[tuple[tuple[str, ...], bool]]:
        """The keys collected together, each group with ``strict``: without ``kind_requires``, all of
        ``requires`` at once (strict); with it, the keys of each kind kept in step."""
        if not cls.kind_requires:
            return [(tuple(cls.requires), True)]
        groups = [(tuple(keys), False) for keys in cls.kind_requires.values()]
        undeclared = [kind for kind in cls.emits if kind not in cls.kind_requires]
        if undeclared:
            groups.append((tuple(cls.requires), False))
        return groups

    @abc.abstractmethod
    async def detect(self, data: CollectedData) -> list[Finding]:
        """Return the findings present in ``data`` (an empty list when the account is clean)."""

    def finding(
        self,
        *,
        kind: str,
        severity: Severity,
        title: str,
        description: str,
        resource: str,
        region: str = GLOBAL_REGION,
        details: dict[str, Any] | None = None,
        remediation: str | None = None,
        docs_url: str | None = None,
    ) -> Finding:
        """Build a finding of this scenario, defaulting remediation and docs to the scenario's own."""
        return Finding(
            scenario=self.id,
            kind=kind,
            severity=severity,
            title=title,
            description=description,
            resource=resource,
            region=region,
            remediation=self.remediation if remediation is None else remediation,
            docs_url=self.docs_url if docs_url is None else docs_url,
            details=details or {},
        )


def emits_error(scenario: type[Scenario]) -> str | None:
    """What is wrong with the shape of ``scenario.emits`` (checked when its plugin loads), or None."""
    emits: object = scenario.emits
    if not isinstance(emits, Mapping):
        return "`emits` must map each kind (str) to a tuple of severities"
    for kind, severities in emits.items():
        if not isinstance(kind, str) or not kind:
            return f"`emits` has the kind {kind!r}, not a non-empty str"
        if (
            not isinstance(severities, tuple)
            or not severities
            or not all(isinstance(severity, Severity) for severity in severities)
        ):
            return f"`emits[{kind!r}]` must be a non-empty tuple of Severity, not {severities!r}"
    return kind_requires_error(scenario)


def kind_requires_error(scenario: type[Scenario]) -> str | None:
    """What is wrong with ``scenario.kind_requires`` (checked when its plugin loads), or None."""
    declared: object = scenario.kind_requires
    if not isinstance(declared, Mapping):
        return "`kind_requires` must map kinds (str) to tuples of data keys"
    for kind, keys in declared.items():
        if kind not in scenario.emits:
            return f"`kind_requires` names the kind {kind!r}, which `emits` does not declare"
        if not isinstance(keys, tuple) or not keys or not all(key in scenario.requires for key in keys):
            return f"`kind_requires[{kind!r}]` must be a non-empty tuple of `requires` keys, not {keys!r}"
    return None
