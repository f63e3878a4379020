"""Names STS requires: role ARNs and role session names."""

from __future__ import annotations

import re

_SESSION_NAME_INVALID = re.compile(r"[^\w+=,.@-]", re.ASCII)
_SESSION_NAME_MAX = 64


def role_arn(aws_account_id: str, role_name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{aws_account_id}:role/{role_name}"


def role_session_name(*parts: str) -> str:
    """``vigilare-<part>-<part>`` with characters STS rejects replaced, cut to STS's 64 characters.

    The session name shows up in the customer's CloudTrail, so it says who (tenant) and which scan.
    """
    name = "-".join(("vigilare", *(part for part in parts if part)))
    name = _SESSION_NAME_INVALID.sub("-", name)
    return name[:_SESSION_NAME_MAX]
