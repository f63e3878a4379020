"""One loopback HTTP endpoint in front of moto and the fake, so clients see a single "AWS".

Per request: optional fixed latency; optional recording (`request_log`); requests moto cannot
answer go to the fake (routed by the SigV4 service name and X-Amz-Target or path); `sts:AssumeRole`
on a role registered with the trust guard is refused unless ExternalId and caller account match (and
its answer adjusted by the role's test knobs); everything else is forwarded to moto unchanged
(method, path, query, headers including Host, body) and moto's status, headers and body come back
unchanged, except where moto departs from AWS's documented answer (the credential report's root row
and key-use columns, DescribeSnapshots' owner and permission filters, fleets' creation times). The
upstream is always moto's address, whatever the Host header says (s3control puts the account id in
front of the host name).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from vigilare_sandbox import ec2_fleets, field
from vigilare_sandbox.ec2_sharing import filter_describe_snapshots
from vigilare_sandbox.fake import FakeAws, route
from vigilare_sandbox.fake_iam import add_root_row
from vigilare_sandbox.identity import AccountDirectory, RoleTrustGuard
from vigilare_sandbox.key_usage import fill_key_use
from vigilare_sandbox.recording import RequestLog
from vigilare_sandbox.wire import WireRequest, WireResponse, credential_scope

logger = logging.getLogger(__name__)

# Headers that describe one hop's connection, not the message (RFC 9110 §7.6.1), plus framing we redo.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}
_MOTO_RESET_PATH = "/moto-api/reset"


class _MotoUpstream:
    """Keep-alive connections to moto, one per gateway thread."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> WireResponse:
        # A kept-alive connection moto has closed fails on first use: retry once on a fresh one.
        for attempt in range(2):
            connection = self._connection()
            try:
                connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                if body or method in ("POST", "PUT", "PATCH"):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                upstream = connection.getresponse()
                payload = upstream.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self._drop_connection()
                if attempt == 1:
                    raise
                continue
            # A HEAD answer has no body but tells the size of the GET one: keep moto's Content-Length.
            response_headers = [
                (name, value)
                for name, value in upstream.getheaders()
                if name.lower() not in _HOP_BY_HOP or (method == "HEAD" and name.lower() == "content-length")
            ]
            if upstream.will_close:
                self._drop_connection()
            return WireResponse(upstream.status, payload, raw_headers=response_headers)
        raise AssertionError("unreachable")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints allow
    server: _GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("gateway: " + format, *args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        gateway = self.server.gateway
        if gateway.latency_ms > 0:
            time.sleep(gateway.latency_ms / 1000)  # simulated network round trip, not a wait
        try:
            self._respond(gateway.dispatch(self.command, self.path, self.headers.items(), body))
        except Exception:
            logger.exception("sandbox gateway failed on %s %s", self.command, self.path)
            self._respond(WireResponse(502, b"sandbox gateway error", {"Content-Type": "text/plain"}))

    def _respond(self, response: WireResponse) -> None:
        self.send_response_only(response.status)
        header_items = response.header_items()
        for name, value in header_items:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in header_items):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    gateway: Gateway


def _with_body(response: WireResponse, body: bytes) -> WireResponse:
    if body is response.body:
        return response
    return WireResponse(
        response.status, body, {k: v for k, v in response.header_items() if k.lower() != "content-length"}
    )


class Gateway:
    def __init__(
        self,
        moto_host: str,
        moto_port: int,
        fake: FakeAws,
        accounts: AccountDirectory,
        trust: RoleTrustGuard,
        latency_ms: float = 0.0,
        on_moto_reset: Callable[[], None] | None = None,
    ) -> None:
        self.fake = fake
        self.accounts = accounts
        self.trust = trust
        self.latency_ms = latency_ms
        self.request_log: RequestLog | None = None
        self._upstream = _MotoUpstream(moto_host, moto_port)
        self._on_moto_reset = on_moto_reset
        self._server: _GatewayServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        server = _GatewayServer((host, port), _Handler)
        server.gateway = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="sandbox-gateway", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("gateway is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def dispatch(
        self, method: str, raw_path: str, header_items: list[tuple[str, str]], body: bytes
    ) -> WireResponse:
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in header_items}
        request = WireRequest(method, split.path, query, headers, body, credential_scope(headers, query))
        if self.request_log is not None:
            self.request_log.record(request)

        if request.scope is not None:
            answered = self._field_answer(request)
            if answered is not None:
                return answered

        fake_route = route(request)
        if fake_route is not None:
            return self.fake.answer(fake_route, request, self.accounts.account_for(request))

        is_assume_role = (
            request.scope is not None
            and request.scope.service == "sts"
            and request.form().get("Action") == "AssumeRole"
        )
        if is_assume_role:
            caller_account = self.accounts.account_for(request)
            refusal = self.trust.refusal(
                request.form(), caller_account, self.accounts.principal_arn(request, caller_account)
            )
            if refusal is not None:
                return refusal

        forwarded_headers = [(name, value) for name, value in header_items if name.lower() not in _HOP_BY_HOP]
        response = self._upstream.send(method, raw_path, forwarded_headers, body)
        if is_assume_role and response.status == 200:
            self.accounts.learn_from_assume_role(response.body)
            response = _with_body(response, self.trust.issued(request.form(), response.body))
        is_caller_identity = (
            request.scope is not None
            and request.scope.service == "sts"
            and request.form().get("Action") == "GetCallerIdentity"
        )
        if is_caller_identity and request.scope is not None and response.status == 200:
            reported = self.trust.caller_identity(request.scope.access_key_id, response.body)
            response = _with_body(response, reported)
        if request.scope is not None and response.status == 200:
            response = self._field_rewrite(request, response)
        is_describe_snapshots = (
            request.scope is not None
            and request.scope.service == "ec2"
            and request.form().get("Action") == "DescribeSnapshots"
        )
        if is_describe_snapshots and request.scope is not None and response.status == 200:
            filtered = filter_describe_snapshots(
                response.body, request.form(), self.accounts.account_for(request), request.scope.region
            )
            response = _with_body(response, filtered)
        ec2_action = (
            request.form().get("Action") if request.scope and request.scope.service == "ec2" else None
        )
        if ec2_action in ec2_fleets.HANDLED and request.scope is not None and response.status == 200:
            stamped = ec2_fleets.with_create_times(
                response.body, str(ec2_action), self.accounts.account_for(request), request.scope.region
            )
            response = _with_body(response, stamped)
        if method == "POST" and split.path == _MOTO_RESET_PATH and self._on_moto_reset is not None:
            self._on_moto_reset()
        return response

    def _field_answer(self, request: WireRequest) -> WireResponse | None:
        """Answers AWS gives where moto would answer otherwise (see `vigilare_sandbox.field`)."""
        assert request.scope is not None
        account_id = self.accounts.account_for(request)
        service = request.scope.service
        now = datetime.now(UTC)
        with self.fake.state.lock:
            account = self.fake.state.account(account_id)
            denied = field.policy_denial(request, account, self.accounts.principal_arn(request, account_id))
            if denied is not None:
                return denied
            if service == "monitoring":
                return field.cloudwatch_period_refusal(request, now)
            if service == "cloudtrail":
                return field.organization_trail_status(request, account)
            if service == "iam" and request.form().get("Action") == "GenerateCredentialReport":
                # moto must know a report was asked for, or it refuses GetCredentialReport.
                self._upstream_generate_report(request)
                return field.generate_credential_report(account, now)
            if service == "ce" and request.target == field.CE_COST_AND_USAGE_TARGET and account.cost_lines:
                return field.cost_and_usage(account, request.json_body(), now.date())
        return None

    def _upstream_generate_report(self, request: WireRequest) -> None:
        headers = [(name, value) for name, value in request.headers.items() if name not in _HOP_BY_HOP]
        self._upstream.send(request.method, _raw_path(request), headers, request.body)

    def _field_rewrite(self, request: WireRequest, response: WireResponse) -> WireResponse:
        assert request.scope is not None
        service = request.scope.service
        action = request.form().get("Action") if service in ("iam",) else None
        if service not in ("iam", "cloudtrail"):
            return response
        account_id = self.accounts.account_for(request)
        with self.fake.state.lock:
            account = self.fake.state.account(account_id)
            if service == "cloudtrail":
                body = field.with_organization_trails(request, account, response.body)
            elif action == "GetAccountSummary":
                body = field.account_summary(response.body, account)
            elif action == "GetCredentialReport":
                fresh = fill_key_use(add_root_row(response.body, account_id, account), account_id)
                body = field.credential_report_copy(account, fresh)
            else:
                return response
        return _with_body(response, body)


def _raw_path(request: WireRequest) -> str:
    query = urlencode([(key, value) for key, values in request.query.items() for value in values])
    return f"{request.path}?{query}" if query else request.path
