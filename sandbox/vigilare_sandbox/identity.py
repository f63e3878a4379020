"""Which AWS account a request acts in, and the sts:AssumeRole trust checks moto skips.

Account mapping (the fake must agree with moto, or a client could tell them apart), first match wins:

1. the `MOTO_ACCOUNT_ID` environment variable, then the `x-moto-account-id` header (moto honours both);
2. credentials the gateway saw issued: every successful `sts:AssumeRole` response proxied through
   the gateway maps its AccessKeyId to the account in `AssumedRoleUser.Arn`;
3. moto's own lookup of the access key (IAM user keys from `CreateAccessKey`, keys issued by
   AssumeRole calls made directly against moto), since moto runs in this process;
4. moto's default account, 123456789012 (any other key, e.g. "testing").
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from vigilare_sandbox.wire import WireRequest, WireResponse

DEFAULT_ACCOUNT_ID = "123456789012"
_ASSUMED_KEY = re.compile(r"<AccessKeyId>([^<]+)</AccessKeyId>")
_ASSUMED_ARN = re.compile(r"<Arn>(arn:[^:]+:sts::(\d{12}):assumed-role/[^<]+)</Arn>")
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/.+$")
_EXPIRATION = re.compile(rb"<Expiration>[^<]*</Expiration>")
_CALLER_ACCOUNT = re.compile(rb"<Account>\d{12}</Account>")
_CALLER_ARN = re.compile(rb"(<Arn>arn:[^:]+:sts::)\d{12}(:)")

AccessKeyLookup = Callable[[str], str]


def moto_account_for_access_key(access_key_id: str) -> str:
    """moto's own answer (imported late: moto is a test/demo dependency, and imports are heavy)."""
    import moto.iam.models  # the module attribute: moto_tuning may have replaced the function

    return str(moto.iam.models.get_account_id_from(access_key_id))


@dataclass(frozen=True)
class _IssuedKey:
    account_id: str
    principal_arn: str


class AccountDirectory:
    def __init__(self, fallback: AccessKeyLookup | None = moto_account_for_access_key) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, _IssuedKey] = {}
        self._fallback = fallback

    def learn_from_assume_role(self, response_body: bytes) -> None:
        text = response_body.decode("utf-8", errors="replace")
        key_match = _ASSUMED_KEY.search(text)
        arn_match = _ASSUMED_ARN.search(text)
        if key_match and arn_match:
            with self._lock:
                self._issued[key_match[1]] = _IssuedKey(arn_match[2], arn_match[1])

    def account_for(self, request: WireRequest) -> str:
        if "MOTO_ACCOUNT_ID" in os.environ:
            return os.environ["MOTO_ACCOUNT_ID"]
        if "x-moto-account-id" in request.headers:
            return request.headers["x-moto-account-id"]
        if request.scope is None:
            return DEFAULT_ACCOUNT_ID
        return self.account_for_key(request.scope.access_key_id)

    def account_for_key(self, access_key_id: str) -> str:
        with self._lock:
            issued = self._issued.get(access_key_id)
        if issued is not None:
            return issued.account_id
        if self._fallback is not None:
            return self._fallback(access_key_id)
        return DEFAULT_ACCOUNT_ID

    def principal_arn(self, request: WireRequest, account_id: str) -> str:
        if request.scope is not None:
            with self._lock:
                issued = self._issued.get(request.scope.access_key_id)
            if issued is not None:
                return issued.principal_arn
        return f"arn:aws:iam::{account_id}:user/moto"

    def reset(self) -> None:
        with self._lock:
            self._issued.clear()


@dataclass(frozen=True)
class GuardedRole:
    role_arn: str
    external_id: str
    trusted_account: str
    # Test knobs for what real AWS does only in rare cases, so Vigilare's handling can be exercised:
    # credentials that expire this soon whatever DurationSeconds asked (a long scan reaching the end
    # of its role session), and credentials GetCallerIdentity places in another account.
    credentials_expire_in: timedelta | None = None
    caller_identity_account: str | None = None


def access_denied(message: str) -> WireResponse:
    """STS's query-protocol error document, as AWS sends it for a refused AssumeRole."""
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        "    <Code>AccessDenied</Code>\n"
        f"    <Message>{escape(message)}</Message>\n"
        "  </Error>\n"
        f"  <RequestId>{uuid.uuid4()}</RequestId>\n"
        "</ErrorResponse>\n"
    )
    request_id = str(uuid.uuid4())
    return WireResponse(403, body.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})


class RoleTrustGuard:
    """Enforces ExternalId and trusted account for roles registered with it; others pass to moto."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roles: dict[str, GuardedRole] = {}
        # Access keys issued for roles with `caller_identity_account`, and the account to report.
        self._misreported: dict[str, str] = {}

    def register(
        self,
        role_arn: str,
        external_id: str,
        trusted_account: str,
        *,
        credentials_expire_in: timedelta | None = None,
        caller_identity_account: str | None = None,
    ) -> None:
        if _ROLE_ARN.match(role_arn) is None:
            raise ValueError(f"not an IAM role ARN: {role_arn}")
        with self._lock:
            self._roles[role_arn] = GuardedRole(
                role_arn, external_id, trusted_account, credentials_expire_in, caller_identity_account
            )

    def reset(self) -> None:
        with self._lock:
            self._roles.clear()
            self._misreported.clear()

    def issued(self, params: dict[str, str], response_body: bytes) -> bytes:
        """Apply a guarded role's test knobs to moto's successful AssumeRole answer."""
        with self._lock:
            guarded = self._roles.get(params.get("RoleArn", ""))
        if guarded is None:
            return response_body
        if guarded.caller_identity_account is not None:
            key = _ASSUMED_KEY.search(response_body.decode("utf-8", errors="replace"))
            if key is not None:
                with self._lock:
                    self._misreported[key[1]] = guarded.caller_identity_account
        if guarded.credentials_expire_in is not None:
            expiration = (datetime.now(UTC) + guarded.credentials_expire_in).strftime("%Y-%m-%dT%H:%M:%SZ")
            response_body = _EXPIRATION.sub(f"<Expiration>{expiration}</Expiration>".encode(), response_body)
        return response_body

    def caller_identity(self, access_key_id: str, response_body: bytes) -> bytes:
        """moto's GetCallerIdentity answer, placed in the reported account for misreported keys."""
        with self._lock:
            account = self._misreported.get(access_key_id)
        if account is None:
            return response_body
        response_body = _CALLER_ACCOUNT.sub(f"<Account>{account}</Account>".encode(), response_body)
        return _CALLER_ARN.sub(rb"\g<1>" + account.encode() + rb"\g<2>", response_body)

    def refusal(self, params: dict[str, str], caller_account: str, caller_arn: str) -> WireResponse | None:
        """The AccessDenied answer for an AssumeRole the role's trust policy refuses, else None."""
        role_arn = params.get("RoleArn", "")
        with self._lock:
            guarded = self._roles.get(role_arn)
        if guarded is None:
            return None
        trusted = caller_account == guarded.trusted_account
        if trusted and params.get("ExternalId") == guarded.external_id:
            return None
        return access_denied(
            f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
