"""The ``takeover`` scenario: contacts changed between scans, access keys used from new regions.

Through the sandbox, which answers GetContactInformation (moto has none) and fills the credential
report's ``access_key_N_last_used_region`` (moto writes ``not_supported``) as AWS documents:
https://docs.aws.amazon.com/accounts/latest/reference/API_GetContactInformation.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html.
"""

from __future__ import annotations

from datetime import timedelta

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.takeover import TakeoverScenario
from vigilare.testing import RunScenario
from vigilare_sandbox import Sandbox
from vigilare_sandbox.key_usage import record_key_use
from vigilare_sandbox.seed_aws import client_for, set_security_contact
from vigilare_sandbox.seed_events import age_credential_report, set_contact_information


async def test_contacts_changed_since_the_last_scan_are_critical(sandbox: Sandbox) -> None:
    set_security_contact(sandbox, ACCOUNT_ID, "security@example.com")
    first = await scan_sandbox(sandbox, [TakeoverScenario])
    assert first.findings == []  # the first scan only records

    set_contact_information(sandbox, ACCOUNT_ID, PhoneNumber="+15555550199", FullName="Mallory")
    set_security_contact(sandbox, ACCOUNT_ID, "sec@attacker.example")
    second = await scan_sandbox(sandbox, [TakeoverScenario], state=first.state)

    assert second.outcomes["takeover"].status == "ok"
    assert sorted((f.kind, f.severity, f.resource) for f in second.findings) == [
        ("contact_changed", Severity.CRITICAL, f"arn:aws:account::{ACCOUNT_ID}:contact/PRIMARY"),
        ("contact_changed", Severity.CRITICAL, f"arn:aws:account::{ACCOUNT_ID}:contact/SECURITY"),
    ]
    primary = next(f for f in second.findings if f.resource.endswith("PRIMARY"))
    assert primary.details["fields"] == ["FullName", "PhoneNumber"]
    # The scan state keeps hashes, never the contact itself.
    assert "Mallory" not in str(second.state) and "attacker.example" not in str(second.state)

    third = await scan_sandbox(sandbox, [TakeoverScenario], state=second.state)
    assert len(third.findings) == 2  # still open for a week, not only at the scan that saw it


async def test_unchanged_contacts_give_nothing(sandbox: Sandbox) -> None:
    first = await scan_sandbox(sandbox, [TakeoverScenario])
    second = await scan_sandbox(sandbox, [TakeoverScenario], state=first.state)
    assert first.findings == second.findings == []


async def test_a_key_used_from_a_new_region_is_high(sandbox: Sandbox) -> None:
    iam = client_for(sandbox, ACCOUNT_ID, "iam")
    iam.create_user(UserName="deploy")
    key_id = iam.create_access_key(UserName="deploy")["AccessKey"]["AccessKeyId"]
    record_key_use(ACCOUNT_ID, key_id, "eu-west-1")
    first = await scan_sandbox(sandbox, [TakeoverScenario])
    record_key_use(ACCOUNT_ID, key_id, "eu-west-1")
    steady = await scan_sandbox(sandbox, [TakeoverScenario], state=first.state)
    assert first.findings == steady.findings == []  # eu-west-1 is the key's baseline

    record_key_use(ACCOUNT_ID, key_id, "ap-east-1")
    unchanged = await scan_sandbox(sandbox, [TakeoverScenario], state=steady.state)
    assert unchanged.findings == []  # AWS serves the same report until it is 4 hours old
    age_credential_report(sandbox, ACCOUNT_ID, hours=5)
    moved = await scan_sandbox(sandbox, [TakeoverScenario], state=unchanged.state)

    [finding] = moved.findings
    assert (finding.kind, finding.severity) == ("key_new_region", Severity.HIGH)
    assert finding.resource == f"arn:aws:iam::{ACCOUNT_ID}:user/deploy#access_key_1"
    assert finding.details["new_regions"] == ["ap-east-1"] and finding.details["baseline"] == ["eu-west-1"]


async def test_throttled_contact_calls_are_retried_not_reported(sandbox: Sandbox) -> None:
    sandbox.inject_throttling("account", 2, operation="GetContactInformation", account_id=ACCOUNT_ID)
    report = await scan_sandbox(sandbox, [TakeoverScenario])
    assert sandbox.state.pending_throttles("account") == 0
    assert report.collection_errors == [] and report.findings == []


async def test_old_changes_and_baseline_regions_are_not_reported(run_scenario: RunScenario) -> None:
    contacts = {
        "contacts": {"PRIMARY": {"FullName": "Jane"}},
        "changes": [
            {"contact": "PRIMARY", "field": "FullName", "changed_at": (NOW - timedelta(days=8)).isoformat()}
        ],
    }
    keys = {
        "keys": [
            {
                "key": "deploy#1#2026",
                "user": "deploy",
                "slot": "1",
                "regions": {
                    "eu-west-1": (NOW - timedelta(days=1)).isoformat(),
                    "us-east-1": (NOW - timedelta(days=9)).isoformat(),
                },
                "baseline": ["eu-west-1"],
            }
        ]
    }
    findings = await run_scenario(
        TakeoverScenario, {"account.contacts": contacts, "iam.access_key_regions": keys}
    )
    assert findings == []
