"""Runs the AWS stand-in for the benchmark in its own process: the sandbox (moto + fakes) behind a
replaying server with a fixed latency. Prints the replay endpoint, then serves until stdin closes."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bench.replay_aws import ReplayAws
from vigilare_sandbox import Sandbox


async def main(latency_ms: float) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with Sandbox() as sandbox:
        replay = ReplayAws(upstream=sandbox.endpoint_url, latency_ms=latency_ms)
        runner, url = await replay.start()
        print(url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin
        print(f"calls={replay.calls} recorded={len(replay.recorded)}", file=sys.stderr, flush=True)
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=50.0)
    asyncio.run(main(parser.parse_args().latency_ms))
