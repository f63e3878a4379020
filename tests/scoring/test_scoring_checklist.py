"""The recovery checklist: tailored to the open signals, in AWS's recovery order."""

from __future__ import annotations

import random

import pytest

from tests.support.scoring import BUILT_IN_KINDS, PLANNED_KINDS, Signal
from vigilare.scoring.checklist import MAX_NAMED_RESOURCES, ChecklistStep, build_checklist, checklist_markdown
from vigilare.scoring.checklist_catalog import HARDENING, KIND_STEPS, StepTemplate

AWS_DOCS = ("https://docs.aws.amazon.com/", "https://repost.aws/knowledge-center/")


def _titles(steps: list[ChecklistStep]) -> list[str]:
    return [s.title for s in steps]


def _step(steps: list[ChecklistStep], title: str) -> ChecklistStep:
    return next(s for s in steps if s.title == title)


def test_no_open_signals_gives_a_short_hardening_list() -> None:
    steps = build_checklist([])
    assert _titles(steps) == [t.title for t in HARDENING]
    assert 3 <= len(steps) <= 6
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))


def test_compromised_account_follows_aws_recovery_order() -> None:
    signals = [
        Signal("hygiene", "no_security_contact", "MEDIUM", "No security contact"),
        Signal("billing", "new_region_spend", "CRITICAL", "Spend in a new region", region="ap-south-1"),
        Signal("email", "ses_bounce_rate", "HIGH", "Bounce rate 6 %", region="eu-west-1"),
        Signal("threat", "guardduty_finding", "CRITICAL", "CryptoCurrency:EC2/BitcoinTool.B", "i-0bad"),
        Signal("iam", "access_key_old", "MEDIUM", "Old key", "alice"),
        Signal("iam", "new_admin_user", "HIGH", "New admin", "mallory"),
        Signal("iam", "root_mfa_disabled", "CRITICAL", "Root MFA off", "root"),
        Signal("abuse", "health_risk_event", "CRITICAL", "AWS_RISK_CREDENTIALS_EXPOSED", "AKIAEXAMPLE"),
        Signal("billing", "past_due", "CRITICAL", "Invoice past due", "INV-1"),
    ]
    assert _titles(build_checklist(signals)) == [
        "Answer the AWS risk case before its deadline",  # 1 case
        "Enable MFA on the root user",  # 2 root
        "Rotate access keys older than 90 days",  # 3 keys
        "Verify new administrators",  # 4 IAM
        "Find what is running in regions you never used",  # 5 every region
        "Sweep every region for resources you did not create",
        "Investigate the GuardDuty findings",  # 6 evidence
        "Keep the evidence",
        "Pay the past-due invoices",  # 7 billing
        "Bring the SES bounce rate down",  # 8 SES
        "Add a security alternate contact",  # 9 harden
        "Reply to the AWS case with what you did",  # 10 reply
    ]


def test_the_catalog_has_a_step_for_exactly_the_kinds_built_in_scenarios_declare() -> None:
    # BUILT_IN_KINDS is read from the registry: a kind added to a scenario's `emits` needs its step.
    assert len(BUILT_IN_KINDS) == len(set(BUILT_IN_KINDS)) > 30
    assert set(KIND_STEPS) == set(BUILT_IN_KINDS) | PLANNED_KINDS
    assert not PLANNED_KINDS & set(BUILT_IN_KINDS)


@pytest.mark.parametrize(("scenario", "kind"), BUILT_IN_KINDS)
def test_every_built_in_kind_gets_its_own_step(scenario: str, kind: str) -> None:
    steps = build_checklist([Signal(scenario, kind, "HIGH", "t", "res-1", "us-west-2")])
    assert KIND_STEPS[(scenario, kind)].title in _titles(steps)
    assert "res-1 (us-west-2)" in _step(steps, KIND_STEPS[(scenario, kind)].title).description


def test_one_step_per_kind_however_many_signals() -> None:
    keys = [Signal("iam", "access_key_unused", "MEDIUM", "Unused key", f"user-{i}") for i in range(5)]
    assert _titles(build_checklist(keys)) == ["Delete unused access keys"]


def test_steps_are_numbered_from_one_and_link_aws_docs() -> None:
    signals = [Signal(s, k, "CRITICAL", "t", "r") for s, k in BUILT_IN_KINDS]
    steps = build_checklist(signals)
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert all(s.docs_url.startswith(AWS_DOCS) for s in steps)
    assert all(t.docs_url.startswith(AWS_DOCS) for t in (*KIND_STEPS.values(), *HARDENING))


def test_worse_signals_come_first_within_a_phase() -> None:
    signals = [
        Signal("email", "ses_probation", "HIGH", "SES under review", region="us-east-1"),
        Signal("email", "ses_complaint_rate", "CRITICAL", "Complaints 0.6 %", region="us-east-1"),
    ]
    assert _titles(build_checklist(signals)) == [
        "Bring the SES complaint rate down",
        "Answer the SES review before sending is paused",
        "Reply to the AWS case with what you did",
    ]


def test_affected_resources_are_named_and_long_lists_are_cut() -> None:
    buckets = [
        Signal("exposure", "public_bucket_read", "HIGH", "Public", f"bucket-{i:02}") for i in range(25)
    ]
    buckets.append(
        Signal("exposure", "public_bucket_read", "HIGH", "Public", "bucket-00")
    )  # same bucket again
    description = build_checklist(buckets)[0].description
    named = [f"bucket-{i:02}" for i in range(MAX_NAMED_RESOURCES)]
    assert f"Buckets: {', '.join(named)} and {25 - MAX_NAMED_RESOURCES} more." in description
    assert "bucket-10" not in description


def test_regions_are_named_except_global() -> None:
    signals = [
        Signal("compute", "gpu_capacity_new_region", "CRITICAL", "GPU", "i-1", "ap-southeast-2"),
        Signal("compute", "gpu_capacity_new_region", "CRITICAL", "GPU", "i-2", "sa-east-1"),
        Signal("iam", "new_admin_user", "HIGH", "Admin", "mallory", "global"),
    ]
    steps = build_checklist(signals)
    gpu = _step(steps, "Terminate unrecognised GPU capacity")
    assert "Instances: i-1 (ap-southeast-2), i-2 (sa-east-1)." in gpu.description
    assert "Users: mallory." in _step(steps, "Verify new administrators").description


def test_compromise_without_a_visible_case_asks_to_look_for_one() -> None:
    steps = build_checklist([Signal("root", "root_login_no_mfa", "CRITICAL", "Root login", "root")])
    assert _titles(steps)[0] == "Look for an AWS case and its deadline"
    assert _titles(steps)[-1] == "Reply to the AWS case with what you did"


def test_hygiene_only_account_gets_no_incident_steps() -> None:
    steps = build_checklist(
        [
            Signal("hygiene", "no_multiregion_trail", "MEDIUM", "No trail"),
            Signal("exposure", "open_security_group", "HIGH", "SSH open", "sg-1", "eu-west-1"),
        ]
    )
    assert _titles(steps) == [
        "Close administration ports open to the internet",
        "Create a multi-region CloudTrail trail",
    ]


@pytest.mark.parametrize(("severity", "before", "after"), [("CRITICAL", 0, 1), ("LOW", 1, 0)])
def test_unknown_kinds_get_a_generic_step_placed_by_severity(severity: str, before: int, after: int) -> None:
    steps = build_checklist(
        [
            Signal("acme_lambda_audit", "function_url_public", severity, "Function URL is public", "fn-1"),
            Signal("exposure", "open_security_group", "HIGH", "SSH open", "sg-1"),
        ]
    )
    plugin = _step(steps, "Review: Function URL is public")
    assert "acme_lambda_audit" in plugin.description
    assert "fn-1" in plugin.description
    assert plugin.docs_url.startswith(AWS_DOCS)
    assert [plugin.step, _step(steps, "Close administration ports open to the internet").step] == [
        [1, 2][before],
        [1, 2][after],
    ]


def test_extra_templates_tailor_plugin_steps() -> None:
    template = StepTemplate(
        9, "Disable public function URLs", "Set AuthType to AWS_IAM.", "https://docs.aws.amazon.com/lambda/"
    )
    steps = build_checklist(
        [Signal("acme_lambda_audit", "function_url_public", "LOW", "Public URL", "fn-1")],
        extra_templates={("acme_lambda_audit", "function_url_public"): template},
    )
    assert steps == [
        ChecklistStep(
            1, "Disable public function URLs", "Set AuthType to AWS_IAM. Affected: fn-1.", template.docs_url
        )
    ]


def test_input_order_does_not_change_the_checklist() -> None:
    signals = [
        Signal(s, k, sev, "t", f"r{i % 3}", "us-east-1")
        for i, ((s, k), sev) in enumerate(
            zip(BUILT_IN_KINDS * 2, ["CRITICAL", "HIGH", "MEDIUM", "LOW"] * 20, strict=False)
        )
    ]
    shuffled = signals[:]
    random.Random(7).shuffle(shuffled)
    assert build_checklist(shuffled) == build_checklist(signals)


def test_markdown_lists_every_step_with_its_link_and_keeps_names_literal() -> None:
    steps = build_checklist(
        [Signal("exposure", "public_bucket_write", "CRITICAL", "Public write", "my_*bucket*\n# x")]
    )
    text = checklist_markdown(steps, heading="Recovery checklist for 123456789012")
    assert text.startswith("# Recovery checklist for 123456789012\n")
    assert "1. **Stop public writes to S3 buckets**" in text
    assert f"Docs: <{steps[0].docs_url}>" in text
    assert r"my\_\*bucket\* \# x" in text
    assert "\n# x" not in text
