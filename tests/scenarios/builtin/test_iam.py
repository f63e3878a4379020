"""The ``iam`` scenario over in-memory data: each rule fires past its threshold, not just under it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from tests.support.findings import ACCOUNT_ID, NOW, kind_names
from vigilare.plugin import Finding, Severity
from vigilare.scanner import detect
from vigilare.scenarios.builtin.iam import IamScenario
from vigilare.testing import collected_data

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
QUARANTINE_V2 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"


def user(
    name: str = "deploy",
    *,
    created_ago: timedelta = 400 * DAY,
    keys: list[dict[str, Any]] | None = None,
    attached: Sequence[str] = (),
    inline: dict[str, Any] | None = None,
    groups: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "UserName": name,
        "Arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{name}",
        "CreateDate": NOW - created_ago,
        "AccessKeys": keys or [],
        "AttachedPolicies": [{"PolicyArn": arn, "PolicyName": arn.rsplit("/", 1)[-1]} for arn in attached],
        "InlinePolicies": inline or {},
        "Groups": list(groups),
    }


def key(
    key_id: str = "AKIAAAAAAAAAAAAAWXYZ",
    *,
    created_ago: timedelta = 10 * DAY,
    used_ago: timedelta | None = HOUR,
    status: str = "Active",
) -> dict[str, Any]:
    return {
        "AccessKeyId": key_id,
        "Status": status,
        "CreateDate": NOW - created_ago,
        "LastUsedDate": None if used_ago is None else NOW - used_ago,
    }


def root_row(
    *, mfa: bool = True, key_1: bool = False, key_1_rotated_ago: timedelta = 30 * DAY
) -> dict[str, str]:
    return {
        "user": "<root_account>",
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
        "mfa_active": "true" if mfa else "false",
        "access_key_1_active": "true" if key_1 else "false",
        "access_key_1_last_rotated": (NOW - key_1_rotated_ago).isoformat() if key_1 else "N/A",
        "access_key_2_active": "false",
        "access_key_2_last_rotated": "N/A",
    }


async def iam_findings(
    *,
    users: Sequence[dict[str, Any]] = (),
    groups: dict[str, Any] | None = None,
    policies: dict[str, Any] | None = None,
    quarantine: dict[str, Any] | None = None,
    report: list[dict[str, str]] | None = None,
    summary: dict[str, int] | None = None,
) -> list[Finding]:
    data = collected_data(
        {
            "iam.users": {"users": list(users), "groups": groups or {}, "policies": policies or {}},
            "iam.quarantine_attachments": quarantine or {},
            "iam.credential_report": [root_row()] if report is None else report,
            "iam.account_summary": summary or {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0},
        }
    )
    result = await detect(data, [IamScenario])
    assert result.outcomes["iam"].status == "ok", result.outcomes["iam"].error
    return result.findings


async def test_a_clean_account_has_no_iam_finding() -> None:
    assert await iam_findings(users=[user(keys=[key()])]) == []


async def test_quarantine_policy_attached_to_a_user_is_critical() -> None:
    findings = await iam_findings(
        quarantine={QUARANTINE_V2: {"users": ["deploy"], "groups": [], "roles": []}},
    )
    [finding] = findings
    assert finding.kind == "quarantine_policy"
    assert finding.severity is Severity.CRITICAL
    assert finding.resource == f"arn:aws:iam::{ACCOUNT_ID}:user/deploy"
    assert "AWSCompromisedKeyQuarantineV2" in finding.title and "deploy" in finding.title
    assert finding.region == "global"


async def test_quarantine_policies_present_but_unattached_are_not_findings() -> None:
    empty: dict[str, list[str]] = {"users": [], "groups": [], "roles": []}
    assert await iam_findings(quarantine={QUARANTINE_V2: empty}) == []


async def test_root_access_key_is_critical_and_dated_from_the_credential_report() -> None:
    findings = await iam_findings(
        report=[root_row(key_1=True, key_1_rotated_ago=63 * DAY)],
        summary={"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1},
    )
    [finding] = findings
    assert (finding.kind, finding.severity) == ("root_access_keys", Severity.CRITICAL)
    assert "63 days ago" in finding.description


async def test_root_without_mfa_but_with_a_password_is_critical() -> None:
    findings = await iam_findings(
        summary={"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0, "AccountPasswordPresent": 1}
    )
    assert [(f.kind, f.severity) for f in findings] == [("root_mfa_disabled", Severity.CRITICAL)]


async def test_the_live_account_summary_wins_over_a_credential_report_up_to_4_hours_old() -> None:
    # The report (older) says "MFA on, no keys"; the summary says what is true now.
    findings = await iam_findings(
        report=[root_row(mfa=True)], summary={"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 1}
    )
    assert kind_names(findings) == ["root_access_keys", "root_mfa_disabled"]
    keys = next(f for f in findings if f.kind == "root_access_keys")
    assert "within the last 4 hours" in keys.description


async def test_a_root_without_password_or_keys_needs_no_mfa() -> None:
    # Centrally managed root credentials (AWS Organizations) or a root never given a password.
    findings = await iam_findings(
        report=[root_row(mfa=False)],
        summary={"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0, "AccountPasswordPresent": 0},
    )
    assert findings == []


async def test_without_the_summary_the_credential_report_decides() -> None:
    data = collected_data(
        {"iam.credential_report": [root_row(mfa=False, key_1=True)], "iam.users": {"users": []}}
    )
    result = await detect(data, [IamScenario])
    assert kind_names(result.findings) == ["root_access_keys", "root_mfa_disabled"]


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ({"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0}, ["root_mfa_disabled"]),
        ({"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1}, ["root_access_keys"]),
        ({"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}, []),
    ],
)
async def test_without_a_root_row_the_account_summary_decides(
    summary: dict[str, int], expected: list[str]
) -> None:
    assert kind_names(await iam_findings(report=[], summary=summary)) == expected


@pytest.mark.parametrize(
    ("age", "fires"), [(90 * DAY + HOUR, True), (91 * DAY, True), (90 * DAY - HOUR, False), (30 * DAY, False)]
)
async def test_access_key_not_rotated_for_more_than_90_days(age: timedelta, fires: bool) -> None:
    findings = await iam_findings(users=[user(keys=[key(created_ago=age, used_ago=HOUR)])])
    assert kind_names(findings) == (["access_key_old"] if fires else [])
    if fires:
        assert findings[0].severity is Severity.MEDIUM
        assert findings[0].title == f"Access key AKIA...WXYZ of user deploy not rotated for {age.days} days"


@pytest.mark.parametrize(
    ("idle", "fires"), [(45 * DAY + HOUR, True), (63 * DAY, True), (45 * DAY - HOUR, False), (DAY, False)]
)
async def test_access_key_unused_for_more_than_45_days(idle: timedelta, fires: bool) -> None:
    findings = await iam_findings(users=[user(keys=[key(created_ago=80 * DAY, used_ago=idle)])])
    assert kind_names(findings) == (["access_key_unused"] if fires else [])
    if fires:
        assert findings[0].severity is Severity.MEDIUM
        assert findings[0].title == f"Access key AKIA...WXYZ of user deploy unused for {idle.days} days"


@pytest.mark.parametrize(("age", "fires"), [(45 * DAY + HOUR, True), (45 * DAY - HOUR, False)])
async def test_a_never_used_key_counts_as_unused_from_its_creation(age: timedelta, fires: bool) -> None:
    findings = await iam_findings(users=[user(keys=[key(created_ago=age, used_ago=None)])])
    assert kind_names(findings) == (["access_key_unused"] if fires else [])
    if fires:
        assert "never been used" in findings[0].description


async def test_an_inactive_key_is_neither_old_nor_unused() -> None:
    stale = key(created_ago=400 * DAY, used_ago=None, status="Inactive")
    assert await iam_findings(users=[user(keys=[stale])]) == []


@pytest.mark.parametrize(("second_status", "fires"), [("Active", True), ("Inactive", False)])
async def test_two_active_keys_on_one_user(second_status: str, fires: bool) -> None:
    keys = [key("AKIAFIRSTKEY00000001"), key("AKIASECONDKEY0000002", status=second_status)]
    findings = await iam_findings(users=[user(keys=keys)])
    assert kind_names(findings) == (["access_keys_duplicate"] if fires else [])
    if fires:
        assert findings[0].resource == f"arn:aws:iam::{ACCOUNT_ID}:user/deploy"
        assert findings[0].title.startswith("User deploy has 2 active access keys since ")


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.mark.parametrize(("created_ago", "fires"), [(23 * HOUR, True), (24 * HOUR + HOUR, False)])
async def test_administrator_created_within_24_hours(created_ago: timedelta, fires: bool) -> None:
    findings = await iam_findings(users=[user("intruder", created_ago=created_ago, attached=[ADMIN])])
    assert kind_names(findings) == (["new_admin_user"] if fires else [])
    if fires:
        assert findings[0].severity is Severity.HIGH
        assert findings[0].title == "New administrator user intruder created 23 hours ago"


async def test_a_new_user_without_admin_rights_is_not_a_finding() -> None:
    readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert await iam_findings(users=[user("intern", created_ago=HOUR, attached=[readonly])]) == []


@pytest.mark.parametrize(
    ("user_kwargs", "groups", "policies"),
    [
        ({"inline": {"all": EVERYTHING}}, {}, {}),
        (
            {"groups": ["ops"]},
            {"ops": {"AttachedPolicies": [{"PolicyArn": ADMIN}], "InlinePolicies": {}}},
            {},
        ),
        ({"groups": ["ops"]}, {"ops": {"AttachedPolicies": [], "InlinePolicies": {"x": EVERYTHING}}}, {}),
        (
            {"attached": ["arn:aws:iam::111122223333:policy/god"]},
            {},
            {"arn:aws:iam::111122223333:policy/god": EVERYTHING},
        ),
    ],
    ids=["inline-star", "group-administrator-access", "group-inline-star", "customer-managed-star"],
)
async def test_admin_rights_are_found_wherever_they_are_granted(
    user_kwargs: dict[str, Any], groups: dict[str, Any], policies: dict[str, Any]
) -> None:
    findings = await iam_findings(
        users=[user("intruder", created_ago=HOUR, **user_kwargs)], groups=groups, policies=policies
    )
    assert kind_names(findings) == ["new_admin_user"]


async def test_a_fresh_key_for_an_existing_administrator_is_a_finding() -> None:
    admin = user("alice", attached=[ADMIN], keys=[key("AKIANEWKEY0000000001", created_ago=2 * HOUR)])
    findings = await iam_findings(users=[admin])
    [finding] = findings
    assert finding.kind == "new_admin_user" and finding.resource == "AKIANEWKEY0000000001"
    assert "administrator alice" in finding.title


async def test_every_iam_finding_has_a_stable_fingerprint() -> None:
    users = [user(keys=[key(created_ago=200 * DAY, used_ago=100 * DAY)])]
    first, second = await iam_findings(users=users), await iam_findings(users=users)
    assert [f.fingerprint(ACCOUNT_ID) for f in first] == [f.fingerprint(ACCOUNT_ID) for f in second]
    assert len({f.fingerprint(ACCOUNT_ID) for f in first}) == len(first) == 2
    assert first[0].fingerprint(ACCOUNT_ID) != first[0].fingerprint("999999999999")
