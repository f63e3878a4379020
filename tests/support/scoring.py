"""Signals and hypothesis strategies shared by the scoring tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hypothesis import strategies as st

from vigilare.scoring.formula import SUSPENSION_CAPS

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")

BUILT_IN_KINDS: tuple[tuple[str, str], ...] = (
    ("iam", "quarantine_policy"),
    ("iam", "root_access_keys"),
    ("iam", "root_mfa_disabled"),
    ("iam", "access_key_old"),
    ("iam", "access_key_unused"),
    ("iam", "access_keys_duplicate"),
    ("iam", "new_admin_user"),
    ("exposure", "public_bucket_read"),
    ("exposure", "public_bucket_write"),
    ("exposure", "open_security_group"),
    ("abuse", "health_risk_event"),
    ("abuse", "health_abuse_event"),
    ("root", "root_login"),
    ("root", "root_login_no_mfa"),
    ("root", "cloudtrail_stopped"),
    ("root", "trail_deleted"),
    ("billing", "spend_runrate_spike"),
    ("billing", "daily_spend_spike"),
    ("billing", "new_region_spend"),
    ("billing", "cost_anomaly"),
    ("billing", "past_due"),
    ("compute", "gpu_capacity_new_region"),
    ("compute", "large_fleet"),
    ("compute", "spot_requests"),
    ("email", "ses_probation"),
    ("email", "ses_shutdown"),
    ("email", "ses_bounce_rate"),
    ("email", "ses_complaint_rate"),
    ("threat", "guardduty_finding"),
    ("threat", "guardduty_disabled"),
    ("hygiene", "no_security_contact"),
    ("hygiene", "no_multiregion_trail"),
    ("hygiene", "guardduty_off"),
)
THIRD_PARTY_KINDS: tuple[tuple[str, str], ...] = (
    ("acme_lambda_audit", "function_url_public"),
    ("acme_lambda_audit", "old_runtime"),
    ("corp.tags", "untagged_instance"),
)
CAPPING_KINDS = tuple(sorted(SUSPENSION_CAPS))
NON_CAPPING_KINDS = tuple(k for k in BUILT_IN_KINDS + THIRD_PARTY_KINDS if k not in SUSPENSION_CAPS)


@dataclass(frozen=True)
class Signal:
    scenario: str
    kind: str
    severity: str
    title: str = "A signal"
    resource: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class SignalRow:
    """A stored signal as the CSV export reads it."""

    signal_id: str
    scenario: str
    kind: str
    severity: str
    title: str
    description: str | None
    region: str | None
    resource: str | None
    detected_at: datetime
    resolved_at: datetime | None


def signal_strategy(
    kinds: tuple[tuple[str, str], ...] = NON_CAPPING_KINDS,
    severities: tuple[str, ...] = SEVERITIES,
) -> st.SearchStrategy[Signal]:
    # Few resources and titles, so repeats of one (scenario, kind) and exact duplicates are common.
    return st.builds(
        lambda pair, severity, resource, title: Signal(pair[0], pair[1], severity, title, resource),
        st.sampled_from(kinds),
        st.sampled_from(severities),
        st.one_of(st.none(), st.sampled_from(["bucket-a", "i-0abc", "arn:aws:iam::1:user/x", "=cmd"])),
        st.sampled_from(["A signal", "Another signal"]),
    )


signal_lists = st.lists(signal_strategy(), max_size=40)
capping_signals = signal_strategy(kinds=CAPPING_KINDS)
