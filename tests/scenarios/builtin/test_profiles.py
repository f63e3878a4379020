"""The sandbox's two ready-made accounts, scanned with every built-in scenario."""

from __future__ import annotations

from collections import Counter

from tests.support.aws import scan_sandbox
from vigilare.scenarios.builtin.abuse import AbuseScenario
from vigilare.scenarios.builtin.email import EmailScenario
from vigilare.scenarios.builtin.hygiene import HygieneScenario
from vigilare.scenarios.builtin.root import RootScenario
from vigilare.scenarios.manager import load_registry
from vigilare_sandbox.seed import seed_clean_account, seed_compromised_account, seed_member_account

# The scenarios whose findings these tests check (the others have their own profile tests).
MY_SCENARIO_IDS = {scenario.id for scenario in (AbuseScenario, RootScenario, EmailScenario, HygieneScenario)}


async def test_a_clean_account_gets_no_finding_from_these_scenarios(sandbox):
    clean = seed_clean_account(sandbox, "350000000001")

    report = await scan_sandbox(sandbox, load_registry().select(), account_id=clean.account_id)

    assert set(report.outcomes) >= MY_SCENARIO_IDS
    assert all(report.outcomes[sid].status == "ok" for sid in MY_SCENARIO_IDS)
    assert [f.title for f in report.findings if f.scenario in MY_SCENARIO_IDS] == []


async def test_a_compromised_account_reports_each_seeded_signal_once(sandbox):
    seeded = seed_compromised_account(sandbox, "350000000002")
    account = seeded.account_id

    report = await scan_sandbox(sandbox, load_registry().select(), account_id=account)

    mine = [f for f in report.findings if f.scenario in MY_SCENARIO_IDS]
    assert Counter((f.scenario, f.kind, f.severity) for f in mine) == {
        ("abuse", "health_risk_event", "CRITICAL"): 1,
        ("abuse", "health_abuse_event", "CRITICAL"): 1,
        ("root", "root_login_no_mfa", "CRITICAL"): 1,
        ("root", "cloudtrail_stopped", "HIGH"): 1,
        ("root", "trail_deleted", "HIGH"): 1,
        ("email", "ses_probation", "HIGH"): 1,
        ("email", "ses_bounce_rate", "HIGH"): 1,  # 8 %
        ("email", "ses_complaint_rate", "HIGH"): 1,  # 0.2 %
        ("hygiene", "no_security_contact", "MEDIUM"): 1,
        ("hygiene", "guardduty_off", "MEDIUM"): 1,  # a detector only in the GPU region
    }
    by_kind = {f.kind: f for f in mine}
    assert by_kind["health_risk_event"].resource == seeded.risk_event_arn
    assert by_kind["health_risk_event"].details["deadline"] == seeded.risk_deadline.isoformat()
    assert by_kind["health_abuse_event"].resource == seeded.abuse_event_arn
    assert by_kind["cloudtrail_stopped"].resource == seeded.stopped_trail_arn
    assert by_kind["trail_deleted"].resource == seeded.deleted_trail_arn
    assert seeded.gpu_region not in by_kind["guardduty_off"].details["regions"]
    assert all(f.remediation and f.docs_url.startswith("https://") for f in mine)


async def test_a_member_account_of_an_organization_scans_clean_with_its_capability_notes(sandbox):
    # Organization trail, centrally managed root, billing alerts off, a region denied by SCP, invoices
    # paid by the management account.
    member = seed_member_account(sandbox, "350000000003")

    report = await scan_sandbox(
        sandbox,
        # The built-in scenarios (not a third-party plugin that happens to be installed).
        [scenario for scenario in load_registry().select() if scenario.__module__.startswith("vigilare.")],
        account_id=member.account_id,
        regions=("us-east-1", "eu-west-1", member.scp_denied_region),
    )

    assert [f.title for f in report.findings] == []
    assert report.status == "ok" and report.collection_errors == []
    notes = {c.name: c for c in report.capabilities if not c.available}
    # AWS Payments refuses a member account (its management account pays): a note, not a finding.
    assert set(notes) == {"billing_metric", "payments_api", f"scp_denied:{member.scp_denied_region}"}
    assert "management account" in notes["payments_api"].reason
    assert notes[f"scp_denied:{member.scp_denied_region}"].reason.startswith(
        f"denied by SCP in {member.scp_denied_region}"
    )
    trails = report.evidence["data"]["cloudtrail.trails"]["us-east-1"]
    assert [(t["TrailARN"], t["ManagedBy"]) for t in trails] == [
        (member.organization_trail_arn, member.management_account)
    ]
