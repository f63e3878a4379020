"""One assumed-role AWS session per account scan.

Credentials come from STS AssumeRole (with the account's external id) and are refreshed by
aiobotocore shortly before they expire. Clients are shared by every scan on the event loop, one per
(service, region) (vigilare.aws.clients): each scan's calls are signed with its own credentials,
carried by a context variable, so a hundred concurrent scans do not build thousands of clients. A
semaphore bounds each account's concurrent calls, because a scan spends the customer's own API
rate budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import aioboto3
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioCredentialResolver, AioRefreshableCredentials
from aiobotocore.paginate import AioPaginator
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.loaders import Loader
from botocore.paginate import PaginatorModel

from vigilare.aws import direct
from vigilare.aws.calls import counted_call
from vigilare.aws.clients import (
    ScanCredentialProvider,
    ScanCredentials,
    aio_config,
    copy_call_contexts_cheaply,
    share_client_classes,
    shared_clients,
    sign_as,
    signing_as,
    stop_signing,
)
from vigilare.aws.errors import RoleAssumptionError
from vigilare.aws.naming import role_arn
from vigilare.aws.retries import DEFAULT_RETRY_POLICY, RetryBudget, RetryPolicy, retry_kind

VENDORED_MODELS = Path(__file__).parent / "models"
DEFAULT_HOME_REGION = "us-east-1"
DEFAULT_MAX_CONCURRENCY = 8
# Connections per shared client: every scan on the loop goes through it (each scan is bounded by
# its own semaphore).
SHARED_POOL_SIZE = 200
ROLE_SESSION_SECONDS = 3600
ADVISORY_REFRESH_SECONDS: int = getattr(AioRefreshableCredentials, "_advisory_refresh_timeout", 15 * 60)
REUSE_MARGIN_SECONDS = 20 * 60
"""Assumed-role credentials are reused by later scans of the account while they stay valid at
least this long (longer than a scan lasts)."""


@functools.cache
def client_config(
    service: str, *, endpoint_url: str | None, max_pool_connections: int, retries: bool = True
) -> AioConfig:
    """One per set of arguments (building a botocore Config is not cheap, and a scan asks for one
    on every call). botocore's ``standard`` retries (a throttled call is retried, never reported as
    a finding), except on the shared scan clients (``retries=False``): their retries are each scan's own
    (vigilare.aws.retries), because botocore's retry quota is per client."""
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 5}
        if retries
        else {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": 10,
        "read_timeout": 30,
        "max_pool_connections": max_pool_connections,
        "user_agent_extra": "vigilare",
    }
    if endpoint_url and service == "s3":
        # A local stand-in answers on one host name: bucket-in-host URLs would not resolve.
        options["s3"] = {"addressing_style": "path"}
    return aio_config(**options)


def base_sts_client(
    base_session: aioboto3.Session, *, region: str, endpoint_url: str | None, max_pool_connections: int = 2
) -> Any:
    """An STS client with Vigilare's own (sentinel) credentials, as an async context manager."""
    return base_session.client(
        "sts",
        region_name=region,
        endpoint_url=endpoint_url or None,
        config=client_config("sts", endpoint_url=endpoint_url, max_pool_connections=max_pool_connections),
    )


async def assume_role(
    sts_client: Any,
    *,
    aws_account_id: str,
    role_name: str,
    external_id: str,
    session_name: str,
    duration_seconds: int = ROLE_SESSION_SECONDS,
) -> dict[str, Any]:
    """STS AssumeRole's ``Credentials``; a refusal becomes a :class:`RoleAssumptionError` with a reason."""
    arn = role_arn(aws_account_id, role_name)
    try:
        with counted_call(sts_client, "sts", "assume_role"):
            response = await sts_client.assume_role(
                RoleArn=arn,
                RoleSessionName=session_name,
                ExternalId=external_id,
                DurationSeconds=duration_seconds,
            )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        raise RoleAssumptionError(
            f"Vigilare could not assume role {arn}: AWS answered {code}: {error.get('Message', '')}. "
            "Check that the role exists, trusts the Vigilare account and requires the external id "
            "shown at connection.",
            aws_error_code=code,
        ) from exc
    except ParamValidationError as exc:
        raise RoleAssumptionError(f"The settings for role {arn} are not valid for AWS STS: {exc}") from exc
    except BotoCoreError as exc:
        raise RoleAssumptionError(f"Vigilare could not reach AWS STS to assume role {arn}: {exc}") from exc
    credentials: dict[str, Any] = response["Credentials"]
    return credentials


def _expiry_seconds(expiry_time: str) -> float:
    try:
        return datetime.fromisoformat(expiry_time).timestamp()
    except ValueError:
        return 0.0  # unknown: never reused


@functools.cache
def _pagination_config(service: str, api_name: str) -> dict[str, Any]:
    model = PaginatorModel(shared_loader().load_service_model(service, "paginators-1"))
    config: dict[str, Any] = model.get_paginator(api_name)
    return config


@functools.cache
def shared_loader() -> Loader:
    """One botocore data loader per process.

    Every botocore session otherwise parses the service models (several MB each) for itself; with
    a hundred account scans in flight that is gigabytes. The loader caches what it reads, so
    sharing it makes each model parsed once per process.

    It also finds the service models Vigilare vendors (``vigilare/aws/models``, botocore's own
    ``<service>/<api-version>/service-2.json`` layout): AWS Payments, which the pinned botocore
    predates (docs/field-truth.md, "AWS Payments"). Vendored paths are searched first, so only
    services botocore lacks belong there; drop a vendored model when botocore ships it.
    """
    return Loader(extra_search_paths=[str(VENDORED_MODELS)])


BaseSession = aioboto3.Session
"""The process's base AWS session (Vigilare's own identity) that scans assume customer roles from."""


@functools.cache
def scan_signing_session() -> aioboto3.Session:
    """The session the shared clients are made from: its only credential provider hands out
    :class:`ScanCredentials`, which sign as the calling scan (botocore's ``credential_provider``
    component, the supported way to choose where a session's credentials come from)."""
    botocore_session = AioSession()
    botocore_session.register_component("data_loader", shared_loader())
    botocore_session.register_component(
        "credential_provider", AioCredentialResolver([ScanCredentialProvider()])
    )
    return aioboto3.Session(botocore_session=botocore_session)


@functools.cache
def vigilare_base_session() -> aioboto3.Session:
    """Vigilare's own (sentinel) credentials from the standard AWS environment, one per process."""
    botocore_session = AioSession()
    botocore_session.register_component("data_loader", shared_loader())
    return aioboto3.Session(botocore_session=botocore_session)


class RefreshChecksNearExpiry:
    """A scan's refreshable credentials, asked whether they need refreshing only once they come
    near expiry. botocore asks on every signing (twice a call), reading the local time zone
    each time; until then the answer is known to be no."""

    def __init__(self, credentials: AioRefreshableCredentials, expires_at: float) -> None:
        self._credentials = credentials
        self._frozen: Any = None
        # botocore refreshes from 15 minutes before expiry on (its advisory timeout); ask from a
        # minute before that.
        self._ask_from = expires_at - ADVISORY_REFRESH_SECONDS - 60

    async def get_frozen_credentials(self) -> Any:
        if self._frozen is not None and time.time() < self._ask_from:
            return self._frozen
        frozen = await self._credentials.get_frozen_credentials()
        self._frozen = frozen
        return frozen

    async def get_account_id(self) -> str | None:
        frozen = await self.get_frozen_credentials()
        return cast(str | None, frozen.account_id)


class AccountSession:
    """The AWS side of one account scan. Use as ``async with AccountSession(...) as session:``."""

    def __init__(
        self,
        *,
        aws_account_id: str,
        role_name: str,
        external_id: str,
        session_name: str,
        endpoint_url: str | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        home_region: str = DEFAULT_HOME_REGION,
        base_session: aioboto3.Session | None = None,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        reuse_credentials: bool = False,
        direct_calls: bool = True,
    ) -> None:
        self.account_id = aws_account_id
        self.home_region = home_region
        self.endpoint_url = endpoint_url or None
        self._role_name = role_name
        self._external_id = external_id
        self._session_name = session_name
        self._max_concurrency = max_concurrency
        self._reuse_credentials = reuse_credentials
        self._direct = direct_calls
        self._base_session = base_session or vigilare_base_session()
        share_client_classes()
        copy_call_contexts_cheaply()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        # This scan's own retry quota and throttling pause, whatever other scans share the clients.
        self.retry_budget = RetryBudget(retry_policy)
        self._sts: Any = None
        self._credentials: RefreshChecksNearExpiry | None = None
        self._signing: contextvars.Token[Any] | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Assume the role now, so a role that cannot be assumed fails the scan before any collection.

        With ``reuse_credentials``, credentials an earlier scan of the account assumed are used
        instead while they stay valid for :data:`REUSE_MARGIN_SECONDS` (a scheduled scan every few
        minutes does not call STS each time; the customer's CloudTrail then names the scan that
        assumed them). A scan that must prove the role still works (first, manual, verify) assumes it.
        """
        pool = shared_clients()
        self._sts = await pool.get(
            self._base_session,
            "sts",
            self.home_region,
            self.endpoint_url,
            client_config("sts", endpoint_url=self.endpoint_url, max_pool_connections=SHARED_POOL_SIZE),
        )
        cache_key = (self.endpoint_url, self.account_id, self._role_name, self._external_id)
        first = (
            pool.credentials.get(cache_key, now=time.time(), margin=REUSE_MARGIN_SECONDS)
            if self._reuse_credentials
            else None
        )
        if first is None:
            try:
                first = await self._credential_metadata()
            except BaseException:
                pool.credentials.forget(cache_key)
                await self.close()
                raise
            pool.credentials.put(cache_key, first, _expiry_seconds(first["expiry_time"]))
        # Seeded with the credentials just obtained; aiobotocore calls AssumeRole again only when
        # they come within minutes of expiring (long scans outlive the one-hour role session).
        refreshable = AioRefreshableCredentials.create_from_metadata(
            metadata=first, refresh_using=self._credential_metadata, method=ScanCredentials.method
        )
        credentials = RefreshChecksNearExpiry(refreshable, _expiry_seconds(first["expiry_time"]))
        self._credentials = credentials
        # Collectors started from this task inherit the scan's credentials for the shared clients.
        self._signing = sign_as(credentials)

    async def close(self) -> None:
        if self._signing is not None:
            with contextlib.suppress(ValueError):  # closed from another context than it started in
                stop_signing(self._signing)
            self._signing = None

    async def _credential_metadata(self) -> dict[str, str]:
        credentials = await assume_role(
            self._sts,
            aws_account_id=self.account_id,
            role_name=self._role_name,
            external_id=self._external_id,
            session_name=self._session_name,
        )
        expiration = credentials["Expiration"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiration.isoformat() if isinstance(expiration, datetime) else str(expiration),
        }

    async def client(self, service: str, region: str | None = None) -> Any:
        """The process's shared client for ``service`` in ``region``; it signs with this scan's
        credentials when called through :meth:`call` or :meth:`paginate`."""
        if self._credentials is None:
            raise RuntimeError("AccountSession.start() was not awaited")
        config = client_config(
            service, endpoint_url=self.endpoint_url, max_pool_connections=SHARED_POOL_SIZE, retries=False
        )
        return await shared_clients().get(
            scan_signing_session(), service, region or self.home_region, self.endpoint_url, config
        )

    async def call(self, service: str, operation: str, *, region: str | None = None, **params: Any) -> Any:
        client = await self.client(service, region)
        return await self._attempt(client, operation, params)

    async def _attempt(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        """One call, signed as this scan, retried on this scan's own budget (vigilare.aws.retries)."""
        attempt, paid = 0, 0
        # The operations botocore has nothing operation-specific for go the direct way (a third of
        # the CPU); the rest through the client (vigilare.aws.direct).
        plan = await direct.plan_for(client, operation) if self._direct else None
        while True:
            await self.retry_budget.wait_out_throttling()
            try:
                # Bound each request, not the retries' waits: other calls of the scan go on.
                async with self._semaphore:
                    with signing_as(self._credentials), counted_call(client, None, operation):
                        if plan is not None:
                            credentials = await self._credentials.get_frozen_credentials()  # type: ignore[union-attr]
                            response = await direct.call(plan, params, credentials)
                        else:
                            response = await getattr(client, operation)(**params)
            except Exception as exc:
                kind = retry_kind(exc)
                attempt += 1
                cost = None
                if kind is not None and attempt < self.retry_budget.policy.max_attempts:
                    cost = self.retry_budget.take(kind)
                if kind is None or cost is None:
                    raise
                paid += cost
                await asyncio.sleep(self.retry_budget.backoff(kind, attempt))
                continue
            self.retry_budget.succeeded(paid)
            return response

    async def paginate(
        self, service: str, operation: str, result_key: str, *, region: str | None = None, **params: Any
    ) -> list[Any]:
        client = await self.client(service, region)
        api_name = client.meta.method_to_api_mapping[operation]

        async def request_page(**page_params: Any) -> Any:
            return await self._attempt(client, operation, page_params)

        paginator = AioPaginator(
            request_page,
            _pagination_config(service, api_name),
            client.meta.service_model.operation_model(api_name),
        )
        items: list[Any] = []
        # Each page is one retried call (a throttled page is asked again, not the whole listing).
        async for page in paginator.paginate(**params):
            items.extend(page.get(result_key, []))
        return items
