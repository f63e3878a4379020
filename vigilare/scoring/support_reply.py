"""A draft reply to the AWS support case, for the panic package.

AWS asks the account owner to say what was found and what was done before its deadline. The draft
lists every CRITICAL finding (never cut), then the worst of the rest, then the checklist steps as
boxes to tick: the customer edits it and sends it from the case in Support Center.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from vigilare.plugin.model import Severity
from vigilare.scoring.checklist import ChecklistStep
from vigilare.scoring.signals import LocatedSignal

# Beyond the CRITICAL findings, which are always listed, a reply this long is still read.
MAX_OTHER_FINDINGS = 20
_CHARGES_KINDS = frozenset(
    {
        ("billing", "new_region_spend"),
        ("billing", "spend_runrate_spike"),
        ("billing", "daily_spend_spike"),
        ("billing", "cost_anomaly"),
        ("compute", "gpu_capacity_new_region"),
        ("compute", "large_fleet"),
        ("compute", "spot_requests"),
        ("workloads", "sagemaker_gpu_new_region"),
        ("workloads", "batch_gpu_new_region"),
        ("workloads", "ecs_tasks_new_region"),
        ("workloads", "lambda_burst"),
        ("workloads", "fargate_burst"),
    }
)
_WHITESPACE = re.compile(r"\s+")


def draft_support_reply(
    account_id: str,
    signals: Iterable[LocatedSignal],
    checklist: Sequence[ChecklistStep],
    *,
    signed_by: str | None = None,
) -> str:
    """Plain-text draft: findings (all CRITICAL ones, then the worst others), steps, and a request."""
    ranked = sorted(
        ((Severity.parse(s.severity), s) for s in signals),
        key=lambda pair: (-pair[0].rank, pair[1].scenario, pair[1].kind, _one_line(pair[1].resource or "")),
    )
    critical = [pair for pair in ranked if pair[0] is Severity.CRITICAL]
    others = [pair for pair in ranked if pair[0] is not Severity.CRITICAL]
    listed, unlisted = others[:MAX_OTHER_FINDINGS], others[MAX_OTHER_FINDINGS:]

    lines = [
        f"Subject: AWS account {account_id}: what we found and what we are doing",
        "",
        "Hello AWS Support,",
        "",
        f"We are replying about AWS account {account_id}. Below is what we found in the account and the",
        "steps we have taken or are taking. [Edit before sending: mark each step done or in progress.]",
        "",
        "What we found",
    ]
    if ranked:
        lines += [f"- {_finding(severity, signal)}" for severity, signal in critical + listed]
        if unlisted:
            counts = Counter(severity for severity, _ in unlisted)
            by_severity = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s])
            lines.append(f"- and {len(unlisted)} lower-severity findings ({by_severity})")
    else:
        lines.append("- No open findings in our monitoring at the time of writing.")

    lines += ["", "What we have done or are doing"]
    lines += [f"{step.step}. [ ] {_one_line(step.title)}" for step in checklist] or ["- (no steps)"]

    if any((s.scenario, s.kind) in _CHARGES_KINDS for _, s in ranked):
        lines += [
            "",
            "The activity above caused charges we did not intend. Once the resources are removed, we ask",
            "you to review these charges for a billing adjustment.",
        ]
    lines += [
        "",
        "Please tell us if you need anything else to close this case.",
        "",
        "Regards,",
        signed_by or "[Your name]",
    ]
    return "\n".join(lines) + "\n"


def _finding(severity: Severity, signal: LocatedSignal) -> str:
    where = [part for part in (_one_line(signal.resource or ""), _one_line(signal.region or "")) if part]
    location = f" ({', '.join(where)})" if where else ""
    return f"{severity.value}: {_one_line(signal.title)}{location}"


def _one_line(text: str) -> str:
    """Titles and resource names come from AWS data an attacker can shape: keep each on one line."""
    return _WHITESPACE.sub(" ", text).strip()
