"""Running ``vigilare`` commands as real subprocesses, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec

from tests.support.net import free_port


def vigilare_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGILARE_")}
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigilare", *args],
        env=vigilare_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerProcess:
    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def wait_for_output(self, needle: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert time.monotonic() < deadline, f"{needle!r} not in server output:\n{self.text()}"
            time.sleep(0.05)
        return self.text()


def start_server(
    env: Mapping[str, str], *extra_args: str, timeout: float = 60, port: int | None = None
) -> ServerProcess:
    """`vigilare serve` on ``port`` (a free one by default), answering /healthz when this returns."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vigilare", "serve", "--host", "127.0.0.1", "--port", str(port), *extra_args],
        env=vigilare_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = ServerProcess(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                server._reader.join(timeout=5)
                raise AssertionError(f"vigilare serve exited with {process.returncode}:\n{server.text()}")
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server did not start:\n{server.text()}"
            time.sleep(0.1)
    except BaseException:
        stop(server.process)
        raise
    return server


@contextmanager
def serve(
    env: Mapping[str, str], *extra_args: str, timeout: float = 60, port: int | None = None
) -> Iterator[ServerProcess]:
    """`vigilare serve` on ``port`` (a free one by default), until the block ends."""
    server = start_server(env, *extra_args, timeout=timeout, port=port)
    try:
        yield server
    finally:
        stop(server.process)


def settings_env(settings: Any) -> dict[str, str]:
    """The ``VIGILARE_*`` (and AWS sandbox) environment of a subprocess configured as ``settings``."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "MOTO_"))}
    for field in msgspec.structs.fields(settings):
        value = getattr(settings, field.name)
        if value is not None and value != "":
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[f"VIGILARE_{field.name.upper()}"] = text
    return env


def start_worker(settings: Any, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`vigilare worker` configured as ``settings``, one worker process (stop it with terminate or
    SIGKILL); its output goes to ``log`` when given (see ``wait_for_text``)."""
    output = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (the child owns it)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "vigilare", "worker", "--processes", "1"],
            env=vigilare_env(settings_env(settings)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]


def wait_for_text(path: Path, needle: str, timeout: float = 60) -> None:
    """Wait until the file at ``path`` (a process's log) contains ``needle``."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(errors="replace") if path.exists() else ""
        if needle in text:
            return
        assert time.monotonic() < deadline, f"{needle!r} not in {path}:\n{text[-3000:]}"
        time.sleep(0.05)


def stop(process: subprocess.Popen[Any] | None, timeout: float = 20) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
