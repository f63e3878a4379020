"""The recovery checklist: numbered steps tailored to an account's open signals.

One step per kind of signal present, in AWS's recovery order (the phases of ``checklist_catalog``),
worst first within a phase, each naming what to act on: the concrete access keys, users, instances
and regions a detector lists in a finding's ``details["act_on"]`` (e.g. the access key an AWS risk
case names, not the case's ARN), else the signal's resource and region. A few general steps are added when
the signals suggest a compromise (look for the case, sweep every region, keep the evidence) or come
with an AWS case (reply to it). With no open signals the checklist is a short hardening list.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vigilare.plugin.model import Severity
from vigilare.scoring.checklist_catalog import (
    CASE_KINDS,
    CHECK_FOR_CASE,
    COLLECT_EVIDENCE,
    COMPROMISE_GUIDE,
    COMPROMISE_KINDS,
    HARDENING,
    KIND_STEPS,
    REPLY_TO_CASE,
    SECURITY_PILLAR,
    SWEEP_REGIONS,
    StepTemplate,
)
from vigilare.scoring.signals import LocatedSignal

# Naming more than this many resources in one step makes it unreadable; the rest are counted.
MAX_NAMED_RESOURCES = 10
_GLOBAL_REGIONS = frozenset({"", "global", "aws-global"})
# Unknown (third-party) kinds at these severities are contained with the regional sweep; others hardened.
_CONTAIN_PHASE, _HARDEN_PHASE = 5, 9
# Within a phase and severity, the catalog lists the more urgent kinds first.
_CATALOG_ORDER = {key: index for index, key in enumerate(KIND_STEPS)}


@dataclass(frozen=True, slots=True)
class ChecklistStep:
    step: int
    title: str
    description: str
    docs_url: str


@dataclass(frozen=True, slots=True)
class _Planned:
    sort_key: tuple[int, int, int, int, int, str, str]
    template: StepTemplate
    affected: str


def build_checklist(
    signals: Iterable[LocatedSignal],
    *,
    extra_templates: Mapping[tuple[str, str], StepTemplate] | None = None,
) -> list[ChecklistStep]:
    """Numbered recovery steps for these open signals, most urgent first.

    ``extra_templates`` adds or overrides steps by ``(scenario, kind)``, e.g. from scenario plugins'
    remediation metadata; a kind with no template gets a generic step placed by its severity.
    """
    templates = {**KIND_STEPS, **(extra_templates or {})}
    groups: dict[tuple[str, str], list[tuple[Severity, LocatedSignal]]] = defaultdict(list)
    for signal in signals:
        groups[(signal.scenario, signal.kind)].append((Severity.parse(signal.severity), signal))
    if not groups:
        return _numbered((t, "") for t in HARDENING)

    planned = [_plan_kind(key, members, templates.get(key)) for key, members in groups.items()]
    present = set(groups)
    if present & COMPROMISE_KINDS:
        if not present & CASE_KINDS:
            planned.append(_general(CHECK_FOR_CASE))
        planned.append(_general(SWEEP_REGIONS))
        planned.append(_general(COLLECT_EVIDENCE))
    if present & (COMPROMISE_KINDS | CASE_KINDS):
        planned.append(_general(REPLY_TO_CASE))
    planned.sort(key=lambda p: p.sort_key)
    return _numbered((p.template, p.affected) for p in planned)


def checklist_markdown(steps: Sequence[ChecklistStep], *, heading: str = "Recovery checklist") -> str:
    """Render steps as a Markdown document (used in the panic package's evidence ZIP)."""
    lines = [f"# {_escape(heading)}", ""]
    for step in steps:
        lines += [
            f"{step.step}. **{_escape(step.title)}**",
            "",
            f"   {_escape(step.description)}",
            "",
            f"   Docs: <{step.docs_url}>",
            "",
        ]
    return "\n".join(lines)


def _plan_kind(
    key: tuple[str, str],
    members: list[tuple[Severity, LocatedSignal]],
    template: StepTemplate | None,
) -> _Planned:
    members.sort(key=lambda m: (-m[0].rank, _label(m[1]), m[1].title))
    worst = members[0][0]
    if template is None:
        template = _generic_template(key, worst, members[0][1].title, len(members))
    sort_key = (
        template.phase,
        0,
        -worst.rank,
        _CATALOG_ORDER.get(key, len(_CATALOG_ORDER)),
        -len(members),
        *key,
    )
    return _Planned(sort_key, template, _affected_sentence(template.affected_label, members))


def _general(template: StepTemplate) -> _Planned:
    # After the kind-specific steps of the same phase: those name concrete resources to act on first.
    return _Planned((template.phase, 1, 0, 0, 0, "", template.title), template, "")


def _generic_template(key: tuple[str, str], worst: Severity, title: str, count: int) -> StepTemplate:
    scenario, kind = key
    urgent = worst in (Severity.CRITICAL, Severity.HIGH)
    noun = "signal" if count == 1 else "signals"
    return StepTemplate(
        phase=_CONTAIN_PHASE if urgent else _HARDEN_PHASE,
        title=f"Review: {title}",
        action=(
            f"The {scenario} scenario reports {count} open {noun} of kind {kind} (worst: {worst.value}). "
            "Confirm each one and fix it, or accept it knowingly."
        ),
        docs_url=COMPROMISE_GUIDE if urgent else SECURITY_PILLAR,
    )


def _names(signal: LocatedSignal) -> list[str]:
    """What to act on: the concrete names the signal's detector listed in ``details["act_on"]``
    (access keys, users, instances with their region...), else the signal's resource and region."""
    details = getattr(signal, "details", None)
    act_on = details.get("act_on") if isinstance(details, dict) else None
    if isinstance(act_on, list) and act_on:
        return [str(name) for name in act_on if str(name).strip()]
    label = _label(signal)
    return [label] if label else []


def _label(signal: LocatedSignal) -> str:
    resource = (signal.resource or "").strip()
    region = (signal.region or "").strip()
    if region in _GLOBAL_REGIONS:
        return resource
    return f"{resource} ({region})" if resource else region


def _affected_sentence(label: str, members: Sequence[tuple[Severity, LocatedSignal]]) -> str:
    names = list(dict.fromkeys(name for _, signal in members for name in _names(signal)))
    if not names:
        return ""
    shown = ", ".join(names[:MAX_NAMED_RESOURCES])
    hidden = len(names) - MAX_NAMED_RESOURCES
    more = f" and {hidden} more" if hidden > 0 else ""
    return f"{label}: {shown}{more}."


def _numbered(items: Iterable[tuple[StepTemplate, str]]) -> list[ChecklistStep]:
    steps = []
    for number, (template, affected) in enumerate(items, start=1):
        description = f"{template.action} {affected}" if affected else template.action
        steps.append(ChecklistStep(number, template.title, description, template.docs_url))
    return steps


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def _escape(text: str) -> str:
    """Resource names are attacker-influenced (bucket names, user names): keep them literal text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))
