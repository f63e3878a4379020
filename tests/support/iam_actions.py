"""Which IAM action a recorded AWS request needs, from botocore's service models.

A request names its operation by X-Amz-Target (JSON protocols), by its ``Action`` parameter (query
protocols) or by its method and path (REST protocols, matched against each operation's
``requestUri``). The IAM action is ``<prefix>:<Operation>`` except where the Service Authorization
Reference says otherwise (``IAM_ACTION_FOR_OPERATION``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import botocore.session
from botocore.loaders import Loader
from botocore.model import ServiceModel

from vigilare.aws.session import VENDORED_MODELS
from vigilare_sandbox.recording import RecordedRequest

# botocore service name -> IAM action prefix, where they differ (SESv2's actions are "ses:").
IAM_PREFIX = {"cloudwatch": "cloudwatch", "sesv2": "ses", "s3control": "s3"}
# The services whose IAM prefix is known (an action with another prefix does not exist).
KNOWN_PREFIXES = {
    "account", "ce", "cloudtrail", "cloudwatch", "ec2", "guardduty", "health", "iam", "organizations",
    "payments", "s3", "ses", "sts", "support",
    "batch", "ecs", "sagemaker",
}  # fmt: skip
# Permission-only actions: no operation of their own, required beside others (Service Authorization
# Reference, AWS Payments: GetPaymentStatus "Get payment status of invoices", access level Read;
# ListFinancialRecords and BatchGetFinancialRecord need it, AWS Payments API reference).
PERMISSION_ONLY_ACTIONS = {"payments:GetPaymentStatus"}
# Service Quotas signs as "servicequotas" (botocore's "service-quotas"); Lightsail as itself.
IAM_PREFIX["service-quotas"] = "servicequotas"
KNOWN_PREFIXES |= {"lightsail", "servicequotas"}
# Operations whose IAM action is not named after them (Service Authorization Reference, Amazon S3).
IAM_ACTION_FOR_OPERATION = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}
# Read-only verbs, per the Service Authorization Reference's "Read"/"List" access levels.
# GenerateCredentialReport is classified Read by IAM (it only builds the report Vigilare reads).
READ_ONLY_VERBS = ("Get", "List", "Describe", "Lookup", "BatchGet", "Search")
READ_ONLY_EXCEPTIONS = {"iam:GenerateCredentialReport"}
# Operations sharing another one's method and path but sent elsewhere (S3 Express's control host).
_NOT_ON_THE_WIRE_PATH = {"ListDirectoryBuckets"}
# Signing name -> botocore services signed with it.
_BY_SIGNING_NAME = {
    "monitoring": ("cloudwatch",),
    "ses": ("ses", "sesv2"),
    "s3": ("s3control", "s3"),  # s3control's paths (/v20180820/...) are its own
}
_BY_SIGNING_NAME["servicequotas"] = ("service-quotas",)


@dataclass(frozen=True)
class CalledOperation:
    service: str  # botocore service name
    operation: str

    @property
    def iam_action(self) -> str:
        mapped = IAM_ACTION_FOR_OPERATION.get((self.service, self.operation))
        return mapped or f"{IAM_PREFIX.get(self.service, self.service)}:{self.operation}"


@functools.cache
def _session() -> botocore.session.Session:
    """A botocore session that also sees the service models Vigilare vendors (AWS Payments)."""
    session = botocore.session.get_session()
    # Its own loader (not the scans' shared one, whose cached models the scan's clients use).
    session.register_component("data_loader", Loader(extra_search_paths=[str(VENDORED_MODELS)]))
    return session


@functools.cache
def _model(service: str) -> ServiceModel:
    return _session().get_service_model(service)


def _uri_pattern(request_uri: str) -> tuple[re.Pattern[str], str, int]:
    """The path as a regex, the literal query (``acl``, ``x-id=ListBuckets``) and how literal it is."""
    path, _, query = request_uri.partition("?")
    literal = len(re.sub(r"\{[^}]+\}", "", path))
    pattern = re.escape(path)
    pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", pattern)
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
    return re.compile(f"^{pattern}/?$"), query, literal


def _query_holds(query: str, params: dict[str, str]) -> bool:
    key, has_value, value = query.partition("=")
    return key in params and (not has_value or params[key] == value)


def _rest_operation(service: str, request: RecordedRequest) -> str | None:
    best: tuple[int, int, str] | None = None
    for name in _model(service).operation_names:
        operation_model = _model(service).operation_model(name)
        http = operation_model.http
        if name in _NOT_ON_THE_WIRE_PATH:
            continue
        if http.get("method") != request.method:
            continue
        pattern, query_key, literal = _uri_pattern(http.get("requestUri", "/"))
        if not pattern.match(request.path) or (query_key and not _query_holds(query_key, request.params)):
            continue
        score = (1 if query_key else 0, literal, name)
        if best is None or score > best:
            best = score
    return best[2] if best else None


def called_operation(request: RecordedRequest) -> CalledOperation | None:
    """The operation a recorded request called, or None when no model matches it."""
    services = _BY_SIGNING_NAME.get(request.service, (request.service,))
    for service in services:
        model = _model(service)
        if request.target:
            prefix = model.metadata.get("targetPrefix", "")
            if request.target.startswith(f"{prefix}."):
                return CalledOperation(service, request.target.rsplit(".", 1)[-1])
            continue
        action = request.params.get("Action")
        if action and model.protocol in ("query", "ec2"):
            if action in model.operation_names:
                return CalledOperation(service, action)
            continue
        if model.protocol in ("rest-json", "rest-xml"):
            operation = _rest_operation(service, request)
            if operation is not None:
                return CalledOperation(service, operation)
    return None


def is_read_only(action: str) -> bool:
    name = action.split(":", 1)[1]
    return action in READ_ONLY_EXCEPTIONS or (name.startswith(READ_ONLY_VERBS) and "*" not in name)


def action_exists(action: str) -> bool:
    """The prefix is a real IAM service prefix and the name is an operation of one of its botocore
    services (or a documented exception)."""
    prefix, _, name = action.partition(":")
    if prefix not in KNOWN_PREFIXES or not name:
        return False
    if action in IAM_ACTION_FOR_OPERATION.values() or action in PERMISSION_ONLY_ACTIONS:
        return True
    services = [service for service, iam_prefix in IAM_PREFIX.items() if iam_prefix == prefix] + [prefix]
    available = set(_session().get_available_services())
    return any(service in available and name in _model(service).operation_names for service in services)
