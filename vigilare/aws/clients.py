"""Making many short-lived AWS clients cheap.

Every account scan has its own credentials and so its own clients. Two costs of botocore client
creation do not depend on the account and dominate a worker's CPU when a hundred scans run at once
(measured with bench/scan_throughput.py): loading the CA bundle into a fresh SSL context for each
client's connection pool (~70 ms each), and building the client class from the service model
(~40 ms each). Both are shared per process here.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import aiohttp
from aiobotocore.client import AioClientCreator
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from botocore.httpsession import create_urllib3_context, get_cert_path


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
