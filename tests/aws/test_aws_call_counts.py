"""Each scan counts its own AWS calls (``vigilare_scan_aws_calls``), also when a process runs many
scans at once, each spreading its calls over tasks of its own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from vigilare.aws.calls import counted_call, counting_calls

CLIENT = SimpleNamespace(
    meta=SimpleNamespace(
        method_to_api_mapping={"list_buckets": "ListBuckets"},
        service_model=SimpleNamespace(service_name="s3"),
    )
)


async def _scan(calls: int) -> int:
    async def call() -> None:
        await asyncio.sleep(0)
        with counted_call(CLIENT, None, "list_buckets"):
            await asyncio.sleep(0)

    with counting_calls() as count:
        # A scan's calls run as tasks of their own (regions, collectors): they count for it.
        await asyncio.gather(*(asyncio.create_task(call()) for _ in range(calls)))
    return count.calls


async def test_concurrent_scans_each_count_only_their_own_calls():
    assert await asyncio.gather(_scan(3), _scan(17), _scan(0)) == [3, 17, 0]


def test_calls_outside_a_scan_count_for_no_scan():
    with counting_calls() as count:
        pass
    with counted_call(CLIENT, None, "list_buckets"):
        pass
    assert count.calls == 0
