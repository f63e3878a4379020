"""A local STS stand-in that checks the external id (moto does not) and can lie about the account.

It speaks STS's query protocol (form-encoded POST, XML answers, AWS's error shape), so the real
aiobotocore client talks to it unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


class FakeSts:
    def __init__(
        self,
        *,
        external_id: str,
        identity_account: str | None = None,
        expires_in: timedelta = timedelta(hours=1),
    ) -> None:
        self.external_id = external_id
        self.expires_in = expires_in
        self.identity_account = identity_account
        """Account GetCallerIdentity answers; None means the account of the assumed role (honest)."""
        self.assumed_role_account: str | None = None
        self.requests: list[dict[str, str]] = []

    def handle(self, form: dict[str, str]) -> tuple[int, str]:
        self.requests.append(form)
        action = form.get("Action")
        if action == "AssumeRole":
            if form.get("ExternalId") != self.external_id:
                return _error(
                    403,
                    "AccessDenied",
                    f"User is not authorized to perform: sts:AssumeRole on {form.get('RoleArn')}",
                )
            self.assumed_role_account = form["RoleArn"].split(":")[4]
            expiration = (datetime.now(UTC) + self.expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 200, (
                f'<AssumeRoleResponse xmlns="{NAMESPACE}"><AssumeRoleResult><Credentials>'
                "<AccessKeyId>ASIAFAKEFAKEFAKEFAKE</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>"
                f"<SessionToken>token</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
                f"<AssumedRoleUser><AssumedRoleId>AROAFAKE:{form.get('RoleSessionName')}</AssumedRoleId>"
                f"<Arn>arn:aws:sts::{self.assumed_role_account}:assumed-role/x/y</Arn></AssumedRoleUser>"
                "</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>"
            )
        if action == "GetCallerIdentity":
            account = self.identity_account or self.assumed_role_account or "000000000000"
            return 200, (
                f'<GetCallerIdentityResponse xmlns="{NAMESPACE}"><GetCallerIdentityResult>'
                f"<Arn>arn:aws:sts::{account}:assumed-role/x/y</Arn><UserId>AROAFAKE:y</UserId>"
                f"<Account>{account}</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
            )
        return _error(400, "InvalidAction", f"Could not find operation {action}")


def _error(status: int, code: str, message: str) -> tuple[int, str]:
    return status, (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>3</RequestId></ErrorResponse>"
    )


@contextmanager
def running(fake: FakeSts) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = {name: values[0] for name, values in parse_qs(body).items()}
            status, xml = fake.handle(form)
            payload = xml.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
