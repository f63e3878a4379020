"""Built-in ``persistence`` scenario: the back doors attackers leave to come back after keys are rotated.

- ``foreign_role_trust`` (HIGH): a role whose trust policy lets an account assume it that the
  customer does not know: not this account, not Vigilare's sentinel (the account the scanning role
  trusts), not the organization's accounts. A principal ``"*"`` counts as foreign unless a condition
  restricts it (organization, source account...). Service-linked roles are AWS's own.
- ``new_identity_provider`` (HIGH): a SAML or OIDC identity provider created in the last 24 hours.
  Whoever controls a provider the account trusts signs in as any role that trusts it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from vigilare.plugin import (
    CollectedData,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    hookimpl,
    hours_ago,
    minute_of,
    policy_statements,
)

NEW_PROVIDER_WINDOW = timedelta(hours=24)
SERVICE_LINKED_PATH = "/aws-service-role/"
_ORG_CONDITION_KEYS = {"aws:principalorgid", "aws:principalorgpaths"}
_ACCOUNT_IN_PRINCIPAL = re.compile(r"(?:^|:)(\d{12})(?::|$)")
TRUST_DOCS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html"
PROVIDER_DOCS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers.html"
_MAX_NAMED = 5
_DELETE_ACTIONS = {"SAML": "DeleteSAMLProvider", "OIDC": "DeleteOpenIDConnectProvider"}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _allows_assume_role(statement: dict[str, Any]) -> bool:
    if str(statement.get("Effect", "")).lower() != "allow":
        return False
    return any(
        action in ("*", "sts:*") or str(action).lower().startswith("sts:assumerole")
        for action in _as_list(statement.get("Action"))
    )


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return set()
    return {key.lower() for clauses in condition.values() if isinstance(clauses, dict) for key in clauses}


def foreign_principals(document: Any, known: set[str]) -> list[str]:
    """The AWS principals of a trust policy outside the known accounts (``"*"`` included)."""
    foreign: list[str] = []
    for statement in policy_statements(document):
        if not _allows_assume_role(statement):
            continue
        principal = statement.get("Principal")
        values = _as_list(principal.get("AWS")) if isinstance(principal, dict) else _as_list(principal)
        conditions = _condition_keys(statement)
        if conditions & _ORG_CONDITION_KEYS:
            continue  # only principals of the customer's organization
        for value in values:
            text = str(value)
            if text == "*":
                if not conditions & {"aws:principalaccount", "aws:sourceaccount", "aws:principalarn"}:
                    foreign.append("*")
                continue
            match = _ACCOUNT_IN_PRINCIPAL.search(text)
            if match and match.group(1) not in known:
                foreign.append(text)
    return sorted(set(foreign))


class PersistenceScenario(Scenario):
    id = "persistence"
    title = "Roles trusting unknown accounts and new identity providers"
    requires = ("iam.role_trusts", "iam.identity_providers")
    emits = {
        "foreign_role_trust": (Severity.HIGH,),
        "new_identity_provider": (Severity.HIGH,),
    }
    remediation = (
        "If nobody on your team set this up, delete the role or identity provider (or remove the unknown "
        "account from the trust policy), then look in CloudTrail for who created it and rotate their keys."
    )
    docs_url = "https://repost.aws/knowledge-center/potential-account-compromise"

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        trusts = data.get("iam.role_trusts")
        if trusts:
            findings += self._foreign_trusts(data.account_id, trusts, minute_of(data.collected_at))
        providers = data.get("iam.identity_providers")
        if providers:
            findings += self._new_providers(data.account_id, providers, data)
        return findings

    def _foreign_trusts(self, account: str, trusts: dict[str, Any], checked: str) -> list[Finding]:
        known = set((trusts.get("known_accounts") or {}).keys())
        findings = []
        for role in sorted(trusts.get("roles") or [], key=lambda role: str(role.get("Arn"))):
            if str(role.get("Path", "/")).startswith(SERVICE_LINKED_PATH):
                continue
            foreign = foreign_principals(role.get("AssumeRolePolicyDocument"), known)
            if not foreign:
                continue
            name = role.get("RoleName")
            anyone = "*" in foreign
            shown = ", ".join(foreign[:_MAX_NAMED]) + (
                f" and {len(foreign) - _MAX_NAMED} more" if len(foreign) > _MAX_NAMED else ""
            )
            created = as_datetime(role.get("CreateDate"))
            since = f", created {minute_of(created)}" if created else ""
            who = "any AWS account" if anyone else f"account(s) you do not know: {shown}"
            findings.append(
                self.finding(
                    kind="foreign_role_trust",
                    severity=Severity.HIGH,
                    title=f"Role {name} can be assumed by {who}",
                    description=(
                        f"The trust policy of role {name} in account {account}{since} lets {who} assume "
                        f"it (checked {checked}). Known accounts are this account, Vigilare's and your "
                        "organization's. A role trusting an outside account is how attackers keep access "
                        "after their keys are deleted; if this is a vendor you use, accept it knowingly."
                    ),
                    resource=str(role.get("Arn")),
                    remediation=(
                        f"Confirm who added the trust to {name} (CloudTrail: CreateRole, "
                        "UpdateAssumeRolePolicy). If it is not yours, delete the role or remove the "
                        "account from its trust policy, and revoke its active sessions."
                    ),
                    docs_url=TRUST_DOCS,
                    details={"role": name, "foreign_principals": foreign},
                )
            )
        return findings

    def _new_providers(self, account: str, providers: dict[str, Any], data: CollectedData) -> list[Finding]:
        now = data.collected_at
        findings = []
        entries = [("SAML", provider) for provider in providers.get("saml") or []] + [
            ("OIDC", provider) for provider in providers.get("oidc") or []
        ]
        for protocol, provider in sorted(entries, key=lambda entry: str(entry[1].get("Arn"))):
            created = as_datetime(provider.get("CreateDate"))
            if created is None or now - created > NEW_PROVIDER_WINDOW:
                continue
            arn = str(provider.get("Arn"))
            name = arn.rsplit("/", 1)[-1]
            url = f" ({provider['Url']})" if provider.get("Url") else ""
            findings.append(
                self.finding(
                    kind="new_identity_provider",
                    severity=Severity.HIGH,
                    title=f"New {protocol} identity provider {name} created {hours_ago(created, now)}",
                    description=(
                        f"A {protocol} identity provider {name}{url} was added to account {account} at "
                        f"{minute_of(created)}. Whoever controls a trusted identity provider can sign in as "
                        "any role that trusts it, without keys or passwords in this account: attackers add "
                        "one to come back. Confirm your team set it up."
                    ),
                    resource=arn,
                    remediation=(
                        f"If nobody on your team added {name}, delete it "
                        f"(iam:{_DELETE_ACTIONS[protocol]}) and the roles that trust it, then find who "
                        "created it in CloudTrail."
                    ),
                    docs_url=PROVIDER_DOCS,
                    details={"protocol": protocol, "created": created.isoformat(), **provider},
                )
            )
        return findings


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [PersistenceScenario]
