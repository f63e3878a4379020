"""Prometheus metrics: the families every process records, and how they are served.

Every label has a small, fixed set of values (scan triggers and outcomes, AWS service and
operation names, channel types, route templates): no tenant, account, user or resource id is ever
a label, so ``/metrics`` says how the service runs and nothing about whose data it holds.

Several processes (``vigilare worker --processes N``, ``vigilare serve --workers N``) share one
view through prometheus-client's multi-process mode: the command that starts them points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before any of them imports this module, each process
writes its samples there, and whoever serves ``/metrics`` adds them up. A single process without
that variable keeps its samples in memory.

Recording is cheap enough for every request (a counter increment is a few microseconds); the
exposition is built only when ``/metrics`` is scraped.
"""

from __future__ import annotations

import hmac
import os
import resource
import shutil
import tempfile
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; from a fast AWS call to a slow scan.
_DURATIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 240)
_LAGS = (0.1, 0.5, 1, 2, 5, 10, 15, 30, 45, 60, 120, 300, 600, 1800)

SCANS = Counter("vigilare_scans", "Scans finished, by trigger and outcome.", ["trigger", "outcome"])
SCAN_DURATION = Histogram(
    "vigilare_scan_duration_seconds", "Scan duration, start to record.", ["trigger"], buckets=_DURATIONS
)
AWS_CALLS = Counter(
    "vigilare_aws_calls",
    "AWS API calls, by service, operation and outcome (ok, throttled, denied, error).",
    ["service", "operation", "outcome"],
)
SCAN_AWS_CALLS = Histogram(
    "vigilare_scan_aws_calls",
    "AWS API calls one scan made, by trigger (a steady-state scheduled scan: the data that fell due).",
    ["trigger"],
    buckets=(5, 10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500),
)
FULL_SCANS_RUNNING = Gauge(
    "vigilare_full_scans_running",
    "Full scans (every key in every region) running, summed over live worker processes.",
    multiprocess_mode="livesum",
)
FULL_SCANS_WAITING = Gauge(
    "vigilare_full_scans_waiting",
    "Full scans waiting for a slot (VIGILARE_SCAN_FULL_CONCURRENCY per process), their lease held.",
    multiprocess_mode="livesum",
)
QUEUE_DEPTH = Gauge(
    "vigilare_queue_depth",
    "Jobs waiting in the queue (read at each scheduler tick).",
    multiprocess_mode="mostrecent",
)
QUEUE_OLDEST_WAIT = Gauge(
    "vigilare_queue_oldest_wait_seconds",
    "How long the oldest job due in the queue has waited (read at each scheduler tick).",
    multiprocess_mode="mostrecent",
)
JOB_WAIT = Histogram(
    "vigilare_job_wait_seconds",
    "Time from when a job was due to when a worker started it.",
    ["job"],
    buckets=_LAGS,
)
JOBS = Counter("vigilare_jobs", "Job runs, by job and outcome (ok, retry, failed).", ["job", "outcome"])
SCHEDULER_TICK = Histogram(
    "vigilare_scheduler_tick_seconds",
    "Time one scheduler tick's dispatch takes (its statements; its commit and hand-off to the queue follow).",
    buckets=_DURATIONS,
)
SCHEDULER_START_LAG = Histogram(
    "vigilare_scheduler_start_lag_seconds",
    "Time from the slot a scheduled scan was due at to its dispatch.",
    buckets=_LAGS,
)
SCHEDULER_DISPATCHED = Counter("vigilare_scheduler_dispatched", "Scheduled scans dispatched.")
SCHEDULER_SKIPPED_SLOTS = Counter(
    "vigilare_scheduler_skipped_slots", "Slots passed without their scan because a tick came late."
)
SCHEDULER_NOT_DISPATCHED = Counter(
    "vigilare_scheduler_not_dispatched",
    "Due accounts given no scan: busy (previous scan unfinished), blocked (billing), duplicate (slot taken).",
    ["reason"],
)
PROCESS_MEMORY = Gauge(
    "vigilare_process_resident_memory_bytes",
    "Resident memory of the largest live Vigilare process (each records its own after every job and "
    "when it serves /metrics).",
    multiprocess_mode="livemax",
)
PERIODIC_RUNS = Counter(
    "vigilare_periodic_runs",
    "Periodic jobs fired in this process: ran (claimed the period) or skipped (another process did).",
    ["job", "result"],
)
DELIVERIES = Counter(
    "vigilare_alert_deliveries",
    "Alert delivery attempts, by channel and outcome (delivered, retry, failed).",
    ["channel", "outcome"],
)
HTTP_REQUESTS = Counter(
    "vigilare_http_requests",
    "HTTP requests, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "vigilare_http_request_duration_seconds", "HTTP request duration, by route template.", ["route"]
)
INGEST_EVENTS = Counter(
    "vigilare_ingest_events",
    "Pushed AWS events received, by outcome (accepted, duplicate, refused); and processed (applied, failed).",
    ["outcome"],
)


def resident_memory_bytes() -> int:
    """This process's resident memory now (Linux ``/proc``), else its peak (``getrusage``)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def record_process_memory() -> None:
    PROCESS_MEMORY.set(resident_memory_bytes())


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess() -> str:
    """Point this process and the processes it starts at a fresh folder for their samples.

    Call before starting the processes (and before anything imports prometheus-client in
    them). Returns the folder; an operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept as it is.
    """
    existing = multiprocess_dir()
    if existing:
        os.makedirs(existing, exist_ok=True)
        return existing
    folder = tempfile.mkdtemp(prefix="vigilare-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    return folder


def remove_multiprocess_dir(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (counters and histograms keep their totals)."""
    if multiprocess_dir():
        _multiprocess.mark_process_dead(pid)


def exposition() -> bytes:
    """The text format of every sample: of all processes in multi-process mode, else of this one."""
    record_process_memory()
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


CONTENT_TYPE = CONTENT_TYPE_LATEST


def token_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time. No token set: open."""
    if not token:
        return True
    if not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization[len("Bearer ") :].encode(), token.encode())


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """``/metrics`` on its own port, in a thread (a worker has no HTTP server of its own)."""

    def __init__(self, server: WSGIServer) -> None:
        self._server = server
        self.port = server.server_port
        self._thread = threading.Thread(target=server.serve_forever, name="vigilare-metrics", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(host: str, port: int, token: str) -> MetricsServer:
    """Serve ``GET /metrics`` on ``host:port`` (port 0: any free port, see ``.port``)."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: /metrics is the only path here\n"]
        if not token_matches(environ.get("HTTP_AUTHORIZATION"), token):
            start_response(
                "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")]
            )
            return [b"a bearer token is required\n"]
        body = exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]

    server = make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    return MetricsServer(server)
