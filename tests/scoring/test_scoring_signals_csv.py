"""The streaming CSV export of signals."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.support.scoring import SignalRow
from vigilare.exports.signals_csv import CSV_COLUMNS, neutralise_formula, stream_signals_csv

DETECTED = datetime(2026, 5, 22, 10, 30, tzinfo=UTC)


async def _aiter(signals: list[SignalRow]) -> AsyncIterator[SignalRow]:
    for signal in signals:
        yield signal


async def _export(signals: list[SignalRow], **kwargs: int) -> str:
    return "".join([chunk async for chunk in stream_signals_csv(_aiter(signals), **kwargs)])


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _signal(n: int = 0, /, **fields: object) -> SignalRow:
    base: dict[str, object] = {
        "scenario": "exposure",
        "kind": "public_bucket_read",
        "severity": "HIGH",
        "title": "Bucket is publicly readable",
        "resource": f"bucket-{n}",
        "region": "us-east-1",
        "description": "Anyone can list and read objects.",
        "signal_id": f"01JSIGNAL{n:017}",
        "detected_at": DETECTED,
        "resolved_at": None,
    }
    base.update(fields)
    return SignalRow(**base)  # type: ignore[arg-type]


async def test_header_then_one_row_per_signal() -> None:
    resolved = DETECTED + timedelta(hours=2)
    rows = _parse(await _export([_signal(1), _signal(2, resolved_at=resolved)]))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1] == [
        "01JSIGNAL00000000000000001",
        "exposure",
        "public_bucket_read",
        "HIGH",
        "Bucket is publicly readable",
        "Anyone can list and read objects.",
        "us-east-1",
        "bucket-1",
        "2026-05-22T10:30:00+00:00",
        "",
        "scan",
    ]
    assert rows[2][-2] == "2026-05-22T12:30:00+00:00"
    assert len(rows) == 3


async def test_empty_export_is_just_the_header() -> None:
    assert await _export([]) == ",".join(CSV_COLUMNS) + "\r\n"


async def test_rfc4180_quoting_round_trips_awkward_text() -> None:
    awkward = 'He said "stop", then\r\nleft; a,b'
    text = await _export([_signal(description=awkward, title="comma, inside")])
    assert text.endswith("\r\n")
    assert '"He said ""stop"", then\r\nleft; a,b"' in text
    row = _parse(text)[1]
    assert row[4] == "comma, inside"
    assert row[5] == awkward


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
async def test_formula_cells_are_neutralised_in_every_text_column(payload: str) -> None:
    text_columns = ("signal_id", "scenario", "kind", "severity", "title", "description", "region", "resource")
    fields: dict[str, object] = dict.fromkeys(text_columns, payload)
    row = _parse(await _export([_signal(**fields)]))[1]
    assert row[:8] == ["'" + payload] * 8


@pytest.mark.parametrize(
    "payload",
    [
        " =1+1",  # spreadsheets skip leading whitespace before a formula
        "\n=1+1",
        "\xa0=1+1",  # no-break space
        "\u3000=1+1",  # ideographic space
        " \n\xa0\t=1+1",
        "\ufeff=1+1",  # a byte order mark, invisible
        "\u200b=1+1",  # zero-width space
        '\uff1dHYPERLINK("http://x")',  # full-width = sign
        "\uff0b1+1",  # full-width +
        "\uff0d2+3",  # full-width -
        "\uff20SUM(A1)",  # full-width @
        "\ufe66SUM(A1)",  # small = sign
        " \uff1d1",
    ],
    ids=repr,
)
def test_formulas_behind_whitespace_or_in_full_width_are_neutralised(payload: str) -> None:
    assert neutralise_formula(payload) == "'" + payload


@pytest.mark.parametrize(
    "value", ["bucket-1", "1=1", "a@b.example", "", "'quoted", " ", "\xa0plain", "\uff21"]
)
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert neutralise_formula(value) == value


async def test_timestamps_are_iso_8601_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    signals = [
        _signal(detected_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=eastern)),
        _signal(detected_at=datetime(2026, 1, 2, 3, 4, 5)),  # naive, as SQLite returns: taken as UTC
    ]
    rows = _parse(await _export(signals))
    assert [r[8] for r in rows[1:]] == ["2026-01-02T08:04:05+00:00", "2026-01-02T03:04:05+00:00"]


async def test_chunks_are_yielded_before_the_source_is_exhausted() -> None:
    produced = 0

    async def source() -> AsyncIterator[SignalRow]:
        nonlocal produced
        for n in range(100_000):
            produced += 1
            yield _signal(n)

    stream = stream_signals_csv(source(), flush_at=4096)
    first = await anext(stream)
    assert first.startswith(",".join(CSV_COLUMNS))
    assert produced < 100
    await stream.aclose()


async def test_exporting_100k_rows_keeps_memory_bounded() -> None:
    total_rows = 100_000

    async def source() -> AsyncIterator[SignalRow]:
        for n in range(total_rows):
            yield _signal(n, description="x" * 200)

    tracemalloc.start()
    try:
        chunks = 0
        rows = 0
        largest = 0
        async for chunk in stream_signals_csv(source()):
            chunks += 1
            rows += chunk.count("\r\n")
            largest = max(largest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == total_rows + 1
    assert chunks > 100
    assert largest < 70 * 1024
    # The whole export is ~40 MB of text; only a chunk or two may be alive at once.
    assert peak < 2 * 1024 * 1024
