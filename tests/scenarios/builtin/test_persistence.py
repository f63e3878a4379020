"""The ``persistence`` scenario: roles trusting unknown accounts, new SAML/OIDC identity providers.

In memory for the rules, then through the sandbox (moto answers GetAccountAuthorizationDetails,
the provider calls and DescribeOrganization as the IAM and Organizations API references document:
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.support.aws import SENTINEL_ACCOUNT_ID, scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.persistence import PersistenceScenario
from vigilare.testing import RunScenario
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import register_customer_role
from vigilare_sandbox.seed_aws import client_for

FOREIGN = "999988887777"
SERVICE = "ec2.amazonaws.com"
SAML_METADATA = "<EntityDescriptor>" + "x" * 1000 + "</EntityDescriptor>"


def trust(*principals: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals) if len(principals) > 1 else principals[0]},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def role(name: str, document: dict[str, Any], path: str = "/") -> dict[str, Any]:
    return {
        "RoleName": name,
        "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role{path}{name}",
        "Path": path,
        "CreateDate": (NOW - timedelta(days=3)).isoformat(),
        "AssumeRolePolicyDocument": document,
    }


def trusts(*roles: dict[str, Any], known: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "roles": list(roles),
        "known_accounts": known or {ACCOUNT_ID: "this account", SENTINEL_ACCOUNT_ID: "Vigilare"},
        "organization": None,
    }


NO_PROVIDERS: dict[str, list[Any]] = {"saml": [], "oidc": []}


async def test_a_role_trusting_an_unknown_account_is_high(run_scenario: RunScenario) -> None:
    [finding] = await run_scenario(
        PersistenceScenario,
        {
            "iam.role_trusts": trusts(role("backup", trust(f"arn:aws:iam::{FOREIGN}:root"))),
            "iam.identity_providers": NO_PROVIDERS,
        },
    )
    assert (finding.kind, finding.severity) == ("foreign_role_trust", Severity.HIGH)
    assert finding.resource == f"arn:aws:iam::{ACCOUNT_ID}:role/backup"
    assert FOREIGN in finding.title
    assert finding.details["foreign_principals"] == [f"arn:aws:iam::{FOREIGN}:root"]


@pytest.mark.parametrize(
    ("document", "path"),
    [
        pytest.param(trust(f"arn:aws:iam::{ACCOUNT_ID}:root"), "/", id="this-account"),
        pytest.param(trust(f"arn:aws:iam::{SENTINEL_ACCOUNT_ID}:root"), "/", id="vigilare-sentinel"),
        pytest.param(trust("111100002222"), "/", id="organization-member"),
        pytest.param(
            trust("*", condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
            "/",
            id="org-condition",
        ),
        pytest.param(trust(f"arn:aws:iam::{FOREIGN}:root"), "/aws-service-role/x/", id="service-linked"),
        pytest.param(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"}
                ]
            },
            "/",
            id="service-principal",
        ),
        pytest.param(
            {"Statement": [{"Effect": "Deny", "Principal": {"AWS": FOREIGN}, "Action": "sts:AssumeRole"}]},
            "/",
            id="deny",
        ),
    ],
)
async def test_known_trusts_are_not_reported(
    run_scenario: RunScenario, document: dict[str, Any], path: str
) -> None:
    known = {ACCOUNT_ID: "this", SENTINEL_ACCOUNT_ID: "Vigilare", "111100002222": "organization"}
    findings = await run_scenario(
        PersistenceScenario,
        {
            "iam.role_trusts": trusts(role("r", document, path), known=known),
            "iam.identity_providers": NO_PROVIDERS,
        },
    )
    assert findings == []


async def test_a_role_anyone_may_assume_is_reported(run_scenario: RunScenario) -> None:
    [finding] = await run_scenario(
        PersistenceScenario,
        {"iam.role_trusts": trusts(role("open", trust("*"))), "iam.identity_providers": NO_PROVIDERS},
    )
    assert "any AWS account" in finding.title


@pytest.mark.parametrize(("age", "reported"), [(timedelta(hours=23), True), (timedelta(hours=25), False)])
async def test_identity_providers_created_in_the_last_day_are_high(
    run_scenario: RunScenario, age: timedelta, reported: bool
) -> None:
    providers = {
        "saml": [
            {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/okta", "CreateDate": (NOW - age).isoformat()}
        ],
        "oidc": [
            {
                "Arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.example.com",
                "Url": "token.example.com",
                "CreateDate": (NOW - age).isoformat(),
            }
        ],
    }
    findings = await run_scenario(
        PersistenceScenario, {"iam.role_trusts": trusts(), "iam.identity_providers": providers}
    )
    assert sorted((f.kind, f.resource.rsplit("/", 1)[-1]) for f in findings) == (
        [("new_identity_provider", "okta"), ("new_identity_provider", "token.example.com")]
        if reported
        else []
    )
    assert all(f.severity is Severity.HIGH for f in findings)


# --- through the sandbox --------------------------------------------------------------------------


async def test_backdoor_role_and_new_providers_are_found_and_vigilare_role_is_not(sandbox: Sandbox) -> None:
    register_customer_role(sandbox, ACCOUNT_ID, "VigilareAudit", "ext-signals", SENTINEL_ACCOUNT_ID)
    iam = client_for(sandbox, ACCOUNT_ID, "iam")
    iam.create_role(
        RoleName="support-access", AssumeRolePolicyDocument=json.dumps(trust(f"arn:aws:iam::{FOREIGN}:root"))
    )
    iam.create_role(RoleName="internal", AssumeRolePolicyDocument=json.dumps(trust(ACCOUNT_ID)))
    iam.create_saml_provider(Name="evil-idp", SAMLMetadataDocument=SAML_METADATA)
    iam.create_open_id_connect_provider(
        Url="https://token.attacker.example", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )

    report = await scan_sandbox(sandbox, [PersistenceScenario])

    assert report.outcomes["persistence"].status == "ok"
    assert sorted((f.kind, f.resource) for f in report.findings) == [
        ("foreign_role_trust", f"arn:aws:iam::{ACCOUNT_ID}:role/support-access"),
        ("new_identity_provider", f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.attacker.example"),
        ("new_identity_provider", f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/evil-idp"),
    ]  # VigilareAudit trusts the sentinel: known through the role the scan assumed, so not reported


async def test_an_account_with_only_its_own_roles_has_no_persistence_finding(sandbox: Sandbox) -> None:
    register_customer_role(sandbox, ACCOUNT_ID, "VigilareAudit", "ext-signals", SENTINEL_ACCOUNT_ID)
    client_for(sandbox, ACCOUNT_ID, "iam").create_role(
        RoleName="deploy", AssumeRolePolicyDocument=json.dumps(trust(f"arn:aws:iam::{ACCOUNT_ID}:root"))
    )

    report = await scan_sandbox(sandbox, [PersistenceScenario])

    assert report.outcomes["persistence"].status == "ok"
    assert report.findings == []
