"""Persistence collectors: who may assume the account's roles, and the identity providers it trusts.

- ``iam.role_trusts``: every role with its trust policy (one paged
  ``iam:GetAccountAuthorizationDetails`` call filtered to roles), and the accounts the customer
  knows: this account, Vigilare's sentinel (the accounts trusted by the role this scan uses, found
  through ``sts:GetCallerIdentity``), and the organization's management and member accounts
  (``organizations:DescribeOrganization``, ``ListAccounts`` where the account may list them).
- ``iam.identity_providers``: SAML providers (``iam:ListSAMLProviders``, with ``CreateDate``) and
  OIDC providers (``iam:ListOpenIDConnectProviders`` + ``GetOpenIDConnectProvider`` for the URL and
  ``CreateDate``, which the list does not carry).

API reference: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html,
https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeOrganization.html.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext, as_datetime

_ASSUMED_ROLE = re.compile(r"^arn:aws[\w-]*:sts::\d{12}:assumed-role/([^/]+)/")
# A member account may not list the organization's accounts; an account outside one has none.
_NO_ORGANIZATION = {"AWSOrganizationsNotInUseException"}
_NOT_ALLOWED = {"AccessDeniedException", "AccessDenied"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _document(value: Any) -> Any:
    """A trust policy as parsed JSON: botocore decodes IAM's URL-encoded documents, a raw answer may not."""
    if isinstance(value, str):
        try:
            return json.loads(unquote(value))
        except ValueError:
            return None
    return value


def _iso(value: Any) -> str | None:
    moment = as_datetime(value)
    return moment.isoformat() if moment else None


async def _organization(ctx: CollectorContext) -> dict[str, Any] | None:
    """The organization's id, management account and (when this account may list them) its accounts."""
    try:
        organization = (await ctx.call("organizations", "describe_organization")).get("Organization", {})
    except ClientError as exc:
        if _code(exc) in _NO_ORGANIZATION:
            return None
        raise
    accounts: list[str] | None
    try:
        listed = await ctx.paginate("organizations", "list_accounts", "Accounts")
        accounts = sorted(str(account["Id"]) for account in listed)
    except ClientError as exc:
        if _code(exc) not in _NOT_ALLOWED:
            raise
        accounts = None  # a member account: only the management account is named
    return {
        "Id": organization.get("Id"),
        "MasterAccountId": organization.get("MasterAccountId"),
        "Accounts": accounts,
    }


def trusted_account_ids(document: Any) -> set[str]:
    """The 12-digit accounts named as AWS principals in a trust policy (``"*"`` is not an account)."""
    accounts: set[str] = set()
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        values = principal.get("AWS", []) if isinstance(principal, dict) else []
        for value in values if isinstance(values, list) else [values]:
            match = re.search(r"(?:^|:)(\d{12})(?::|$)", str(value))
            if match:
                accounts.add(match.group(1))
    return accounts


async def fetch_role_trusts(ctx: CollectorContext) -> dict[str, Any]:
    """``{"roles": [...], "known_accounts": {account_id: why}, "organization": {...} | None}``."""
    details = await ctx.paginate(
        "iam", "get_account_authorization_details", "RoleDetailList", Filter=["Role"]
    )
    roles = [
        {
            "RoleName": role.get("RoleName"),
            "Arn": role.get("Arn"),
            "Path": role.get("Path", "/"),
            "CreateDate": _iso(role.get("CreateDate")),
            "AssumeRolePolicyDocument": _document(role.get("AssumeRolePolicyDocument")),
            "RoleLastUsed": _iso((role.get("RoleLastUsed") or {}).get("LastUsedDate")),
        }
        for role in details
    ]
    known: dict[str, str] = {ctx.account_id: "this account"}
    caller = await ctx.call("sts", "get_caller_identity")
    match = _ASSUMED_ROLE.match(str(caller.get("Arn", "")))
    if match:
        own_role = next((role for role in roles if role["RoleName"] == match.group(1)), None)
        if own_role is not None:
            for account in trusted_account_ids(own_role["AssumeRolePolicyDocument"]):
                known.setdefault(
                    account, f"Vigilare (trusted by {own_role['RoleName']}, the role it scans with)"
                )
    organization = await _organization(ctx)
    if organization is not None:
        if organization["MasterAccountId"]:
            known.setdefault(str(organization["MasterAccountId"]), "the organization's management account")
        for account in organization["Accounts"] or []:
            known.setdefault(account, "an account of the organization")
    return {"roles": roles, "known_accounts": known, "organization": organization}


async def fetch_identity_providers(ctx: CollectorContext) -> dict[str, list[dict[str, Any]]]:
    """``{"saml": [{"Arn", "CreateDate", "ValidUntil"}],
    "oidc": [{"Arn", "Url", "CreateDate", "ClientIDList"}]}``."""
    saml = (await ctx.call("iam", "list_saml_providers")).get("SAMLProviderList", [])
    oidc_arns = (await ctx.call("iam", "list_open_id_connect_providers")).get("OpenIDConnectProviderList", [])
    oidc = []
    for entry in oidc_arns:
        arn = entry["Arn"]
        try:
            provider = await ctx.call("iam", "get_open_id_connect_provider", OpenIDConnectProviderArn=arn)
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                continue  # deleted between the two calls
            raise
        oidc.append(
            {
                "Arn": arn,
                "Url": provider.get("Url"),
                "CreateDate": _iso(provider.get("CreateDate")),
                "ClientIDList": list(provider.get("ClientIDList") or []),
            }
        )
    return {
        "saml": [
            {
                "Arn": provider["Arn"],
                "CreateDate": _iso(provider.get("CreateDate")),
                "ValidUntil": _iso(provider.get("ValidUntil")),
            }
            for provider in saml
        ],
        "oidc": oidc,
    }


PERSISTENCE_COLLECTORS = [
    Collector(
        key="iam.role_trusts",
        fetch=fetch_role_trusts,
        evidence=True,
        description=(
            "iam:GetAccountAuthorizationDetails (roles and trust policies), sts:GetCallerIdentity, "
            "organizations:DescribeOrganization + ListAccounts (the accounts the customer knows)"
        ),
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="iam.identity_providers",
        fetch=fetch_identity_providers,
        evidence=True,
        description="iam:ListSAMLProviders, ListOpenIDConnectProviders + GetOpenIDConnectProvider",
        freshness=timedelta(hours=1),
    ),
]
