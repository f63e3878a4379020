"""Connecting an account: validation, plan limit, and role snippets that really create the role."""

from __future__ import annotations

import json
import re
import subprocess

import hcl2
import pytest

from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID


async def test_connect_returns_a_fresh_external_id_and_working_snippets(aws_client):
    headers = await owner_headers(aws_client)
    response = await aws_client.post(
        "/accounts",
        headers=headers,
        json={
            "aws_account_id": "210987654321",
            "display_name": "Production",
            "tags": ["prod", "eu"],
            "external_id": "attacker-chosen",
            "status": "ACTIVE",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["aws_account_id"] == "210987654321" and body["status"] == "PENDING"
    assert body["sentinel_account_id"] == SENTINEL_ACCOUNT_ID
    external_id = body["external_id"]
    assert external_id != "attacker-chosen" and len(external_id) >= 32

    # Terraform: parses as HCL2; the role trusts only the sentinel account with this external id.
    resources = _terraform_resources(body["terraform_snippet"])
    trust = json.loads(_heredoc(resources["aws_iam_role"]["vigilare"]["assume_role_policy"]))
    _assert_trust_pins(trust, external_id)
    attached = {v["policy_arn"].strip('"') for v in resources["aws_iam_role_policy_attachment"].values()}
    assert attached == {
        "arn:aws:iam::aws:policy/SecurityAudit",
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    }
    additions = json.loads(_heredoc(resources["aws_iam_role_policy"]["vigilare_additions"]["policy"]))
    actions = additions["Statement"][0]["Action"]
    assert "ses:GetAccount" in actions and "health:DescribeEvents" in actions
    assert not any(action.startswith("sesv2:") for action in actions)
    assert not any(a.split(":")[1].startswith(("Put", "Create", "Delete", "Update")) for a in actions)

    # The CLI script: valid bash, and its heredoc policies are valid JSON.
    script = body["fallback_cli_script"]
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    policies = re.findall(r"<<'POLICY'\n(.*?)\nPOLICY", script, flags=re.S)
    assert len(policies) == 2
    _assert_trust_pins(json.loads(policies[0]), external_id)
    assert json.loads(policies[1])["Statement"][0]["Action"] == actions
    assert "aws iam create-role" in script and "SecurityAudit" in script


def _terraform_resources(snippet: str) -> dict[str, dict[str, dict]]:
    """resource type -> name -> attributes, from python-hcl2's parse (which keeps the quotes)."""
    resources: dict[str, dict[str, dict]] = {}
    for block in hcl2.loads(snippet)["resource"]:
        for kind, named in block.items():
            for name, attributes in named.items():
                resources.setdefault(kind.strip('"'), {})[name.strip('"')] = attributes
    return resources


def _heredoc(value: str) -> str:
    match = re.fullmatch(r'"?<<-?(\w+)\n(.*)\n\s*\1"?', value, flags=re.S)
    assert match, value
    return match.group(2)


def _assert_trust_pins(trust: dict, external_id: str) -> None:
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SENTINEL_ACCOUNT_ID}:root"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "12345678901a", "", " ", "abcdefghijkl"])
async def test_account_id_must_be_twelve_digits(aws_client, bad):
    headers = await owner_headers(aws_client)
    response = await aws_client.post("/accounts", headers=headers, json={"aws_account_id": bad})
    assert response.status_code == 400
    assert "aws_account_id" in response.json()["error"]


async def test_bad_optional_fields_are_400(aws_client):
    headers = await owner_headers(aws_client)
    for body, field in (
        ({"aws_account_id": "210987654321", "display_name": "x" * 201}, "display_name"),
        # Names are one line: they go into alert email subjects.
        ({"aws_account_id": "210987654321", "display_name": "Prod\r\nBcc: x@y.test"}, "display_name"),
        ({"aws_account_id": "210987654321", "tags": "prod"}, "tags"),
        ({"aws_account_id": "210987654321", "tags": [1]}, "tags"),
    ):
        response = await aws_client.post("/accounts", headers=headers, json=body)
        assert response.status_code == 400 and field in response.json()["error"], response.text


async def test_duplicate_and_plan_limit(aws_client):
    headers = await owner_headers(aws_client)
    assert (
        await aws_client.post("/accounts", headers=headers, json={"aws_account_id": "210987654321"})
    ).status_code == 201
    duplicate = await aws_client.post("/accounts", headers=headers, json={"aws_account_id": "210987654321"})
    assert duplicate.status_code == 409
    over = await aws_client.post("/accounts", headers=headers, json={"aws_account_id": "210987654322"})
    assert over.status_code == 403
    assert "plan limit exceeded" in over.json()["error"] and "1 connected account" in over.json()["error"]


async def test_list_filter_get_and_disconnect(aws_client):
    headers = await owner_headers(aws_client)
    await aws_client.post(
        "/accounts",
        headers=headers,
        json={"aws_account_id": "210987654321", "display_name": "Prod", "tags": ["prod"]},
    )
    listed = (await aws_client.get("/accounts", headers=headers)).json()
    assert listed["total"] == 1 and listed["accounts"][0]["tags"] == ["prod"]
    assert listed["accounts"][0]["current_srs"] is None
    assert (await aws_client.get("/accounts?tag=staging", headers=headers)).json() == {
        "accounts": [],
        "total": 0,
    }
    detail = (await aws_client.get("/accounts/210987654321", headers=headers)).json()
    assert detail["display_name"] == "Prod" and detail["status"] == "PENDING" and detail["connected_at"]
    assert (await aws_client.get("/accounts/999999999999", headers=headers)).status_code == 404
    gone = await aws_client.delete("/accounts/210987654321", headers=headers)
    assert gone.status_code == 200 and gone.json() == {"message": "Account disconnected"}
    after = (await aws_client.get("/accounts/210987654321", headers=headers)).json()
    assert after["status"] == "DISCONNECTED"
    # Disconnected accounts no longer count toward the plan limit.
    assert (
        await aws_client.post("/accounts", headers=headers, json={"aws_account_id": "210987654322"})
    ).status_code == 201
