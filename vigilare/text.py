"""Checks on text users send that ends up in URLs, email headers and spreadsheets.

Control characters (tab, CR, LF, the rest of C0 and C1, DEL) and the Unicode line and paragraph
separators are invisible where people read text, yet they split email headers and HTTP request
lines and are dropped or kept inconsistently by URL parsers. Names and URLs carry none of them.
"""

from __future__ import annotations

import unicodedata

from vigilare.errors import BadRequest

# Cc: C0 controls (tab, LF, CR, ...), DEL and C1 controls; Zl, Zp: U+2028 and U+2029.
_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) in _BREAKING_CATEGORIES for char in value)


def one_line(value: str) -> str:
    """``value`` with every control character or line break replaced by a space, for headers."""
    return "".join(" " if unicodedata.category(char) in _BREAKING_CATEGORIES else char for char in value)


def refuse_control_characters(field: str, value: str) -> str:
    """``value`` unchanged, or a 400 naming ``field`` when it holds a control character."""
    if has_control_characters(value):
        raise BadRequest(f"{field}: must not contain control characters (tab, CR, LF, ...)")
    return value
