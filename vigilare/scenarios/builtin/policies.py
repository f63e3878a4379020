"""Reading IAM and S3 policy documents: who is allowed what, evaluated by Vigilare itself."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

# Condition keys that tie a public-principal statement to a network, organisation or account:
# such a statement does not open the bucket to the whole internet.
RESTRICTING_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOwner",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:userid",
        "aws:username",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
    )
)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        return
    for statement in _as_list(document.get("Statement")):
        if isinstance(statement, dict):
            yield statement


def allows(statement: dict[str, Any], action: str) -> bool:
    """Whether an Allow statement grants ``action`` (wildcards and NotAction included)."""
    if statement.get("Effect") != "Allow":
        return False
    action = action.lower()
    if "Action" in statement:
        return any(fnmatchcase(action, str(pattern).lower()) for pattern in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(
            fnmatchcase(action, str(pattern).lower()) for pattern in _as_list(statement["NotAction"])
        )
    return False


def grants_everything(statement: dict[str, Any]) -> bool:
    """``"Effect": "Allow", "Action": "*"``: the administrator pattern."""
    return statement.get("Effect") == "Allow" and "*" in _as_list(statement.get("Action"))


def has_public_principal(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _as_list(principal.get("AWS"))
    return False


def is_restricted_by_condition(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    return any(
        isinstance(clauses, dict) and any(key.lower() in RESTRICTING_CONDITION_KEYS for key in clauses)
        for clauses in condition.values()
    )


def public_statements(document: Any, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """Statements letting anyone on the internet perform one of ``actions``."""
    return [
        statement
        for statement in statements(document)
        if has_public_principal(statement)
        and not is_restricted_by_condition(statement)
        and any(allows(statement, action) for action in actions)
    ]
