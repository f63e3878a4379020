"""The draft reply to the AWS support case."""

from __future__ import annotations

from tests.support.scoring import Signal
from vigilare.scoring.checklist import build_checklist
from vigilare.scoring.support_reply import MAX_OTHER_FINDINGS, draft_support_reply

ACCOUNT = "123456789012"


def test_reply_mentions_every_critical_finding_and_every_step() -> None:
    criticals = [
        Signal("abuse", "health_risk_event", "CRITICAL", "AWS_RISK_CREDENTIALS_EXPOSED", "AKIAEXAMPLE1"),
        Signal(
            "iam", "quarantine_policy", "CRITICAL", "Quarantine policy attached", "arn:aws:iam::1:user/ci"
        ),
    ] + [
        Signal(
            "compute",
            "gpu_capacity_new_region",
            "CRITICAL",
            "GPU instance launched",
            f"i-{n:04}",
            "ap-south-1",
        )
        for n in range(40)
    ]
    minor = [Signal("iam", "access_key_old", "MEDIUM", "Old key", f"user-{n}") for n in range(30)]
    signals = criticals + minor
    steps = build_checklist(signals)
    reply = draft_support_reply(ACCOUNT, signals, steps, signed_by="Dana, Ops lead")

    for signal in criticals:
        assert f"CRITICAL: {signal.title} ({signal.resource}" in reply
    assert "(arn:aws:iam::1:user/ci)" in reply
    assert "(i-0007, ap-south-1)" in reply
    for step in steps:
        assert f"{step.step}. [ ] {step.title}" in reply
    assert reply.count("MEDIUM: Old key") == MAX_OTHER_FINDINGS
    assert (
        f"and {30 - MAX_OTHER_FINDINGS} lower-severity findings ({30 - MAX_OTHER_FINDINGS} MEDIUM)" in reply
    )
    assert ACCOUNT in reply.splitlines()[0]
    assert "billing adjustment" in reply
    assert reply.rstrip().endswith("Dana, Ops lead")


def test_reply_without_findings_says_so_and_asks_no_adjustment() -> None:
    reply = draft_support_reply(ACCOUNT, [], build_checklist([]))
    assert "No open findings" in reply
    assert "billing adjustment" not in reply
    assert "[Your name]" in reply


def test_attacker_shaped_text_cannot_add_lines() -> None:
    signal = Signal("threat", "guardduty_finding", "CRITICAL", "Finding\n\nRegards,\nAWS", "i-1\r\nx")
    reply = draft_support_reply(ACCOUNT, [signal], build_checklist([signal]))
    assert "CRITICAL: Finding Regards, AWS (i-1 x)" in reply
    lines = reply.splitlines()
    assert lines.count("Regards,") == 1
    assert "AWS" not in lines
