"""Reading IAM and S3 policy documents: who is allowed what, evaluated by Vigilare itself.

A policy document is the parsed JSON (a dict) as AWS returns it; ``Statement``, ``Action``,
``NotAction`` and ``Principal`` may each be a single value or a list, and every function here accepts
both. Anything that is not a well-formed document or statement is treated as granting nothing.
This is not a full IAM evaluator: Deny statements, permission boundaries and SCPs are not applied.
"""

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


def policy_statements(document: Any) -> Iterator[dict[str, Any]]:
    """The statements of a policy document (dicts only; a malformed document yields nothing)."""
    if not isinstance(document, dict):
        return
    for statement in _as_list(document.get("Statement")):
        if isinstance(statement, dict):
            yield statement


def statement_allows(statement: dict[str, Any], action: str) -> bool:
    """Whether an Allow statement grants ``action``, e.g. ``"s3:GetObject"`` (case-insensitive,
    ``*`` and ``?`` wildcards and ``NotAction`` included)."""
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
    """``"Principal": "*"`` or ``{"AWS": "*"}``: the statement applies to anyone."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _as_list(principal.get("AWS"))
    return False


def is_restricted_by_condition(statement: dict[str, Any]) -> bool:
    """Whether a Condition ties the statement to a network, organisation or account
    (any key of :data:`RESTRICTING_CONDITION_KEYS`)."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    return any(
        isinstance(clauses, dict) and any(key.lower() in RESTRICTING_CONDITION_KEYS for key in clauses)
        for clauses in condition.values()
    )


def public_statements(document: Any, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """Statements letting anyone on the internet perform one of ``actions``: a public principal, no
    restricting condition, and an action granted (e.g. ``("s3:GetObject", "s3:PutObject")``)."""
    return [
        statement
        for statement in policy_statements(document)
        if has_public_principal(statement)
        and not is_restricted_by_condition(statement)
        and any(statement_allows(statement, action) for action in actions)
    ]
