"""The sandbox's ready-made accounts through the scenarios of the new suspension causes and takeover
signs (issue 12): the clean account has none of them, the compromised one each seeded sign once."""

from __future__ import annotations

from collections import Counter

from tests.support.aws import SENTINEL_ACCOUNT_ID, scan_sandbox
from vigilare.scenarios.builtin.activity import ActivityScenario
from vigilare.scenarios.builtin.persistence import PersistenceScenario
from vigilare.scenarios.builtin.sharing import SharingScenario
from vigilare.scenarios.builtin.takeover import TakeoverScenario
from vigilare.scenarios.manager import load_registry
from vigilare_sandbox.seed import register_customer_role, seed_clean_account, seed_compromised_account

DETECTOR = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
NEW_SCENARIO_IDS = {
    PersistenceScenario.id,
    ActivityScenario.id,
    SharingScenario.id,
    TakeoverScenario.id,
}


async def test_a_clean_account_gets_no_finding_from_the_new_scenarios(sandbox):
    clean = seed_clean_account(sandbox, "360000000001")
    # The role Vigilare scans with, as onboarding creates it: trusted by the sentinel, not a finding.
    register_customer_role(sandbox, clean.account_id, "VigilareAudit", "ext-signals", SENTINEL_ACCOUNT_ID)

    report = await scan_sandbox(sandbox, load_registry().select(), account_id=clean.account_id)

    assert all(report.outcomes[sid].status == "ok" for sid in NEW_SCENARIO_IDS)
    assert [f.title for f in report.findings if f.scenario in NEW_SCENARIO_IDS] == []


async def test_a_compromised_account_reports_each_new_sign_once(sandbox):
    seeded = seed_compromised_account(sandbox, "360000000002")

    report = await scan_sandbox(sandbox, load_registry().select(), account_id=seeded.account_id)

    account, gpu_region = seeded.account_id, seeded.gpu_region
    mine = [f for f in report.findings if f.scenario in NEW_SCENARIO_IDS]
    assert Counter((f.scenario, f.kind, f.severity, f.resource) for f in mine) == {
        ("persistence", "foreign_role_trust", "HIGH", seeded.backdoor_role_arn): 1,
        ("persistence", "new_identity_provider", "HIGH", seeded.identity_provider_arn): 1,
        ("activity", "iam_persistence_change", "HIGH", seeded.persistence_user_arn): 1,
        (
            "activity",
            "detection_disabled",
            "HIGH",
            f"arn:aws:guardduty:eu-west-1:{account}:detector/{DETECTOR}",
        ): 1,
        (
            "sharing",
            "public_snapshot",
            "HIGH",
            f"arn:aws:ec2:{gpu_region}::snapshot/{seeded.public_snapshot_id}",
        ): 1,
    }
