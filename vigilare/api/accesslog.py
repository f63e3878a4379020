"""The access log line of ``vigilare serve``: uvicorn's, written for a fraction of its cost.

uvicorn formats each access line through two formatters that each copy the log record and look the
status phrase up in ``http.HTTPStatus``: about 20 microseconds of the API's single thread per
request, a few percent of a listing's. ``AccessFormatter`` writes the same line directly (the same
text, byte for byte, tests/api/test_access_log.py); with colours, or a format of the operator's
own (``--log-config``), it leaves the line to uvicorn.
"""

from __future__ import annotations

import copy
import http
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

# uvicorn's own access format (``uvicorn.config.LOGGING_CONFIG``), the only one written here.
DEFAULT_FORMAT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
_PHRASES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


class AccessFormatter(UvicornAccessFormatter):
    """uvicorn's ``AccessFormatter``, with its default format and no colours written in one step."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if self.use_colors or self._fmt != DEFAULT_FORMAT or not isinstance(args, tuple) or len(args) != 5:
            return str(super().formatMessage(record))
        client_addr, method, full_path, http_version, status_code = args
        status = status_code if isinstance(status_code, int) else int(str(status_code))
        phrase = _PHRASES.get(status) or f"{status} "  # uvicorn: an unknown code has an empty phrase
        levelname = record.levelname
        return (
            f"{levelname}:{' ' * (8 - len(levelname))} {client_addr} - "
            f'"{method} {full_path} HTTP/{http_version}" {phrase}'
        )


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with this module's access formatter."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["()"] = f"{__name__}.AccessFormatter"
    return config
