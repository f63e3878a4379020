"""Errors of the AWS access layer that a user can act on."""

from __future__ import annotations


class RoleVerificationError(Exception):
    """The customer's cross-account role cannot be used; ``reason`` tells the customer why in plain words.

    The API answers 422 with ``reason`` as its ``error``. ``status_code`` and ``message`` follow the
    shape of Vigilare's error hierarchy so the API's handler can render it without a mapping table.
    """

    status_code = 422

    def __init__(self, reason: str, *, aws_error_code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = reason
        self.aws_error_code = aws_error_code


class RoleAssumptionError(RoleVerificationError):
    """STS refused AssumeRole (role missing, trust policy or external id wrong, STS unreachable)."""


class AccountMismatchError(RoleVerificationError):
    """The role was assumed, but the credentials belong to another AWS account than the one connected."""
