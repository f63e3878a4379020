"""IAM collectors (global data, read in the home region)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext

QUARANTINE_POLICY_ARNS = tuple(
    f"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine{suffix}" for suffix in ("", "V2", "V3", "V4")
)
AWS_MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
CREDENTIAL_REPORT_WAIT_SECONDS = 60.0
REPORT_LIFETIME = timedelta(hours=4)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{_error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


async def fetch_account_summary(ctx: CollectorContext) -> dict[str, int]:
    response = await ctx.call("iam", "get_account_summary")
    summary: dict[str, int] = response["SummaryMap"]
    return summary


async def fetch_credential_report(ctx: CollectorContext) -> list[dict[str, str]]:
    """Rows of the credential report (AWS regenerates it at most every 4 hours; older ones are reused)."""
    deadline = time.monotonic() + CREDENTIAL_REPORT_WAIT_SECONDS
    pause = 0.25
    while (await ctx.call("iam", "generate_credential_report"))["State"] != "COMPLETE":
        if time.monotonic() > deadline:
            raise TimeoutError("the credential report was not ready within a minute")
        # AWS needs a few seconds to build a fresh report: ask again, less and less often.
        await asyncio.sleep(pause)
        pause = min(pause * 2, 4.0)
    report = await ctx.call("iam", "get_credential_report")
    generated = report.get("GeneratedTime")
    if isinstance(generated, datetime):
        # AWS serves this report until it is 4 hours old: read it again when it can be regenerated.
        # (A report already older than that cannot follow a COMPLETE GenerateCredentialReport on
        # AWS; should a stand-in say so, the declared freshness applies.)
        renewable = (generated if generated.tzinfo else generated.replace(tzinfo=UTC)) + REPORT_LIFETIME
        if renewable > datetime.now(UTC):
            ctx.fresh_until(renewable)
    content = report["Content"]
    text = content.decode() if isinstance(content, bytes) else str(content)
    return list(csv.DictReader(io.StringIO(text)))


async def fetch_quarantine_attachments(ctx: CollectorContext) -> dict[str, dict[str, list[str]]]:
    """For each AWSCompromisedKeyQuarantine* policy: the users, groups and roles it is attached to."""
    attachments: dict[str, dict[str, list[str]]] = {}
    for policy_arn in QUARANTINE_POLICY_ARNS:
        entities: dict[str, list[str]] = {"users": [], "groups": [], "roles": []}
        params: dict[str, Any] = {"PolicyArn": policy_arn}
        try:
            while True:
                page = await ctx.call("iam", "list_entities_for_policy", **params)
                entities["users"] += [user["UserName"] for user in page.get("PolicyUsers", [])]
                entities["groups"] += [group["GroupName"] for group in page.get("PolicyGroups", [])]
                entities["roles"] += [role["RoleName"] for role in page.get("PolicyRoles", [])]
                if not page.get("IsTruncated"):
                    break
                params["Marker"] = page["Marker"]
        except ClientError as exc:
            if _error_code(exc) == "NoSuchEntity":
                continue  # a newer version AWS has not published (here): nothing can be attached to it
            raise
        attachments[policy_arn] = entities
    return attachments


async def _inline_policies(ctx: CollectorContext, kind: str, name: str) -> dict[str, Any]:
    """Inline policy documents of a user or group (botocore decodes them into dicts)."""
    param = "UserName" if kind == "user" else "GroupName"
    names = await ctx.paginate("iam", f"list_{kind}_policies", "PolicyNames", **{param: name})
    documents = await asyncio.gather(
        *(ctx.call("iam", f"get_{kind}_policy", **{param: name, "PolicyName": policy}) for policy in names)
    )
    return {policy: document["PolicyDocument"] for policy, document in zip(names, documents, strict=True)}


async def _access_keys(ctx: CollectorContext, user_name: str) -> list[dict[str, Any]]:
    keys = await ctx.paginate("iam", "list_access_keys", "AccessKeyMetadata", UserName=user_name)
    for key in keys:
        last_used = await ctx.call("iam", "get_access_key_last_used", AccessKeyId=key["AccessKeyId"])
        key["LastUsedDate"] = last_used.get("AccessKeyLastUsed", {}).get("LastUsedDate")
    return keys


async def _user_details(ctx: CollectorContext, user: dict[str, Any]) -> None:
    name = user["UserName"]
    user["AccessKeys"] = await _access_keys(ctx, name)
    user["AttachedPolicies"] = await ctx.paginate(
        "iam", "list_attached_user_policies", "AttachedPolicies", UserName=name
    )
    user["InlinePolicies"] = await _inline_policies(ctx, "user", name)
    groups = await ctx.paginate("iam", "list_groups_for_user", "Groups", UserName=name)
    user["Groups"] = [group["GroupName"] for group in groups]


async def _group_details(ctx: CollectorContext, group_name: str) -> dict[str, Any]:
    return {
        "AttachedPolicies": await ctx.paginate(
            "iam", "list_attached_group_policies", "AttachedPolicies", GroupName=group_name
        ),
        "InlinePolicies": await _inline_policies(ctx, "group", group_name),
    }


async def _managed_policy_document(ctx: CollectorContext, policy_arn: str) -> Any:
    policy = (await ctx.call("iam", "get_policy", PolicyArn=policy_arn))["Policy"]
    version = await ctx.call(
        "iam", "get_policy_version", PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"]
    )
    return version["PolicyVersion"]["Document"]


async def fetch_users(ctx: CollectorContext) -> dict[str, Any]:
    """Users with their access keys (and last use), policies and groups, plus the documents needed
    to judge whether a user is an administrator.

    Shape: ``{"users": [...], "groups": {name: {...}}, "policies": {customer_managed_arn: document}}``.
    A user or group whose details could not be read is kept with ``"Incomplete": True``.
    """
    users: list[dict[str, Any]] = await ctx.paginate("iam", "list_users", "Users")

    async def details(user: dict[str, Any]) -> None:
        try:
            await _user_details(ctx, user)
        except Exception as exc:
            user["Incomplete"] = True
            ctx.record_error(user["Arn"], _describe(exc))

    await asyncio.gather(*(details(user) for user in users))

    groups: dict[str, Any] = {}
    for group_name in sorted({group for user in users for group in user.get("Groups", [])}):
        try:
            groups[group_name] = await _group_details(ctx, group_name)
        except Exception as exc:
            groups[group_name] = {"AttachedPolicies": [], "InlinePolicies": {}, "Incomplete": True}
            ctx.record_error(f"group/{group_name}", _describe(exc))

    attached = [*users, *groups.values()]
    customer_managed = sorted(
        {
            policy["PolicyArn"]
            for holder in attached
            for policy in holder.get("AttachedPolicies", [])
            if not policy["PolicyArn"].startswith(AWS_MANAGED_POLICY_PREFIX)
        }
    )
    policies: dict[str, Any] = {}
    for policy_arn in customer_managed:
        try:
            policies[policy_arn] = await _managed_policy_document(ctx, policy_arn)
        except Exception as exc:
            ctx.record_error(policy_arn, _describe(exc))
    return {"users": users, "groups": groups, "policies": policies}


IAM_COLLECTORS = [
    Collector(
        key="iam.account_summary",
        fetch=fetch_account_summary,
        evidence=True,
        description="iam:GetAccountSummary (root MFA and root access keys flags)",
        # On its own clock, not the credential report's 4 hours: one global call says whether root
        # keys exist now, so a scheduled scan finds a root key created since the last report. While
        # push delivers CloudTrail events, a root CreateAccessKey asks for a full scan: hourly then.
        push_freshness=timedelta(hours=1),
        push_capability="cloudtrail_events",
    ),
    Collector(
        key="iam.credential_report",
        fetch=fetch_credential_report,
        evidence=True,
        description="iam:GenerateCredentialReport + GetCredentialReport, parsed into rows",
        freshness=timedelta(hours=4),  # AWS regenerates it at most every 4 hours
    ),
    Collector(
        key="iam.quarantine_attachments",
        fetch=fetch_quarantine_attachments,
        evidence=True,
        description="iam:ListEntitiesForPolicy for each AWSCompromisedKeyQuarantine policy",
        push_freshness=timedelta(hours=1),  # the attachment is pushed (CloudTrail)
        push_capability="cloudtrail_events",
    ),
    Collector(
        key="iam.users",
        fetch=fetch_users,
        evidence=True,
        description="iam:ListUsers with access keys, last use, policies and groups",
        freshness=timedelta(hours=1),
    ),
]
