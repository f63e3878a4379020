"""Making many short-lived AWS clients cheap.

Every account scan has its own credentials and so its own clients. Two costs of botocore client
creation do not depend on the account and dominate a worker's CPU when a hundred scans run at once
(measured with bench/scan_throughput.py): loading the CA bundle into a fresh SSL context for each
client's connection pool (~70 ms each), and building the client class from the service model
(~40 ms each). Both are shared per process here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import functools
import os
import ssl
import weakref
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiobotocore.client import AioClientCreator
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from botocore.context import ClientContext, get_context
from botocore.credentials import CredentialProvider
from botocore.exceptions import NoCredentialsError
from botocore.handlers import add_recursion_detection_header
from botocore.httpsession import create_urllib3_context, get_cert_path

from vigilare import lifecycle
from vigilare.config import Settings


@functools.cache
def _shared_ssl_context(ca_certs: str | None) -> ssl.SSLContext:
    context = create_urllib3_context()
    if ca_certs:
        context.load_verify_locations(ca_certs, None, None)
    return context


class SharedSslHttpSession(AIOHTTPSession):
    """aiobotocore's HTTP session, with one verified SSL context per process instead of per client."""

    def _create_connector(self, proxy_url: Any) -> aiohttp.TCPConnector:
        if proxy_url or self._cert_file or not self._verify:
            return super()._create_connector(proxy_url)
        return aiohttp.TCPConnector(
            limit=self._max_pool_connections,
            ssl=_shared_ssl_context(get_cert_path(self._verify)),
            **self._connector_args,
        )


def aio_config(**options: Any) -> AioConfig:
    return AioConfig(http_session_cls=SharedSslHttpSession, **options)


@functools.cache
def share_client_classes() -> None:
    """Build each service's client class once per process (idempotent).

    The class depends only on the service model and the client customisations registered on the
    session's event emitter, which are the same for every aioboto3 session Vigilare creates.
    """
    original = AioClientCreator._create_client_class
    classes: dict[tuple[str, str], type] = {}

    async def cached(self: AioClientCreator, service_name: str, service_model: Any) -> type:
        key = (service_name, service_model.api_version)
        if key not in classes:
            classes[key] = await original(self, service_name, service_model)
        return classes[key]

    AioClientCreator._create_client_class = cached


# The credentials of the scan calling AWS right now. Shared clients sign with them: each account
# scan sets them around its own calls, so no scan has to create clients of its own.
_SCAN_CREDENTIALS: contextvars.ContextVar[Any] = contextvars.ContextVar("vigilare_scan_credentials")


class ScanCredentials:
    """Credentials that resolve to the calling scan's assumed-role credentials at signing time."""

    method = "vigilare-assume-role"

    @staticmethod
    def _current() -> Any:
        try:
            return _SCAN_CREDENTIALS.get()
        except LookupError:
            raise NoCredentialsError() from None

    async def get_frozen_credentials(self) -> Any:
        return await self._current().get_frozen_credentials()

    async def get_account_id(self) -> str | None:
        """The endpoint rules' ``AWS::Auth::AccountId`` (aiobotocore asks for it asynchronously)."""
        getter = getattr(self._current(), "get_account_id", None)
        return await getter() if getter is not None else None

    def get_deferred_property(self, name: str) -> Callable[[], Any]:
        return lambda: None  # replaced by get_account_id in aiobotocore's endpoint builtins


class ScanCredentialProvider(CredentialProvider):
    """botocore's supported hook for where a session's credentials come from (the session's
    ``credential_provider`` component): the shared clients' session gets :class:`ScanCredentials`,
    so each call is signed with the calling scan's credentials, no private attribute set."""

    METHOD = ScanCredentials.method
    CANONICAL_NAME = "VigilareScan"

    async def load(self) -> ScanCredentials:
        return ScanCredentials()


def sign_as(credentials: Any) -> contextvars.Token[Any]:
    """Make the current task (and tasks it starts from now on) sign shared clients' calls with these."""
    return _SCAN_CREDENTIALS.set(credentials)


def stop_signing(token: contextvars.Token[Any]) -> None:
    _SCAN_CREDENTIALS.reset(token)


@contextlib.contextmanager
def signing_as(credentials: Any) -> Iterator[None]:
    token = _SCAN_CREDENTIALS.set(credentials)
    try:
        yield
    finally:
        _SCAN_CREDENTIALS.reset(token)


class SharedClients:
    """AWS clients per (service, region, endpoint) shared by every scan on one event loop.

    Made from a session whose credential provider is :class:`ScanCredentialProvider` (see
    ``vigilare.aws.session.scan_signing_session``): they sign as whichever scan calls them.
    """

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[Any, str, str, str | None], Any] = {}
        self._lock = asyncio.Lock()
        self.credentials = AssumedRoleCache()

    async def get(
        self, session: Any, service: str, region: str, endpoint_url: str | None, config: Any
    ) -> Any:
        """The client of ``session`` (the scans' signing session, or Vigilare's own for STS)."""
        key = (session, service, region, endpoint_url)
        client = self._clients.get(key)
        if client is not None:
            return client
        async with self._lock:
            if key not in self._clients:
                created = await self._stack.enter_async_context(
                    session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
                )
                if service == "s3control" and endpoint_url:
                    created.meta.events.register(
                        "before-send.s3-control", _strip_account_prefix(endpoint_url)
                    )
                cache_user_agent(created)
                if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
                    # Only inside AWS Lambda does this handler add a header; elsewhere it reads the
                    # environment on every call for nothing.
                    created.meta.events.unregister("before-call", add_recursion_detection_header)
                self._clients[key] = created
        return self._clients[key]

    async def close(self) -> None:
        self._clients.clear()
        self.credentials.clear()
        await self._stack.aclose()


class AssumedRoleCache:
    """Assumed-role credentials per (endpoint, account, role, external id), kept for their lifetime.

    A scheduled scan every 5 minutes would otherwise call STS AssumeRole (a call in the customer's
    CloudTrail, and a signing) for credentials that are valid for an hour. Only what a caller
    stored is handed out, and only while it stays valid for ``margin`` more.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str | None, str, str, str], tuple[dict[str, str], float]] = {}

    def get(
        self, key: tuple[str | None, str, str, str], *, now: float, margin: float
    ) -> dict[str, str] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        metadata, expires = entry
        if expires - now < margin:
            del self._entries[key]
            return None
        return metadata

    def put(self, key: tuple[str | None, str, str, str], metadata: dict[str, str], expires: float) -> None:
        self._entries[key] = (metadata, expires)

    def forget(self, key: tuple[str | None, str, str, str]) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class _CachedUserAgent:
    """botocore rebuilds the User-Agent header from a dozen components before every request (it
    carries the features the call used, e.g. its retry mode or a paginator): the same few strings
    over and over on a shared client. Built once per set of features here."""

    def __init__(self, build: Callable[[], str]) -> None:
        self._build = build
        self._by_features: dict[frozenset[str], str] = {}

    def __call__(self) -> str:
        context = get_context()
        features = frozenset(context.features) if context is not None else frozenset()
        built = self._by_features.get(features)
        if built is None:
            built = self._by_features[features] = self._build()
        return built


def _copy_client_context(value: Any, memo: Any = None) -> Any:
    if type(value) is ClientContext:
        return ClientContext(features=set(value.features))
    return copy.deepcopy(value, memo)


@functools.cache
def copy_call_contexts_cheaply() -> None:
    """aiobotocore deep-copies botocore's per-call ``ClientContext`` (a set of feature names) on
    every API call made inside another (each page of a paginator): ``copy.deepcopy`` of a one-field
    dataclass costs as much as signing the request. A copy of the set is the same copy."""
    import aiobotocore.context

    if getattr(aiobotocore.context, "deepcopy", None) is copy.deepcopy:
        aiobotocore.context.deepcopy = _copy_client_context


def cache_user_agent(client: Any) -> None:
    """Memoise the client's User-Agent string per set of features (a no-op if botocore changed)."""
    creator = getattr(client, "_user_agent_creator", None)
    build = getattr(creator, "to_string", None)
    if creator is not None and callable(build) and not isinstance(build, _CachedUserAgent):
        creator.to_string = _CachedUserAgent(build)


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedClients] = weakref.WeakKeyDictionary()


def shared_clients() -> SharedClients:
    """The running event loop's client pool (clients are bound to the loop that made them)."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = SharedClients()
    return pool


def forget_assumed_roles() -> None:
    """Drop every event loop's reused assumed-role credentials (e.g. after the AWS stand-in they
    came from was reset): the next scan of each account assumes its role again."""
    for pool in list(_POOLS.values()):
        pool.credentials.clear()


async def close_shared_clients() -> None:
    pool = _POOLS.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


@lifecycle.on_shutdown
async def _close_on_shutdown(_settings: Settings) -> None:
    """The API and every worker close the clients their scans shared when they stop."""
    await close_shared_clients()


def _strip_account_prefix(endpoint_url: str) -> Callable[..., None]:
    """s3control puts the account id in front of the host; a local endpoint cannot resolve that name."""
    endpoint_host = urlsplit(endpoint_url).netloc

    def rewrite(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        host = parts.netloc
        prefix, _, rest = host.partition(".")
        if rest == endpoint_host and prefix.isdigit() and len(prefix) == 12:
            request.url = urlunsplit(parts._replace(netloc=endpoint_host))

    return rewrite
