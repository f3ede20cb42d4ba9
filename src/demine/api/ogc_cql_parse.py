"""CQL2 filters, parsing: ``cql2-text`` and ``cql2-json`` into a syntax tree (pygeofilter's
``ast``), which :mod:`demine.api.ogc_cql_eval` turns into a predicate over records.

This module only reads the filter: its size limit (``MAX_FILTER_BYTES``), the workarounds for
pygeofilter 0.4 (the function forms of the temporal operators, INTERVAL with open ends, the
bbox literal, T_INTERSECTS, strict RFC 3339 timestamps, no debug output) and the one error a
bad filter gets (:class:`FilterError`, a 400). It knows nothing of records, kinds or roles.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pygeofilter.parsers.cql2_json.parser as _json_parser
import pygeofilter.parsers.cql2_text.parser as _text_parser
import pygeofilter.parsers.iso8601 as _iso8601
from pygeofilter import ast
from pygeofilter.cql2 import TEMPORAL_PREDICATES_MAP
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text


class TimeIntersects(ast.TimeOverlaps):  # type: ignore[misc]
    """T_INTERSECTS: pygeofilter 0.4 maps it onto T_OVERLAPS, which means something else."""


# the fix is registered once, for both parsers (they share this table)
TEMPORAL_PREDICATES_MAP["t_intersects"] = TimeIntersects

# Limits on the work one filter may ask for (docs/ogc-api.md, "Limits"); the tree's size is
# bounded where it is evaluated (ogc_cql_eval.MAX_FILTER_NODES)
MAX_FILTER_BYTES = 8192  # the filter's text, UTF-8


def _rfc3339(value: Any) -> datetime:
    """A timestamp of a filter, strictly RFC 3339 / ISO 8601.

    pygeofilter 0.4 hands timestamps to ``dateparser``, which takes 20-90 ms each (a few hundred
    in one filter hold a worker for seconds) and reads free text such as 'next week'."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# both parsers look the function up in their module when they meet a timestamp
_iso8601.parse_datetime = _rfc3339
_json_parser.parse_datetime = _rfc3339

# pygeofilter builds its Lark parser with debug=True, which prints the whole parser state stack
# (about 10 kB) to stdout for every filter whose values cannot be read: a log flood on demand
_lalr: Any = _text_parser.parser
for _attr in ("parser", "parser", "parser"):  # Lark -> frontend -> LALR_Parser -> _Parser
    _lalr = getattr(_lalr, _attr, None)
if _lalr is not None and hasattr(_lalr, "debug"):
    _lalr.debug = False


class FilterError(ValueError):
    """A filter that cannot be parsed or names something it may not."""


# --- cql2-text: the function forms of the temporal operators --------------------------------

_T_FUNC = re.compile(r"\bT_[A-Za-z]+\s*\(", re.IGNORECASE)
_INTERVAL = re.compile(r"\bINTERVAL\s*\(", re.IGNORECASE)
_OPEN_START = "0001-01-01T00:00:00Z"
_OPEN_END = "9999-12-31T23:59:59Z"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")  # fullmatch


def _split_call(text: str, start: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose '(' is at ``start``, and the index after ')'."""
    depth = 0
    args: list[str] = []
    cur = start + 1
    i = start
    quote = False
    while i < len(text):
        c = text[i]
        if quote:
            if c == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    i += 2
                    continue
                quote = False
        elif c == "'":
            quote = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(text[cur:i])
                return args, i + 1
        elif c == "," and depth == 1:
            args.append(text[cur:i])
            cur = i + 1
        i += 1
    raise FilterError("unbalanced parentheses in the filter")


MAX_REWRITE_DEPTH = 32  # T_ functions inside T_ functions: each level rescans its arguments


def _rewrite(text: str, depth: int = 0) -> str:
    """CQL2 text as pygeofilter 0.4 reads it: ``T_AFTER(a, b)`` becomes ``(a T_AFTER b)`` and
    ``INTERVAL('2024-01-01', '..')`` gets full date-times (open ends as far-away instants)."""
    if depth > MAX_REWRITE_DEPTH:
        raise FilterError("the filter is nested too deeply")
    out: list[str] = []
    i = 0
    quote = False
    while i < len(text):
        c = text[i]
        if quote:
            out.append(c)
            if c == "'":
                quote = False
            i += 1
            continue
        if c == "'":
            quote = True
            out.append(c)
            i += 1
            continue
        m = _T_FUNC.match(text, i) if (i == 0 or not text[i - 1].isalnum()) else None
        if m:
            name = m.group(0).rstrip("( \t\n").upper()
            args, end = _split_call(text, m.end() - 1)
            if len(args) != 2:
                raise FilterError(f"{name} takes two arguments")
            a, b = (_rewrite(x.strip(), depth + 1) for x in args)
            out.append(f"({a} {name} {b})")
            i = end
            continue
        m = _BBOX.match(text, i) if (i == 0 or not text[i - 1].isalnum()) else None
        if m:
            args, end = _split_call(text, m.end() - 1)
            try:
                nums = [float(a) for a in args]
            except ValueError:
                nums = []
            if len(nums) in (4, 6):  # the CQL2 bbox literal, as a polygon
                ring = _bbox_polygon(nums)["coordinates"][0]
                out.append("POLYGON((" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + "))")
                i = end
                continue
        m = _INTERVAL.match(text, i) if (i == 0 or not text[i - 1].isalnum()) else None
        if m:
            args, end = _split_call(text, m.end() - 1)
            if len(args) != 2:
                raise FilterError("INTERVAL takes two arguments")
            parts = []
            for pos, a in enumerate(args):
                v = a.strip()
                if not (len(v) >= 2 and v[0] == "'" and v[-1] == "'"):
                    raise FilterError("INTERVAL takes two quoted instants")
                v = v[1:-1]
                if v in ("..", ""):
                    v = _OPEN_START if pos == 0 else _OPEN_END
                elif _DATE_ONLY.fullmatch(v):
                    v += "T00:00:00Z" if pos == 0 else "T23:59:59Z"
                parts.append(f"'{v}'")
            out.append(f"INTERVAL({parts[0]}, {parts[1]})")
            i = end
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _bbox_polygon(b: list[Any]) -> dict[str, Any]:
    if len(b) == 6:
        b = [b[0], b[1], b[3], b[4]]
    if len(b) != 4 or not all(isinstance(v, (int, float)) for v in b):
        raise FilterError("a bbox takes 4 or 6 numbers")
    x0, y0, x1, y1 = (float(v) for v in b)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _fix_json(doc: Any, depth: int = 0) -> Any:
    """pygeofilter 0.4 reads a cql2-json ``{"bbox": [minx, miny, maxx, maxy]}`` with its axes
    mixed up: give it the box as a GeoJSON polygon instead."""
    if depth > 200:
        raise FilterError("the filter is nested too deeply")
    if isinstance(doc, dict):
        if set(doc) == {"bbox"} and isinstance(doc["bbox"], list):
            return _bbox_polygon(doc["bbox"])
        return {k: _fix_json(v, depth + 1) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_fix_json(v, depth + 1) for v in doc]
    return doc


_BBOX = re.compile(r"\bBBOX\s*\(", re.IGNORECASE)


# --- parse -------------------------------------------------------------------------------


def parse_filter(text: str, lang: str) -> Any:
    """The syntax tree of a ``cql2-text`` or ``cql2-json`` filter, or FilterError (a 400)
    saying what is wrong."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILTER_BYTES:
        raise FilterError(
            f"the filter is {size} bytes long; the limit is {MAX_FILTER_BYTES} bytes "
            "(MAX_FILTER_BYTES)"
        )
    try:
        if lang == "cql2-json":
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError as e:
                raise FilterError(f"the cql2-json filter is not JSON: {e}") from None
            if not isinstance(doc, dict):
                raise FilterError("a cql2-json filter is a JSON object")
            node = parse_json(_fix_json(doc))
        elif lang == "cql2-text":
            node = parse_text(_rewrite(text))
        else:
            raise FilterError(f"unsupported filter-lang {lang!r}: use cql2-text or cql2-json")
    except FilterError:
        raise
    except RecursionError:
        raise FilterError("the filter is nested too deeply") from None
    except Exception as e:  # the parsers raise many kinds of error for bad input
        msg = str(e).strip().splitlines()
        raise FilterError(
            f"cannot parse the {lang} filter: {msg[0] if msg else type(e).__name__}"
        ) from None
    return node
