"""Direct AWS calls: botocore's own models, serializers, parsers and HTTP session, without its
per-call pipeline.

A steady-state scan is two dozen small calls (DescribeInstances in every region, a few IAM,
Health and CloudTrail reads), and botocore spends about three times as much CPU on each as the
HTTP request itself: a dozen event emissions, endpoint rules evaluated again for every call, the
request built three times over (dict, ``AWSRequest``, ``AWSPreparedRequest``, with
``email.message`` headers) and SigV4 signing written for every case there is
(bench/scan_throughput.py; README, "Benchmark"). For the operations where none of that varies from
call to call, this module does the same work once per (client, operation) — the endpoint and its
signing scope resolved by botocore's endpoint rules, the serializer and parser of the protocol —
and per call only serializes, signs (AWS Signature Version 4, as the AWS General Reference
specifies it: "Create a signed AWS API request"), sends through the client's own HTTP session
(its connection pool, TLS context, timeouts, proxies and botocore's exceptions for network
failures) and parses, raising the client's own modeled :class:`ClientError` subclasses.

Which operations: those of the RPC protocols (``query``, ``ec2``, ``json``: one POST to the
endpoint), signed with SigV4, without streaming, checksums, compression, host prefixes, endpoint
discovery or endpoint parameters taken from the call, and with no botocore customisation of their
own registered on the client (the handlers every operation has are known and reproduced here:
IAM's URL-encoded policy documents are decoded, the EC2 ``Filter`` alias applied). Anything else
goes through botocore's client unchanged: :func:`plan_for` answers None.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from botocore.handlers import json_decode_policies
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.utils import normalize_url_path

DIRECT_PROTOCOLS = frozenset({"query", "ec2", "json"})
_SIGNED_HEADERS_SKIPPED = frozenset({"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"})
_STAGES = (
    "provide-client-params",
    "before-parameter-build",
    "before-endpoint-resolution",
    "before-call",
    "request-created",
    "before-sign",
    "before-send",
    "needs-retry",
    "before-parse",
    "after-call",
    "after-call-error",
    "choose-signer",
    "response-received",
)
# The handlers botocore registers for every operation of a service, and what they amount to for an
# operation planned here: nothing (retries are the scan's own, vigilare.aws.retries; the signer is
# replaced by this module's; idempotency tokens, checksums and endpoint discovery rule an operation
# out), or what this module does itself (the EC2 ``Filter`` alias, IAM's policy documents).
_GENERIC_HANDLERS = frozenset(
    {
        "ParameterAlias.alias_parameter_in_call",
        "generate_idempotent_uuid",
        "_handle_request_validation_mode_member",
        "inject_api_version_header_if_needed",
        "AioRequestSigner.handler",
        "RequestSigner.handler",
        "UserAgentString.rebuild_and_replace_user_agent_handler",
        "add_retry_headers",
        "AioRetryHandler.needs_retry",
        "RetryHandler.needs_retry",
        "RetryQuotaChecker.release_retry_quota",
        "json_decode_policies",
        "set_operation_specific_signer",
        "_set_auth_scheme_preference_signer",
        "_CachedUserAgent",
    }
)


@dataclass(frozen=True, slots=True)
class DirectRequest:
    """What aiobotocore's HTTP session sends (the fields of botocore's ``AWSPreparedRequest`` it reads)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    stream_output: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything about one operation of one client that does not change from call to call."""

    operation_name: str
    operation_model: Any
    serialize: Callable[[dict[str, Any], Any], dict[str, Any]]
    parse: Callable[[dict[str, Any], Any], dict[str, Any]]
    url: str
    canonical_path: str
    host: str
    signing_region: str
    signing_name: str
    user_agent: Callable[[], str]
    aliases: tuple[tuple[str, str], ...]
    decode_policies: bool
    http_session: Any
    error_class: Callable[[str], type[Exception]]


_PLANS: weakref.WeakKeyDictionary[Any, tuple[object, dict[str, Plan | None]]] = weakref.WeakKeyDictionary()


def _handler_name(handler: Any) -> str:
    name = getattr(handler, "__qualname__", None)
    if name is None:
        name = type(handler).__qualname__
    return str(name)


def _emitter(client: Any) -> Any:
    """botocore's hierarchical emitter behind the client's event aliaser."""
    events = client.meta.events
    return getattr(events, "_emitter", events)


def _registrations(client: Any) -> object:
    return getattr(_emitter(client), "_lookup_cache", None)


def unknown_handlers(client: Any, api_name: str) -> list[str]:
    """The handlers registered on ``client`` for ``api_name``'s events that this module does not
    reproduce: customisations botocore (or Vigilare, or a plugin) made for that operation."""
    handlers = _emitter(client)._handlers
    service_id = client.meta.service_model.service_id.hyphenize()
    found = []
    for stage in _STAGES:
        for handler in handlers.prefix_search(f"{stage}.{service_id}.{api_name}"):
            name = _handler_name(handler)
            if name in _GENERIC_HANDLERS or (name == "BotocoreStubber" and not handler.enabled):
                # moto's in-process mock adds its stubber to every client once imported; it answers
                # requests only inside ``mock_aws``, and then the call goes through the client.
                continue
            found.append(f"{stage}: {name}")
    return found


def _eligible(client: Any, operation_model: Any) -> bool:
    service_model = client.meta.service_model
    if service_model.protocol not in DIRECT_PROTOCOLS:
        return False
    if operation_model.has_streaming_input or operation_model.has_streaming_output:
        return False
    if operation_model.has_event_stream_input or operation_model.has_event_stream_output:
        return False
    if operation_model.endpoint or operation_model.endpoint_discovery:
        return False  # a host prefix, or endpoint discovery
    if operation_model.is_endpoint_discovery_operation:
        return False
    if operation_model.http_checksum or operation_model.http_checksum_required:
        return False
    if operation_model.request_compression:
        return False
    if operation_model.idempotent_members:
        return False
    if operation_model.context_parameters or operation_model.static_context_parameters:
        return False  # the endpoint would depend on the call
    if getattr(operation_model, "operation_context_parameters", None):
        return False
    if operation_model.resolved_auth_type not in (None, "v4"):
        return False
    if client.meta.config.signature_version not in (None, "v4"):
        return False
    return not unknown_handlers(client, operation_model.name)


async def plan_for(client: Any, method_name: str) -> Plan | None:
    """The plan of ``client``'s ``method_name`` (``describe_instances``), or None when the call must
    go through botocore's client (see the module's docstring). Made once per client and operation."""
    # botocore's emitter replaces its lookup cache whenever a handler is registered or removed: plans
    # made before then are made again, so a customisation added later is never skipped.
    registrations = _registrations(client)
    entry = _PLANS.get(client)
    if entry is None or entry[0] is not registrations:
        entry = _PLANS[client] = (registrations, {})
    plans = entry[1]
    if method_name in plans:
        return plans[method_name]
    plan = await _make_plan(client, method_name)
    plans[method_name] = plan
    return plan


async def _make_plan(client: Any, method_name: str) -> Plan | None:
    api_name = client.meta.method_to_api_mapping.get(method_name)
    http_session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if api_name is None or http_session is None:
        return None
    service_model = client.meta.service_model
    operation_model = service_model.operation_model(api_name)
    if not _eligible(client, operation_model):
        return None
    # botocore's endpoint rules, once: the URL and the signing scope (a global service such as IAM
    # is signed for us-east-1 whatever the client's region).
    context: dict[str, Any] = {
        "client_region": client.meta.region_name,
        "client_config": client.meta.config,
        "has_streaming_input": False,
        "auth_type": operation_model.resolved_auth_type,
        "unsigned_payload": operation_model.unsigned_payload,
        "auth_options": service_model.metadata.get("auth"),
    }
    url, extra_headers, _properties = await client._resolve_endpoint_ruleset(operation_model, {}, context)
    if context.get("auth_type") not in (None, "v4") or extra_headers:
        return None
    signing = context.get("signing") or {}
    parts = urlsplit(url)
    if parts.query:
        return None
    protocol = service_model.protocol
    aliases: list[tuple[str, str]] = []
    input_members = operation_model.input_shape.members if operation_model.input_shape else {}
    if service_model.service_name == "ec2" and "Filter" in input_members:
        aliases.append(("Filters", "Filter"))  # botocore's ParameterAlias for ec2.*.Filter
    creator = client._user_agent_creator
    return Plan(
        operation_name=api_name,
        operation_model=operation_model,
        serialize=create_serializer(protocol, include_validation=True).serialize_to_request,
        parse=create_parser(protocol).parse,
        # The RPC protocols always POST to the endpoint's path ("/" when it has none), no query.
        url=url if parts.path else url + "/",
        canonical_path=quote(normalize_url_path(parts.path or "/"), safe="/~"),
        host=_host(parts),
        # What botocore's request signer would use: the endpoint rules' scope, else the client's own.
        signing_region=signing.get("region") or client._request_signer.region_name,
        signing_name=signing.get("signing_name") or client._request_signer.signing_name,
        user_agent=creator.to_string,
        aliases=tuple(aliases),
        decode_policies=service_model.service_name == "iam",
        http_session=http_session,
        error_class=client.exceptions.from_code,
    )


def _host(parts: Any) -> str:
    """The Host header as SigV4 signs it: lower case, without a default port or user info."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{port}"
    return host


def build_request(plan: Plan, params: dict[str, Any], credentials: Any, now: datetime) -> DirectRequest:
    """The signed request of one call (``credentials``: botocore's frozen credentials)."""
    for alias, name in plan.aliases:
        if alias in params and name not in params:
            params = {**params}
            params[name] = params.pop(alias)
    serialized = plan.serialize(params, plan.operation_model)
    body = serialized["body"]
    if isinstance(body, dict):
        body = urlencode(list(body.items()), doseq=True)
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers: dict[str, str] = {**serialized["headers"]}
    headers["User-Agent"] = plan.user_agent()
    sign(plan, serialized["method"], headers, body, credentials, now)
    return DirectRequest(method=serialized["method"], url=plan.url, headers=headers, body=body)


_KEYS: dict[tuple[str, str, str, str], bytes] = {}


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    cache_key = (secret, day, region, service)
    key = _KEYS.get(cache_key)
    if key is None:
        if len(_KEYS) > 4096:
            _KEYS.clear()
        key = ("AWS4" + secret).encode()
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        _KEYS[cache_key] = key
    return key


def sign(
    plan: Plan, method: str, headers: dict[str, str], body: bytes, credentials: Any, now: datetime
) -> None:
    """Add AWS Signature Version 4 headers (``X-Amz-Date``, ``X-Amz-Security-Token``,
    ``Authorization``) as botocore's ``SigV4Auth`` does for a request with its body signed."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers["X-Amz-Date"] = stamp
    if credentials.token:
        headers["X-Amz-Security-Token"] = credentials.token
    signed: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in _SIGNED_HEADERS_SKIPPED:
            signed[lowered] = " ".join(value.split())
    signed.setdefault("host", plan.host)
    names = sorted(signed)
    canonical = "\n".join(
        (
            method,
            plan.canonical_path,
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{day}/{plan.signing_region}/{plan.signing_name}/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    )
    key = _signing_key(credentials.secret_key, day, plan.signing_region, plan.signing_name)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )


async def call(plan: Plan, params: dict[str, Any], credentials: Any) -> dict[str, Any]:
    """One call: the parsed response, or the client's modeled ``ClientError`` for an error answer.
    Network failures raise botocore's exceptions (``EndpointConnectionError``, ``ReadTimeoutError``,
    ...) from the client's HTTP session, as through the client."""
    request = build_request(plan, params, credentials, datetime.now(UTC))
    response = await plan.http_session.send(request)
    body = await response.content
    status = response.status_code
    answer = {"status_code": status, "headers": response.headers, "body": body}
    parsed: dict[str, Any] = plan.parse(answer, plan.operation_model.output_shape)
    metadata = parsed.setdefault("ResponseMetadata", {})
    metadata["HTTPStatusCode"] = status
    metadata["HTTPHeaders"] = response.headers
    metadata["RetryAttempts"] = 0
    if status >= 300:
        code = parsed.get("Error", {}).get("Code")
        # The error's modeled members (e.g. AWS Payments' ``reason`` on AccessDeniedException), as
        # botocore's endpoint adds them.
        error_shape = plan.operation_model.service_model.shape_for_error_code(code) if code else None
        if error_shape is not None:
            parsed.update(plan.parse(answer, error_shape))
        raise plan.error_class(code)(parsed, plan.operation_name)
    if plan.decode_policies:
        json_decode_policies(parsed, plan.operation_model)
    return parsed
