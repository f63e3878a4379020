"""The client address behind proxies: read from the right of ``X-Forwarded-For``, which the client
cannot write, never from the left, which it can."""

from __future__ import annotations

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from vigilare.api.app import create_app
from vigilare.config import ConfigError, Settings


async def _statuses(settings: Settings, forwarded_for: list[str]) -> list[int]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        return [
            (await client.get("/billing/plans", headers={"X-Forwarded-For": value})).status_code
            for value in forwarded_for
        ]


async def test_rotating_left_entries_do_not_get_past_the_limit(settings):
    configured = msgspec.structs.replace(settings, rate_limit_per_minute=20, trust_forwarded_for=True)
    # The client writes whatever it likes on the left; the proxy appends the address it saw.
    statuses = await _statuses(configured, [f"10.0.{n}.1, 203.0.113.9" for n in range(60)])
    assert statuses.count(200) == 20 and statuses.count(429) == 40


async def test_the_configured_number_of_proxies_is_counted_from_the_right(settings):
    configured = msgspec.structs.replace(
        settings, rate_limit_per_minute=20, trust_forwarded_for=True, trusted_proxy_hops=2
    )
    # client -> CDN -> load balancer -> API: the CDN appended the client, the balancer the CDN.
    one_client = [f"10.9.{n}.1, 203.0.113.9, 198.51.100.2" for n in range(30)]
    assert (await _statuses(configured, one_client)).count(200) == 20
    many_clients = [f"203.0.113.{n}, 198.51.100.2" for n in range(30)]
    assert (await _statuses(configured, many_clients)).count(200) == 30


async def test_forwarded_for_is_ignored_unless_trusted(settings):
    configured = msgspec.structs.replace(settings, rate_limit_per_minute=20)
    statuses = await _statuses(configured, [f"203.0.113.{n}" for n in range(30)])
    assert statuses.count(200) == 20  # every request is the test client's own address


def test_trusted_proxy_hops_must_be_positive(tmp_path):
    environ = {"VIGILARE_TRUSTED_PROXY_HOPS": "3", "VIGILARE_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(environ).trusted_proxy_hops == 3
    with pytest.raises(ConfigError, match="VIGILARE_TRUSTED_PROXY_HOPS"):
        Settings.from_env({**environ, "VIGILARE_TRUSTED_PROXY_HOPS": "0"})
