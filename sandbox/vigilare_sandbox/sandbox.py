"""The local AWS stand-in: moto in a thread, the fake, and the gateway that fronts both.

    with Sandbox() as sandbox:
        client = boto3.client("sts", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")

Point every AWS client (all services, all regions) at `sandbox.endpoint_url`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from types import TracebackType
from typing import Any

from vigilare_sandbox.fake import FakeAws
from vigilare_sandbox.gateway import Gateway
from vigilare_sandbox.identity import AccountDirectory, RoleTrustGuard
from vigilare_sandbox.moto_tuning import speed_up_account_lookup
from vigilare_sandbox.recording import RequestLog
from vigilare_sandbox.state import FakeState

LOOPBACK = "127.0.0.1"


def moto_detector_exists(account_id: str, region: str, detector_id: str) -> bool:
    """Whether moto (running in this process) holds that GuardDuty detector."""
    from moto.guardduty.models import guardduty_backends

    return detector_id in guardduty_backends[account_id][region].detectors


class Sandbox:
    def __init__(self, latency_ms: float = 0.0, host: str = LOOPBACK, port: int = 0) -> None:
        self.state = FakeState()
        self.accounts = AccountDirectory()
        self.trust = RoleTrustGuard()
        self._latency_ms = latency_ms
        self._host = host
        self._port = port
        self._moto: Any = None
        self._gateway: Gateway | None = None
        # boto3 clients the seed helpers made, per (account, service, region). Their credentials
        # come from AssumeRole, which reset() forgets, so reset() drops them too.
        self.seed_clients: dict[tuple[str, str, str], Any] = {}

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._gateway is not None:
            return self
        # moto reads this when it first builds the IAM backend: it must be set before any request.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        from moto.server import ThreadedMotoServer

        speed_up_account_lookup()

        # werkzeug logs every request at INFO unless told otherwise; keep the sandbox quiet by default.
        werkzeug_logger = logging.getLogger("werkzeug")
        if werkzeug_logger.level == logging.NOTSET:
            werkzeug_logger.setLevel(logging.WARNING)

        moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        moto.start()
        self._moto = moto
        moto_host, moto_port = moto.get_host_and_port()
        gateway = Gateway(
            moto_host,
            moto_port,
            FakeAws(self.state, detector_exists=moto_detector_exists),
            self.accounts,
            self.trust,
            latency_ms=self._latency_ms,
            on_moto_reset=self._reset_own_state,
        )
        gateway.start(self._host, self._port)
        self._gateway = gateway
        return self

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # use -------------------------------------------------------------------------------------

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("Sandbox is not started")
        return self._gateway

    @property
    def endpoint_url(self) -> str:
        host, port = self.gateway.address
        return f"http://{host}:{port}"

    @property
    def moto_endpoint_url(self) -> str:
        """moto itself, bypassing the gateway (for tests that need to tell them apart)."""
        if self._moto is None:
            raise RuntimeError("Sandbox is not started")
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def latency_ms(self) -> float:
        return self.gateway.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self.gateway.latency_ms = value

    def reset(self) -> None:
        """Forget everything: moto's state (POST /moto-api/reset), the fake's, learned keys, roles."""
        request = urllib.request.Request(self.moto_endpoint_url + "/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=180) as response:  # noqa: S310 - loopback moto
            response.read()
        self._reset_own_state()

    def inject_throttling(
        self, service: str, count: int, operation: str | None = None, account_id: str | None = None
    ) -> None:
        """Throttle the next `count` calls to a faked API (signing name: health, cloudtrail,
        guardduty, ce, ses; optionally one operation such as "DescribeEvents", one account), the
        way AWS does: ThrottlingException (400) for the JSON services, TooManyRequestsException
        (429) for GuardDuty and SESv2."""
        self.state.inject_throttling(service, count, operation, account_id)

    def register_guarded_role(
        self,
        role_arn: str,
        external_id: str,
        trusted_account: str,
        *,
        credentials_expire_in: timedelta | None = None,
        caller_identity_account: str | None = None,
    ) -> None:
        """Make sts:AssumeRole on `role_arn` require this ExternalId from a caller in `trusted_account`.

        Test knobs: `credentials_expire_in` makes the role's credentials expire that soon whatever
        DurationSeconds asked; `caller_identity_account` makes GetCallerIdentity with them answer
        that account instead of the role's."""
        self.trust.register(
            role_arn,
            external_id,
            trusted_account,
            credentials_expire_in=credentials_expire_in,
            caller_identity_account=caller_identity_account,
        )

    @contextlib.contextmanager
    def recording(self) -> Iterator[RequestLog]:
        """Record every signed request that reaches the gateway while the block runs."""
        log = RequestLog()
        self.gateway.request_log = log
        try:
            yield log
        finally:
            self.gateway.request_log = None

    def _reset_own_state(self) -> None:
        self.seed_clients.clear()
        self.state.reset()
        self.accounts.reset()
        self.trust.reset()
