"""Push set-up: who may, for which accounts, the snippets it gives, rotation, and the push status."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from datetime import UTC, datetime, timedelta

import hcl2
from sqlalchemy import select, update

from tests.ingest.conftest import PushedAccount, next_account_id, push_account
from tests.ingest.ingest_support import load_event
from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID
from tests.support.db import db_session
from vigilare.accounts.models import AwsAccount
from vigilare.ingest.models import IngestEvent
from vigilare.ingest.onboarding import CONCERNS, HOME_REGION
from vigilare.ingest.service import STALE_AFTER
from vigilare_sandbox.seed import register_customer_role

PATTERN = re.compile(r"<<'PATTERN'\n(.*?)\nPATTERN", flags=re.S)


def _resources(snippet: str) -> dict[str, dict[str, dict]]:
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


def _unquoted(value: str) -> str:
    return value.strip('"').removeprefix("${").removesuffix("}")


async def test_set_up_gives_a_secret_and_snippets_that_build_the_delivery(http, sandbox):
    account = await push_account(http, sandbox)
    setup = account.setup
    assert setup["ingest_url"].endswith("/ingest/aws-events")
    assert setup["header_name"] == "X-Vigilare-Ingest-Key"
    assert len(setup["secret"]) >= 60 and setup["previous_secret_valid_until"] is None
    account_id = account.aws_account_id

    # Terraform: parses as HCL2; the connection carries the secret in the header; one destination.
    snippet = setup["terraform_snippet"]
    parsed = hcl2.loads(snippet)
    resources = _resources(snippet)
    (connection,) = resources["aws_cloudwatch_event_connection"].values()
    assert connection["authorization_type"].strip('"') == "API_KEY"
    (api_key,) = connection["auth_parameters"][0]["api_key"]
    assert api_key["key"].strip('"') == setup["header_name"]
    assert _unquoted(api_key["value"]) == "var.vigilare_ingest_secret"
    (variable,) = [v for block in parsed["variable"] for v in block.values()]
    assert variable["default"].strip('"') == setup["secret"] and variable["sensitive"] is True
    (destination,) = resources["aws_cloudwatch_event_api_destination"].values()
    assert destination["invocation_endpoint"].strip('"') == setup["ingest_url"]
    assert destination["http_method"].strip('"') == "POST"

    # The role: only EventBridge of this very account assumes it; it may invoke the destination
    # and put events on the home region's bus, nothing else.
    role = resources["aws_iam_role"]["vigilare_events"]
    (trust,) = json.loads(_heredoc(role["assume_role_policy"]))["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": account_id}}
    policy = json.loads(_heredoc(resources["aws_iam_role_policy"]["vigilare_events"]["policy"]))
    prefix = f"arn:aws:events:{HOME_REGION}:{account_id}"
    assert {s["Action"]: s["Resource"] for s in policy["Statement"]} == {
        "events:InvokeApiDestination": f"{prefix}:api-destination/vigilare/*",
        "events:PutEvents": f"{prefix}:event-bus/default",
    }

    # Rules: every concern in the home region to the destination; regional ones forwarded from
    # every other region scanned to the home bus (cross-region event bus targets, one destination).
    rules, targets = resources["aws_cloudwatch_event_rule"], resources["aws_cloudwatch_event_target"]
    patterns = {
        rule["name"].strip('"'): json.loads(_heredoc(rule["event_pattern"]))
        for rule in rules.values()
        if "event_pattern" in rule and "<<" in rule["event_pattern"]
    }
    assert patterns["vigilare-health"] == {
        "source": ["aws.health"],
        "detail-type": ["AWS Health Event", "AWS Health Abuse Event"],
    }
    assert patterns["vigilare-guardduty"]["detail"] == {"severity": [{"numeric": [">=", 7]}]}
    assert patterns["vigilare-root-sign-in"]["detail"]["userIdentity"] == {"type": ["Root"]}
    assert patterns["vigilare-test"] == {"source": ["vigilare.test"]}
    trail_calls = set(patterns["vigilare-trail-changes"]["detail"]["eventName"])
    assert {"StopLogging", "DeleteTrail", "UpdateTrail"} <= trail_calls
    iam_calls = set(patterns["vigilare-iam-changes"]["detail"]["eventName"])
    assert {"CreateUser", "CreateAccessKey", "CreateLoginProfile", "DeactivateMFADevice"} <= iam_calls
    attached = patterns["vigilare-iam-policy-attachments"]["detail"]["requestParameters"]["policyArn"]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in attached
    assert {"prefix": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"} in attached
    assert patterns["vigilare-guardduty-changes"]["detail"]["eventName"] == [
        "DeleteDetector",
        "UpdateDetector",
    ]
    assert patterns["vigilare-organizations"]["detail"]["eventName"] == ["LeaveOrganization"]
    assert len(patterns) == len(CONCERNS)
    assert rules["vigilare_heartbeat"]["schedule_expression"].strip('"') == "rate(1 hour)"
    for name, target in targets.items():
        if name in rules and "forward" not in rules[name]["name"]:
            assert _unquoted(target["arn"]) == "aws_cloudwatch_event_api_destination.vigilare.arn"
            assert _unquoted(target["role_arn"]) == "aws_iam_role.vigilare_events.arn"
    forwarded = {name: rule for name, rule in rules.items() if "forward" in rule["name"]}
    regional = [concern for concern in CONCERNS if concern.regional]
    assert len(forwarded) == len(regional) * 2  # eu-west-1 and ap-southeast-2, the regions scanned
    for name, rule in forwarded.items():
        assert _unquoted(rule["provider"]) in ("aws.vigilare_eu_west_1", "aws.vigilare_ap_southeast_2")
        assert (
            _unquoted(targets[name]["arn"]) == f"arn:aws:events:{HOME_REGION}:{account_id}:event-bus/default"
        )
    providers = {p["region"].strip('"') for block in parsed["provider"] for p in block.values()}
    assert providers == {"us-east-1", "eu-west-1", "ap-southeast-2"}

    # The CLI script: valid bash with the same patterns, the secret, and the test command.
    script = setup["fallback_cli_script"]
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    script_patterns = [json.loads(text) for text in PATTERN.findall(script)]
    assert script_patterns == [concern.pattern for concern in CONCERNS]
    assert setup["secret"] in script and "aws events create-connection" in script
    assert 'FORWARD_REGIONS="ap-southeast-2 eu-west-1"' in script

    # The test command: one `aws events put-events` with a vigilare.test entry.
    command = setup["test_event_command"]
    subprocess.run(["bash", "-n"], input=command, text=True, check=True)
    words = shlex.split(command)
    assert words[:3] == ["aws", "events", "put-events"] and words[words.index("--region") + 1] == HOME_REGION
    (entry,) = json.loads(words[words.index("--entries") + 1])
    assert entry["Source"] == "vigilare.test" and json.loads(entry["Detail"])["account"] == account_id
    assert command in script


async def test_only_a_verified_account_of_the_callers_tenant_gets_push(http, sandbox):
    headers = await owner_headers(http, f"pending-{next_account_id()}@acme.test")
    account_id = next_account_id()
    created = await http.post("/accounts", headers=headers, json={"aws_account_id": account_id})
    assert created.status_code == 201
    pending = await http.post(f"/accounts/{account_id}/push-setup", headers=headers)
    assert pending.status_code == 409 and "verify it" in pending.json()["error"]
    assert (await http.get(f"/accounts/{account_id}", headers=headers)).json()["push"] == {
        "status": "not_configured",
        "last_event_at": None,
        "events_24h": 0,
    }
    unknown = await http.post("/accounts/999999999999/push-setup", headers=headers)
    assert unknown.status_code == 404
    body = created.json()
    register_customer_role(sandbox, account_id, body["role_name"], body["external_id"], SENTINEL_ACCOUNT_ID)
    assert (await http.post(f"/accounts/{account_id}/verify", headers=headers)).status_code == 200
    other_tenant = await owner_headers(http, f"other-{account_id}@acme.test")
    assert (await http.post(f"/accounts/{account_id}/push-setup", headers=other_tenant)).status_code == 404
    assert (await http.post(f"/accounts/{account_id}/push-setup", headers=headers)).status_code == 200
    assert (await http.delete(f"/accounts/{account_id}", headers=headers)).status_code == 200
    gone = await http.post(f"/accounts/{account_id}/push-setup", headers=headers)
    assert gone.status_code == 409 and "disconnected" in gone.json()["error"]


async def test_push_status_goes_waiting_connected_stale(http, sandbox, pg_url):
    account: PushedAccount = await push_account(http, sandbox)
    assert (await account.details(http))["push"] == {
        "status": "waiting",
        "last_event_at": None,
        "events_24h": 0,
    }

    heartbeat = load_event("scheduled_event", account.aws_account_id)
    assert (await account.deliver(http, heartbeat)).status_code == 202
    push = (await account.details(http))["push"]
    assert push["status"] == "connected" and push["events_24h"] == 1
    assert datetime.fromisoformat(push["last_event_at"]) > datetime.now(UTC) - timedelta(minutes=1)

    # Nothing for longer than STALE_AFTER (the account connected a day before): presumed broken.
    old = datetime.now(UTC) - STALE_AFTER - timedelta(minutes=5)
    async with db_session(pg_url) as session:
        row = await session.scalar(
            select(AwsAccount).where(AwsAccount.aws_account_id == account.aws_account_id)
        )
        row.connected_at = old - timedelta(days=1)
        await session.execute(
            update(IngestEvent).where(IngestEvent.account_id == row.id).values(received_at=old)
        )
    push = (await account.details(http))["push"]
    assert push["status"] == "stale" and push["events_24h"] == 1
