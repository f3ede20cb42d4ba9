"""CSV cells a spreadsheet will not run as formulas (CSV/formula injection, OWASP).

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a ``'`` in front, so Excel, LibreOffice and Google Sheets show it as text instead of
evaluating it. Numbers are never touched (a numeric -3.5 stays -3.5), nor is text that is a
plain number (``"-3.5"``): a number cannot be a formula.

The rule is reversible: :func:`unquote_cell` (used by the CSV import) removes exactly the quote
:func:`safe_cell` adds, so an exported file re-imports as the same values. Text that already
began with quotes before a formula character gets one more quote on export and loses one on
import (``'=x`` -> ``''=x`` -> ``'=x``). A hand-made CSV cell ``'=x`` imports as ``=x``, as a
spreadsheet reads it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMULA_START", "safe_cell", "unquote_cell"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _dangerous(text: str) -> bool:
    return text.startswith(FORMULA_START) and _NUMBER.fullmatch(text) is None


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as written: text that would start a formula
    gets a leading ``'``; anything else (numbers, booleans, None) is returned unchanged."""
    if isinstance(value, str) and _dangerous(value.lstrip("'")):
        return "'" + value
    return value


def unquote_cell(text: str) -> str:
    """The inverse of :func:`safe_cell` for a cell read from a CSV file."""
    if text.startswith("'") and _dangerous(text.lstrip("'")):
        return text[1:]
    return text
