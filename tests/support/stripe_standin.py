"""A local Stripe for a `vigilare serve` subprocess (respx only reaches this process's clients).

Answers what Vigilare calls, in Stripe's wire format (https://docs.stripe.com/api): creating a
customer (``POST /v1/customers``), a Checkout Session (``POST /v1/checkout/sessions``) and a
Customer Portal session (``POST /v1/billing_portal/sessions``); anything else is Stripe's 404 error
object.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _object(path: str) -> dict[str, Any] | None:
    suffix = uuid.uuid4().hex[:14]
    if path == "/v1/customers":
        return {"id": f"cus_{suffix}", "object": "customer"}
    if path == "/v1/checkout/sessions":
        return {
            "id": f"cs_test_{suffix}",
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/cs_test_{suffix}",
        }
    if path == "/v1/billing_portal/sessions":
        return {
            "id": f"bps_{suffix}",
            "object": "billing_portal.session",
            "url": f"https://billing.stripe.test/p/session/{suffix}",
        }
    return None


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        found = _object(self.path.split("?")[0])
        status = 200 if found else 404
        body = found or {
            "error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({self.path})"}
        }
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def running_stripe_standin() -> Iterator[str]:
    """The stand-in on a free loopback port; yields its base URL (``VIGILARE_STRIPE_API_BASE``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
