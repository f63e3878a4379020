"""Stream an account's signals as CSV, safe to open in a spreadsheet.

RFC 4180 quoting comes from the ``csv`` module (CRLF line ends, quotes doubled). Cells that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return,
as OWASP lists; also behind leading whitespace, or in full-width forms) get a leading single
quote: titles, resource names and descriptions carry text from the customer's AWS account, which
an attacker can shape. Rows are written into a small buffer that is handed out as soon as it
passes ``flush_at`` characters, so an export of any size never sits in memory.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import AsyncGenerator, AsyncIterable

from vigilare.signals.view import CSV_COLUMNS, StoredSignal, signal_view

__all__ = ["CSV_COLUMNS", "neutralise_formula", "signal_csv_cells", "stream_signals_csv"]

DEFAULT_FLUSH_AT = 64 * 1024
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_SIGNS = ("=", "+", "-", "@")
# How far into a cell to look for a formula sign behind whitespace; a cell whose first 256
# characters are all whitespace is not a formula any spreadsheet runs.
_LOOK_AHEAD = 256
# Controls and format marks (a byte order mark, a zero-width space): skipped like whitespace.
_INVISIBLE = ("Cc", "Cf")


def neutralise_formula(value: str) -> str:
    """Prefix a single quote to text a spreadsheet would otherwise evaluate as a formula.

    Spreadsheets skip leading whitespace (space, no-break space, line feed, ...) and invisible
    marks before a formula and read full-width signs (U+FF1D, U+FF0B, U+FF0D, U+FF20) as the ASCII
    ones, so the sign is looked for past the first and after NFKC normalisation of the second.
    """
    if value.startswith(_FORMULA_TRIGGERS):
        return f"'{value}"
    for char in value[:_LOOK_AHEAD]:
        if char.isspace() or unicodedata.category(char) in _INVISIBLE:
            continue
        return f"'{value}" if unicodedata.normalize("NFKC", char).startswith(_FORMULA_SIGNS) else value
    return value


def signal_csv_cells(signal: StoredSignal) -> list[str]:
    """The signal's ``CSV_COLUMNS`` (from its output view), each safe to open in a spreadsheet."""
    return [neutralise_formula(cell) for cell in signal_view(signal).csv_cells()]


async def stream_signals_csv(
    signals: AsyncIterable[StoredSignal], *, flush_at: int = DEFAULT_FLUSH_AT
) -> AsyncGenerator[str, None]:
    """Yield the CSV text in chunks of about ``flush_at`` characters: the header, then one row per signal."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the default dialect is RFC 4180: CRLF, minimal quoting, "" escapes
    writer.writerow(CSV_COLUMNS)
    async for signal in signals:
        writer.writerow(signal_csv_cells(signal))
        if buffer.tell() >= flush_at:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    # The header alone is still a valid (empty) export.
    yield buffer.getvalue()
