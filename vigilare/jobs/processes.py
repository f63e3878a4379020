"""``vigilare worker --processes N``: N arq worker processes under one supervisor.

A worker is CPU-bound on botocore's per-call work, so one process uses one core; the supervisor
starts one per core by default, restarts one that dies (waiting longer after each quick death, so
a worker that cannot start does not spin), and on SIGTERM or SIGINT asks every worker to finish
its jobs and stop (arq's own graceful shutdown), killing any still running after the grace time.

Periodic jobs (the scheduler's tick) fire in every process but run once per period across all
processes and machines (``vigilare.jobs.periodic``). With a metrics port, the supervisor serves
``/metrics`` with the samples of all its workers added up (prometheus-client's multi-process mode:
it points ``PROMETHEUS_MULTIPROC_DIR`` at a folder of its own before starting them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from vigilare import metrics
from vigilare.config import Settings
from vigilare.jobs.worker import create_worker

logger = logging.getLogger("vigilare.worker")

STOP_GRACE_SECONDS = 30.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
RESTART_DELAY_MAX = 30.0


@dataclass
class _Slot:
    number: int
    process: BaseProcess
    started: float
    delay: float = 1.0


def default_processes() -> int:
    """One per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_one(settings: Settings) -> None:
    """One arq worker in this process, until it is told to stop."""
    create_worker(settings).run()


def _die_with(supervisor: int) -> None:
    """End this worker when its supervisor ends, however it ends (``kill -9`` included): no
    worker may outlive the command an operator stopped and go on taking jobs."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: watch for the parent instead

        def watch() -> None:
            while os.getppid() == supervisor:
                time.sleep(1)
            os._exit(1)

        threading.Thread(target=watch, name="vigilare-supervisor-watch", daemon=True).start()
    if os.getppid() != supervisor:  # it died before the line above took effect
        os._exit(1)


def _child(settings: Settings, number: int, supervisor: int) -> None:
    _die_with(supervisor)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s %(name)s[worker {number}]: %(message)s"
    )
    # The worker's start-up hooks load the scenario plugins (the supervisor checked them already).
    run_one(settings)


def run_workers(settings: Settings, processes: int, metrics_host: str = "", metrics_port: int = 0) -> int:
    """Supervise ``processes`` worker processes until SIGTERM/SIGINT; returns the exit code."""
    created = metrics.multiprocess_dir() is None
    folder = metrics.prepare_multiprocess()
    server = (
        metrics.serve_metrics(metrics_host, metrics_port, settings.metrics_token) if metrics_port else None
    )
    if server is not None:
        logger.info(
            "metrics of %d worker processes on http://%s:%d/metrics", processes, metrics_host, server.port
        )
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def ask_to_stop(signum: int, _frame: Any) -> None:
        logger.info("signal %d: stopping %d worker processes", signum, processes)
        stop.set()

    previous = {sig: signal.signal(sig, ask_to_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start(number: int, delay: float = 1.0) -> _Slot:
        process = context.Process(
            target=_child, args=(settings, number, os.getpid()), name=f"vigilare-worker-{number}"
        )
        process.start()
        logger.info("worker process %d started (pid %s)", number, process.pid)
        return _Slot(number, process, time.monotonic(), delay)

    slots = [start(number) for number in range(1, processes + 1)]
    try:
        while not stop.wait(0.5):
            for index, slot in enumerate(slots):
                if slot.process.is_alive():
                    continue
                assert slot.process.pid is not None
                metrics.mark_process_dead(slot.process.pid)
                lived = time.monotonic() - slot.started
                # A worker that dies at once is waited on longer each time; one that ran a while restarts now.
                delay = 1.0 if lived > 60 else min(slot.delay * 2, RESTART_DELAY_MAX)
                logger.error(
                    "worker process %d (pid %s) exited with %s after %.0f s; restarting in %.0f s",
                    slot.number,
                    slot.process.pid,
                    slot.process.exitcode,
                    lived,
                    delay,
                )
                if stop.wait(delay):
                    break
                slots[index] = start(slot.number, delay)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(slots)
        if server is not None:
            server.shutdown()
        if created:
            metrics.remove_multiprocess_dir(folder)
    return 0


def _stop_all(slots: list[_Slot]) -> None:
    for slot in slots:
        if slot.process.is_alive() and slot.process.pid is not None:
            os.kill(slot.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for slot in slots:
        slot.process.join(timeout=max(deadline - time.monotonic(), 0.1))
        if slot.process.is_alive():
            logger.warning("worker process %d did not stop in time: killed", slot.number)
            slot.process.kill()
            slot.process.join(timeout=5)
