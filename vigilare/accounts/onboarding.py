"""The cross-account role a customer creates: trust policy, read-only additions, Terraform and CLI.

The role trusts only Vigilare's sentinel account, and only with the account's own external id (the
confused-deputy defence); it gets AWS's SecurityAudit and ViewOnlyAccess managed policies plus an
inline policy listing every action the collectors call (so Vigilare does not depend on what AWS
adds to or removes from those managed policies). No write action, ever.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

MANAGED_POLICY_ARNS = (
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
)
ADDITIONS_POLICY_NAME = "VigilareReadOnlyAdditions"
# Every action the collectors call, listed here rather than left to SecurityAudit/ViewOnlyAccess
# (which AWS may change). Read-only: tests/accounts/test_accounts_role_policy.py scans the sandbox
# with every collector, maps each request to its IAM action and fails naming any action missing
# here; it also refuses write actions and actions AWS does not have. SESv2's actions use the
# "ses:" prefix (there is no "sesv2:" prefix).
ADDITIONS_ACTIONS = (
    # account
    "account:GetAlternateContact",
    "account:GetContactInformation",
    # billing (us-east-1)
    "ce:GetAnomalies",
    "ce:GetCostAndUsage",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    # CloudTrail
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:LookupEvents",
    # EC2 (every enabled region)
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeImageAttribute",
    "ec2:DescribeImages",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRegions",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSnapshotAttribute",
    "ec2:DescribeSnapshots",
    "ec2:DescribeSpotInstanceRequests",
    # GuardDuty
    "guardduty:GetDetector",
    "guardduty:GetFindings",
    "guardduty:ListDetectors",
    "guardduty:ListFindings",
    # AWS Health (Business support and above)
    "health:DescribeAffectedEntities",
    "health:DescribeEventDetails",
    "health:DescribeEvents",
    # IAM
    "iam:GenerateCredentialReport",
    "iam:GetAccessKeyLastUsed",
    "iam:GetAccountAuthorizationDetails",
    "iam:GetAccountSummary",
    "iam:GetCredentialReport",
    "iam:GetGroupPolicy",
    "iam:GetOpenIDConnectProvider",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetUserPolicy",
    "iam:ListAccessKeys",
    "iam:ListAttachedGroupPolicies",
    "iam:ListAttachedUserPolicies",
    "iam:ListEntitiesForPolicy",
    "iam:ListGroupPolicies",
    "iam:ListGroupsForUser",
    "iam:ListOpenIDConnectProviders",
    "iam:ListSAMLProviders",
    "iam:ListUserPolicies",
    "iam:ListUsers",
    # AWS Payments (us-east-1): which invoices are unpaid and past due. Both operations also need
    # payments:GetPaymentStatus (AWS Payments API reference, ListFinancialRecords).
    "payments:BatchGetFinancialRecord",
    "payments:GetPaymentStatus",
    "payments:ListFinancialRecords",
    # Organizations (which accounts a role may trust)
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    # S3
    "s3:GetAccountPublicAccessBlock",
    "s3:GetBucketAcl",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:ListAllMyBuckets",
    # SES and SESv2 (both "ses:")
    "ses:GetAccount",
    "ses:GetSendQuota",
    "ses:GetSendStatistics",
    # Compute beyond instances: fleet requests, GPU/vCPU quota requests, Lightsail (every region offering it)
    "ec2:DescribeFleets",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeSpotFleetRequests",
    "lightsail:GetInstances",
    "servicequotas:ListRequestedServiceQuotaChangeHistory",
    # Compute beyond EC2 instances (collectors/workloads.py; Bedrock's collector reads GetMetricData too)
    "batch:DescribeComputeEnvironments",
    "cloudwatch:GetMetricData",
    "ecs:DescribeClusters",
    "ecs:DescribeTasks",
    "ecs:ListClusters",
    "ecs:ListTasks",
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:ListEndpoints",
    "sagemaker:ListNotebookInstances",
    "sagemaker:ListTrainingJobs",
)


def new_external_id() -> str:
    """A fresh random external id; always generated here, never taken from a client."""
    return secrets.token_hex(20)


def trust_policy(sentinel_account_id: str, external_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sentinel_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def additions_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "VigilareReadOnly", "Effect": "Allow", "Action": list(ADDITIONS_ACTIONS), "Resource": "*"}
        ],
    }


def terraform_snippet(role_name: str, sentinel_account_id: str, external_id: str) -> str:
    trust = json.dumps(trust_policy(sentinel_account_id, external_id), indent=2)
    additions = json.dumps(additions_policy(), indent=2)
    attachments = "\n".join(
        f'resource "aws_iam_role_policy_attachment" "vigilare_{name}" {{\n'
        f"  role       = aws_iam_role.vigilare.name\n"
        f'  policy_arn = "{arn}"\n'
        f"}}\n"
        for name, arn in zip(("security_audit", "view_only"), MANAGED_POLICY_ARNS, strict=True)
    )
    return (
        "# Vigilare read-only audit role. Apply in the AWS account you are connecting.\n"
        f'resource "aws_iam_role" "vigilare" {{\n'
        f'  name                 = "{role_name}"\n'
        f'  description          = "Read-only access for Vigilare suspension-risk monitoring"\n'
        f"  max_session_duration = 3600\n"
        f"  assume_role_policy   = <<-POLICY\n{_indent(trust, 4)}\n  POLICY\n"
        f"}}\n\n"
        f"{attachments}\n"
        f'resource "aws_iam_role_policy" "vigilare_additions" {{\n'
        f'  name   = "{ADDITIONS_POLICY_NAME}"\n'
        f"  role   = aws_iam_role.vigilare.id\n"
        f"  policy = <<-POLICY\n{_indent(additions, 4)}\n  POLICY\n"
        f"}}\n\n"
        f'output "vigilare_role_arn" {{\n  value = aws_iam_role.vigilare.arn\n}}\n'
    )


def fallback_cli_script(role_name: str, sentinel_account_id: str, external_id: str) -> str:
    trust = json.dumps(trust_policy(sentinel_account_id, external_id), indent=2)
    additions = json.dumps(additions_policy(), indent=2)
    attach = "\n".join(
        f'aws iam attach-role-policy --role-name "$ROLE_NAME" --policy-arn "{arn}"'
        for arn in MANAGED_POLICY_ARNS
    )
    return (
        "#!/usr/bin/env bash\n"
        "# Vigilare read-only audit role, with the AWS CLI.\n"
        "# Run it with credentials of the account you connect.\n"
        "set -euo pipefail\n"
        f'ROLE_NAME="{role_name}"\n'
        'WORKDIR="$(mktemp -d)"\n'
        "trap 'rm -rf \"$WORKDIR\"' EXIT\n\n"
        "cat > \"$WORKDIR/trust-policy.json\" <<'POLICY'\n"
        f"{trust}\nPOLICY\n\n"
        "cat > \"$WORKDIR/additions-policy.json\" <<'POLICY'\n"
        f"{additions}\nPOLICY\n\n"
        'aws iam create-role --role-name "$ROLE_NAME" \\\n'
        '  --description "Read-only access for Vigilare suspension-risk monitoring" \\\n'
        '  --assume-role-policy-document "file://$WORKDIR/trust-policy.json"\n'
        f"{attach}\n"
        f'aws iam put-role-policy --role-name "$ROLE_NAME" --policy-name "{ADDITIONS_POLICY_NAME}" \\\n'
        '  --policy-document "file://$WORKDIR/additions-policy.json"\n'
        'aws iam get-role --role-name "$ROLE_NAME" --query Role.Arn --output text\n'
    )


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in text.splitlines())
