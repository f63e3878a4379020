"""What the customer creates for push: Terraform, an AWS CLI script and a test event command.

In the account's home region (us-east-1, where IAM, sign-in and Organizations events are recorded):
an EventBridge connection (API key authorization: the ingest secret in a header), an API
destination pointing at ``{public_url}/ingest/aws-events``, a role EventBridge assumes to invoke it
and to forward events between regions, and one rule per concern targeting the destination. In every
other enabled region: the rules for regional events (AWS Health, GuardDuty, trail and detector
changes) targeting the home region's default event bus (cross-region event bus targets), so there is
one destination, one connection and one secret. A scheduled rule sends an hourly heartbeat, which is
how Vigilare tells a quiet account from a broken delivery (see ``service.push_status``).

Sources: EventBridge User Guide, "API destinations" (eb-api-destinations.html), "Sending and
receiving events between AWS Regions" (eb-cross-region.html), "Event patterns" and "Content
filtering" (eb-event-patterns*.html); AWS Health User Guide, "Creating EventBridge rules for AWS
Region coverage" (choosing-a-region.html).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HOME_REGION = "us-east-1"
CONNECTION_NAME = "vigilare"
DESTINATION_NAME = "vigilare"
EVENTS_ROLE_NAME = "VigilareEvents"
RULE_PREFIX = "vigilare-"
TEST_SOURCE = "vigilare.test"
TEST_DETAIL_TYPE = "Vigilare test event"
HEARTBEAT_SCHEDULE = "rate(1 hour)"
# What EventBridge may send per second to the destination (it queues the rest and retries for 24 h).
INVOCATION_RATE_PER_SECOND = 10
RETRY_MAX_EVENT_AGE_SECONDS = 86400
RETRY_MAX_ATTEMPTS = 185
# Regions every account has without opting in: the fallback when no scan has listed the account's.
DEFAULT_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
)
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
QUARANTINE_POLICY_PREFIX = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"
ADMINISTRATOR_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
GUARDDUTY_CRITICAL_TYPES = (
    "Policy:IAMUser/RootCredentialUsage",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
)


@dataclass(frozen=True, slots=True)
class Concern:
    """One rule: its name suffix, what it forwards, and whether it exists in every region."""

    name: str
    description: str
    pattern: dict[str, Any]
    regional: bool


def _cloudtrail(source: str, event_names: Sequence[str], **detail: Any) -> dict[str, Any]:
    return {
        "source": [source],
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {"eventName": list(event_names), **detail},
    }


CONCERNS: tuple[Concern, ...] = (
    Concern(
        "health",
        "AWS Health events, risk and abuse cases included (every support plan)",
        {"source": ["aws.health"], "detail-type": ["AWS Health Event", "AWS Health Abuse Event"]},
        regional=True,
    ),
    Concern(
        "guardduty",
        "GuardDuty findings of severity 7 (High) and above",
        {
            "source": ["aws.guardduty"],
            "detail-type": ["GuardDuty Finding"],
            "detail": {"severity": [{"numeric": [">=", 7]}]},
        },
        regional=True,
    ),
    Concern(
        "guardduty-critical-types",
        "GuardDuty findings Vigilare treats as critical whatever their severity",
        {
            "source": ["aws.guardduty"],
            "detail-type": ["GuardDuty Finding"],
            "detail": {
                "type": [
                    {"prefix": "CryptoCurrency:"},
                    {"prefix": "AttackSequence:"},
                    *GUARDDUTY_CRITICAL_TYPES,
                ]
            },
        },
        regional=True,
    ),
    Concern(
        "trail-changes",
        "CloudTrail trails stopped, deleted, updated, started or created",
        _cloudtrail(
            "aws.cloudtrail", ["StopLogging", "DeleteTrail", "UpdateTrail", "StartLogging", "CreateTrail"]
        ),
        regional=True,
    ),
    Concern(
        "guardduty-changes",
        "GuardDuty detectors deleted or updated",
        _cloudtrail("aws.guardduty", ["DeleteDetector", "UpdateDetector"]),
        regional=True,
    ),
    Concern(
        "root-sign-in",
        "Root user console sign-ins",
        {
            "source": ["aws.signin"],
            "detail-type": ["AWS Console Sign In via CloudTrail", CLOUDTRAIL_DETAIL_TYPE],
            "detail": {"eventName": ["ConsoleLogin"], "userIdentity": {"type": ["Root"]}},
        },
        regional=False,
    ),
    Concern(
        "iam-changes",
        "IAM users, access keys and login profiles created, MFA deactivated, inline policies added",
        _cloudtrail(
            "aws.iam",
            [
                "CreateUser",
                "CreateAccessKey",
                "CreateLoginProfile",
                "UpdateLoginProfile",
                "DeactivateMFADevice",
                "DeleteVirtualMFADevice",
                "PutUserPolicy",
                "PutGroupPolicy",
                "PutRolePolicy",
                "AddUserToGroup",
            ],
        ),
        regional=False,
    ),
    Concern(
        "iam-policy-attachments",
        "AdministratorAccess or an AWS compromised-key quarantine policy attached",
        _cloudtrail(
            "aws.iam",
            ["AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy"],
            requestParameters={"policyArn": [ADMINISTRATOR_POLICY_ARN, {"prefix": QUARANTINE_POLICY_PREFIX}]},
        ),
        regional=False,
    ),
    Concern(
        "organizations",
        "The account leaving its AWS Organization",
        _cloudtrail("aws.organizations", ["LeaveOrganization"]),
        regional=False,
    ),
    Concern(
        "test", "Test events sent with the command Vigilare gives", {"source": [TEST_SOURCE]}, regional=False
    ),
)


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Everything the snippets are made of."""

    aws_account_id: str
    ingest_url: str
    header_name: str
    secret: str
    regions: tuple[str, ...]

    @property
    def forwarded_regions(self) -> list[str]:
        return [region for region in self.regions if region != HOME_REGION]


def push_regions(known: Sequence[str] | None) -> tuple[str, ...]:
    """The regions to forward from: the account's enabled regions as a scan listed them, else the
    regions every account has; the home region always, first."""
    regions = [region for region in (known or DEFAULT_REGIONS) if region]
    return (HOME_REGION, *sorted(set(regions) - {HOME_REGION}))


def trust_policy(aws_account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
                # Only this account's own rules may use the role (confused-deputy defence).
                "Condition": {"StringEquals": {"aws:SourceAccount": aws_account_id}},
            }
        ],
    }


def events_policy(aws_account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeVigilareDestination",
                "Effect": "Allow",
                "Action": "events:InvokeApiDestination",
                "Resource": (
                    f"arn:aws:events:{HOME_REGION}:{aws_account_id}:api-destination/{DESTINATION_NAME}/*"
                ),
            },
            {
                "Sid": "ForwardToHomeRegion",
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": home_bus_arn(aws_account_id),
            },
        ],
    }


def home_bus_arn(aws_account_id: str) -> str:
    return f"arn:aws:events:{HOME_REGION}:{aws_account_id}:event-bus/default"


def test_event_entries(aws_account_id: str) -> str:
    detail = json.dumps({"account": aws_account_id, "message": "Hello from EventBridge"})
    return json.dumps([{"Source": TEST_SOURCE, "DetailType": TEST_DETAIL_TYPE, "Detail": detail}])


def test_event_command(aws_account_id: str) -> str:
    """One ``aws events put-events`` command; Vigilare shows push ``connected`` when it arrives."""
    return f"aws events put-events --region {HOME_REGION} --entries '{test_event_entries(aws_account_id)}'"


def _alias(region: str) -> str:
    return "vigilare_" + region.replace("-", "_")


def _resource_name(concern: str, region: str | None = None) -> str:
    name = "vigilare_" + concern.replace("-", "_")
    return name if region is None else f"{name}_{region.replace('-', '_')}"


def _heredoc(tag: str, document: dict[str, Any] | list[Any]) -> str:
    body = "\n".join("    " + line for line in json.dumps(document, indent=2).splitlines())
    return f"<<-{tag}\n{body}\n  {tag}"


def terraform_snippet(target: PushTarget) -> str:
    account = target.aws_account_id
    home = f"aws.{_alias(HOME_REGION)}"
    blocks = [
        "# Vigilare push: AWS events reach Vigilare within seconds, on every support plan.\n"
        f"# Apply in AWS account {account}. Regions: {', '.join(target.regions)}; events of the other\n"
        f"# regions are forwarded to {HOME_REGION}, which delivers them to Vigilare.\n"
        "# The secret below authenticates the deliveries: keep this file out of version control, or\n"
        "# remove the default and pass it with TF_VAR_vigilare_ingest_secret.\n"
    ]
    blocks += [
        f'provider "aws" {{\n  alias  = "{_alias(region)}"\n  region = "{region}"\n}}\n'
        for region in target.regions
    ]
    blocks.append(
        'variable "vigilare_ingest_secret" {\n'
        '  description = "The ingest secret Vigilare gave (POST /accounts/{id}/push-setup)"\n'
        "  type        = string\n"
        "  sensitive   = true\n"
        f'  default     = "{target.secret}"\n'
        "}\n"
    )
    blocks.append(
        'resource "aws_cloudwatch_event_connection" "vigilare" {\n'
        f"  provider           = {home}\n"
        f'  name               = "{CONNECTION_NAME}"\n'
        '  description        = "Vigilare ingest (API key in a header)"\n'
        '  authorization_type = "API_KEY"\n'
        "  auth_parameters {\n"
        "    api_key {\n"
        f'      key   = "{target.header_name}"\n'
        "      value = var.vigilare_ingest_secret\n"
        "    }\n"
        "  }\n"
        "}\n"
    )
    blocks.append(
        'resource "aws_cloudwatch_event_api_destination" "vigilare" {\n'
        f"  provider                         = {home}\n"
        f'  name                             = "{DESTINATION_NAME}"\n'
        f'  invocation_endpoint              = "{target.ingest_url}"\n'
        '  http_method                      = "POST"\n'
        f"  invocation_rate_limit_per_second = {INVOCATION_RATE_PER_SECOND}\n"
        "  connection_arn                   = aws_cloudwatch_event_connection.vigilare.arn\n"
        "}\n"
    )
    blocks.append(
        'resource "aws_iam_role" "vigilare_events" {\n'
        f"  provider           = {home}\n"
        f'  name               = "{EVENTS_ROLE_NAME}"\n'
        '  description        = "EventBridge delivers events to Vigilare and forwards them between regions"\n'
        f"  assume_role_policy = {_heredoc('POLICY', trust_policy(account))}\n"
        "}\n"
    )
    blocks.append(
        'resource "aws_iam_role_policy" "vigilare_events" {\n'
        f"  provider = {home}\n"
        '  name     = "VigilareEventsDelivery"\n'
        "  role     = aws_iam_role.vigilare_events.id\n"
        f"  policy   = {_heredoc('POLICY', events_policy(account))}\n"
        "}\n"
    )
    for concern in CONCERNS:
        name = _resource_name(concern.name)
        blocks.append(
            f'resource "aws_cloudwatch_event_rule" "{name}" {{\n'
            f"  provider      = {home}\n"
            f'  name          = "{RULE_PREFIX}{concern.name}"\n'
            f'  description   = "{concern.description}"\n'
            f"  event_pattern = {_heredoc('PATTERN', concern.pattern)}\n"
            "}\n"
        )
        blocks.append(_destination_target(name, home))
    blocks.append(
        'resource "aws_cloudwatch_event_rule" "vigilare_heartbeat" {\n'
        f"  provider            = {home}\n"
        f'  name                = "{RULE_PREFIX}heartbeat"\n'
        '  description         = "Hourly heartbeat: tells Vigilare the delivery works on quiet days"\n'
        f'  schedule_expression = "{HEARTBEAT_SCHEDULE}"\n'
        "}\n"
    )
    blocks.append(_destination_target("vigilare_heartbeat", home))
    for region in target.forwarded_regions:
        provider = f"aws.{_alias(region)}"
        for concern in (concern for concern in CONCERNS if concern.regional):
            home_rule = _resource_name(concern.name)
            name = _resource_name(concern.name, region)
            blocks.append(
                f'resource "aws_cloudwatch_event_rule" "{name}" {{\n'
                f"  provider      = {provider}\n"
                f'  name          = "{RULE_PREFIX}{concern.name}-forward"\n'
                f'  description   = "{concern.description}, forwarded to {HOME_REGION}"\n'
                f"  event_pattern = aws_cloudwatch_event_rule.{home_rule}.event_pattern\n"
                "}\n"
            )
            blocks.append(
                f'resource "aws_cloudwatch_event_target" "{name}" {{\n'
                f"  provider  = {provider}\n"
                f"  rule      = aws_cloudwatch_event_rule.{name}.name\n"
                '  target_id = "vigilare-home-region"\n'
                f'  arn       = "{home_bus_arn(account)}"\n'
                "  role_arn  = aws_iam_role.vigilare_events.arn\n"
                "}\n"
            )
    blocks.append(
        'output "vigilare_test_event_command" {\n'
        '  description = "Send a test event: Vigilare shows push as connected when it arrives"\n'
        f"  value       = <<-COMMAND\n    {test_event_command(account)}\n  COMMAND\n"
        "}\n"
    )
    return "\n".join(blocks)


def _destination_target(rule_resource: str, provider: str) -> str:
    return (
        f'resource "aws_cloudwatch_event_target" "{rule_resource}" {{\n'
        f"  provider  = {provider}\n"
        f"  rule      = aws_cloudwatch_event_rule.{rule_resource}.name\n"
        '  target_id = "vigilare"\n'
        "  arn       = aws_cloudwatch_event_api_destination.vigilare.arn\n"
        "  role_arn  = aws_iam_role.vigilare_events.arn\n"
        "  retry_policy {\n"
        f"    maximum_event_age_in_seconds = {RETRY_MAX_EVENT_AGE_SECONDS}\n"
        f"    maximum_retry_attempts       = {RETRY_MAX_ATTEMPTS}\n"
        "  }\n"
        "}\n"
    )


def fallback_cli_script(target: PushTarget) -> str:
    account = target.aws_account_id
    retry = {
        "MaximumRetryAttempts": RETRY_MAX_ATTEMPTS,
        "MaximumEventAgeInSeconds": RETRY_MAX_EVENT_AGE_SECONDS,
    }
    # PutTargets entries; the shell fills in the ARNs ("$DESTINATION_ARN", "$ROLE_ARN"...).
    heartbeat_target = {"Id": "vigilare", "Arn": "$DESTINATION_ARN", "RoleArn": "$ROLE_ARN"}
    destination_target = {**heartbeat_target, "RetryPolicy": retry}
    forward_target = {
        "Id": "vigilare-home-region",
        "Arn": "arn:aws:events:$HOME_REGION:$ACCOUNT_ID:event-bus/default",
        "RoleArn": "$ROLE_ARN",
    }
    lines = [
        "#!/usr/bin/env bash",
        "# Vigilare push: AWS events reach Vigilare within seconds, on every support plan.",
        f"# Run it with credentials of AWS account {account} (IAM, EventBridge and Secrets Manager rights).",
        "# Running it again updates everything in place (after a secret rotation, for instance).",
        "set -euo pipefail",
        f'ACCOUNT_ID="{account}"',
        f'HOME_REGION="{HOME_REGION}"',
        f'FORWARD_REGIONS="{" ".join(target.forwarded_regions)}"',
        f'INGEST_URL="{target.ingest_url}"',
        f'HEADER_NAME="{target.header_name}"',
        f'INGEST_SECRET="${{VIGILARE_INGEST_SECRET:-{target.secret}}}"',
        f'ROLE_NAME="{EVENTS_ROLE_NAME}"',
        'WORKDIR="$(mktemp -d)"',
        "trap 'rm -rf \"$WORKDIR\"' EXIT",
        "",
        "cat > \"$WORKDIR/trust-policy.json\" <<'POLICY'",
        json.dumps(trust_policy(account), indent=2),
        "POLICY",
        "cat > \"$WORKDIR/events-policy.json\" <<'POLICY'",
        json.dumps(events_policy(account), indent=2),
        "POLICY",
        'cat > "$WORKDIR/auth.json" <<AUTH',
        '{"ApiKeyAuthParameters": {"ApiKeyName": "$HEADER_NAME", "ApiKeyValue": "$INGEST_SECRET"}}',
        "AUTH",
    ]
    for concern in CONCERNS:
        lines += [
            f"cat > \"$WORKDIR/pattern-{concern.name}.json\" <<'PATTERN'",
            json.dumps(concern.pattern, indent=2),
            "PATTERN",
        ]
    regional = " ".join(concern.name for concern in CONCERNS if concern.regional)
    everything = " ".join(concern.name for concern in CONCERNS)
    lines += [
        "",
        "# The role EventBridge assumes to call the API destination and to forward between regions.",
        'if aws iam get-role --role-name "$ROLE_NAME" >/dev/null 2>&1; then',
        '  aws iam update-assume-role-policy --role-name "$ROLE_NAME" \\',
        '    --policy-document "file://$WORKDIR/trust-policy.json"',
        "else",
        '  aws iam create-role --role-name "$ROLE_NAME" \\',
        '    --description "EventBridge delivers events to Vigilare and forwards them between regions" \\',
        '    --assume-role-policy-document "file://$WORKDIR/trust-policy.json" >/dev/null',
        "fi",
        'aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name VigilareEventsDelivery \\',
        '  --policy-document "file://$WORKDIR/events-policy.json"',
        'ROLE_ARN="$(aws iam get-role --role-name "$ROLE_NAME" --query Role.Arn --output text)"',
        "",
        "# The connection (the secret, kept by EventBridge in Secrets Manager) and the API destination.",
        f'if aws events describe-connection --region "$HOME_REGION" --name {CONNECTION_NAME} \\',
        "  >/dev/null 2>&1; then",
        '  CONNECTION_ARN="$(aws events update-connection --region "$HOME_REGION" '
        f"--name {CONNECTION_NAME} \\",
        '    --authorization-type API_KEY --auth-parameters "file://$WORKDIR/auth.json" \\',
        '    --query ConnectionArn --output text)"',
        "else",
        '  CONNECTION_ARN="$(aws events create-connection --region "$HOME_REGION" '
        f"--name {CONNECTION_NAME} \\",
        '    --authorization-type API_KEY --auth-parameters "file://$WORKDIR/auth.json" \\',
        '    --query ConnectionArn --output text)"',
        "fi",
        f'if aws events describe-api-destination --region "$HOME_REGION" --name {DESTINATION_NAME} \\',
        "  >/dev/null 2>&1; then",
        "  DESTINATION_COMMAND=update-api-destination",
        "else",
        "  DESTINATION_COMMAND=create-api-destination",
        "fi",
        'DESTINATION_ARN="$(aws events "$DESTINATION_COMMAND" --region "$HOME_REGION" '
        f"--name {DESTINATION_NAME} \\",
        '  --connection-arn "$CONNECTION_ARN" --invocation-endpoint "$INGEST_URL" --http-method POST \\',
        f"  --invocation-rate-limit-per-second {INVOCATION_RATE_PER_SECOND} "
        '--query ApiDestinationArn --output text)"',
        "",
        f"# Rules in {HOME_REGION}: every concern, delivered to Vigilare.",
        f"for concern in {everything}; do",
        f'  aws events put-rule --region "$HOME_REGION" --name "{RULE_PREFIX}$concern" --state ENABLED \\',
        '    --event-pattern "file://$WORKDIR/pattern-$concern.json" >/dev/null',
        f'  aws events put-targets --region "$HOME_REGION" --rule "{RULE_PREFIX}$concern" \\',
        f'    --targets "[{_escaped(destination_target)}]" >/dev/null',
        "done",
        f'aws events put-rule --region "$HOME_REGION" --name "{RULE_PREFIX}heartbeat" --state ENABLED \\',
        f'  --schedule-expression "{HEARTBEAT_SCHEDULE}" >/dev/null',
        f'aws events put-targets --region "$HOME_REGION" --rule "{RULE_PREFIX}heartbeat" \\',
        f'  --targets "[{_escaped(heartbeat_target)}]" >/dev/null',
        "",
        f"# Every other region: regional events forwarded to {HOME_REGION}'s default event bus.",
        "for region in $FORWARD_REGIONS; do",
        f"  for concern in {regional}; do",
        f'    aws events put-rule --region "$region" --name "{RULE_PREFIX}$concern-forward" \\',
        "      --state ENABLED \\",
        '      --event-pattern "file://$WORKDIR/pattern-$concern.json" >/dev/null',
        f'    aws events put-targets --region "$region" --rule "{RULE_PREFIX}$concern-forward" \\',
        f'      --targets "[{_escaped(forward_target)}]" >/dev/null',
        "  done",
        "done",
        "",
        'echo "Vigilare push is set up. Send a test event with:"',
        "cat <<'COMMAND'",
        test_event_command(account),
        "COMMAND",
        "",
    ]
    return "\n".join(lines)


def _escaped(document: dict[str, Any]) -> str:
    """A JSON object inside a double-quoted bash string (quotes escaped, ``$NAME`` expanded)."""
    return json.dumps(document, separators=(",", ":")).replace('"', '\\"')
