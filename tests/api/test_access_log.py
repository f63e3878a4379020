"""``vigilare serve``'s access line (``vigilare.api.accesslog``) is uvicorn's, byte for byte."""

from __future__ import annotations

import logging

import pytest
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from vigilare.api.accesslog import DEFAULT_FORMAT, AccessFormatter, log_config


def _record(
    level: int, status: int, path: str = "/accounts/123456789012/signals?limit=50"
) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        level,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.9:51234", "GET", path, "1.1", status),
        None,
    )


@pytest.mark.parametrize("status", [200, 204, 401, 404, 418, 429, 503, 599])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.DEBUG])
def test_the_access_line_is_uvicorns(status: int, level: int) -> None:
    ours = AccessFormatter(fmt=DEFAULT_FORMAT, use_colors=False)
    theirs = UvicornAccessFormatter(fmt=DEFAULT_FORMAT, use_colors=False)
    record = _record(level, status)
    assert ours.format(record) == theirs.format(_record(level, status))


def test_a_line() -> None:
    line = AccessFormatter(fmt=DEFAULT_FORMAT, use_colors=False).format(_record(logging.INFO, 200))
    assert (
        line == 'INFO:     203.0.113.9:51234 - "GET /accounts/123456789012/signals?limit=50 HTTP/1.1" 200 OK'
    )


def test_colours_or_an_operators_format_are_left_to_uvicorn() -> None:
    for fmt, colours in ((DEFAULT_FORMAT, True), ("%(client_addr)s %(status_code)s", False)):
        ours = AccessFormatter(fmt=fmt, use_colors=colours)
        theirs = UvicornAccessFormatter(fmt=fmt, use_colors=colours)
        assert ours.format(_record(logging.INFO, 404)) == theirs.format(_record(logging.INFO, 404))


def test_serve_configures_uvicorn_with_it() -> None:
    config = log_config()
    assert config["formatters"]["access"]["()"] == "vigilare.api.accesslog.AccessFormatter"
    assert config["formatters"]["access"]["fmt"] == DEFAULT_FORMAT
