"""CQL2 filters (OGC API - Features Part 3) over demine records.

Filters are parsed with pygeofilter (``cql2-text`` and ``cql2-json``) and evaluated here, on the
records, by a small interpreter of the syntax tree: comparisons, LIKE, IN, BETWEEN, IS NULL,
AND/OR/NOT, every spatial function (S_INTERSECTS ... S_CROSSES, with shapely) and every temporal
function (T_AFTER ... T_INTERSECTS, on date and date-time fields). A filter may only name the
properties the caller's role may read (the collection's queryables) and ``geometry``.

Work is bounded: a filter is at most ``MAX_FILTER_BYTES`` long and ``MAX_FILTER_NODES`` nodes, a
LIKE pattern at most ``MAX_LIKE_PATTERN`` characters, and LIKE is matched in linear time by
:mod:`demine.api.ogc_like` (never by a backtracking regular expression).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import orjson
import pygeofilter.parsers.cql2_json.parser as _json_parser
import pygeofilter.parsers.cql2_text.parser as _text_parser
import pygeofilter.parsers.iso8601 as _iso8601
import shapely
from pygeofilter import ast, values
from pygeofilter.cql2 import TEMPORAL_PREDICATES_MAP
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from demine.api.ogc_like import LikePatternError, compile_like
from demine.geo.crs import CRS84, to_crs84
from demine.model.kinds import Kind
from demine.model.schema import FieldSpec, FieldType, Record
from demine.services.access import can_read_field

GEOMETRY_NAMES = ("geometry", "geom")


class TimeIntersects(ast.TimeOverlaps):  # type: ignore[misc]
    """T_INTERSECTS: pygeofilter 0.4 maps it onto T_OVERLAPS, which means something else."""


# the fix is registered once, for both parsers (they share this table)
TEMPORAL_PREDICATES_MAP["t_intersects"] = TimeIntersects

# Limits on the work one filter may ask for (docs/ogc-api.md, "Limits").
MAX_FILTER_BYTES = 8192  # the filter's text, UTF-8
MAX_FILTER_NODES = 500  # conditions, values and list items of its syntax tree
MAX_LIKE_PATTERN = 256  # characters of one LIKE pattern


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


Predicate = Callable[[Record], bool]


def queryable_fields(kind: Kind, role: str) -> dict[str, FieldSpec]:
    return {f.name: f for f in kind.fields if can_read_field(f.access, role)}


_JSON_TYPES: dict[FieldType, dict[str, Any]] = {
    FieldType.TEXT: {"type": "string"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.REAL: {"type": "number"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.ENUM: {"type": "string"},
    FieldType.ENUM_LIST: {"type": "string"},
    FieldType.UUID: {"type": "string", "format": "uuid"},
}

_GEOMETRY_FORMAT = {
    "POINT": "geometry-point",
    "MULTIPOINT": "geometry-multipoint",
    "MULTIPOLYGON": "geometry-multipolygon",
    "MULTILINESTRING": "geometry-multilinestring",
}


def field_schema(f: FieldSpec) -> dict[str, Any]:
    s: dict[str, Any] = {"title": f.name, **_JSON_TYPES[f.type]}
    if f.description:
        s["description"] = f.description
    if f.type is FieldType.ENUM and f.choices:
        s["enum"] = list(f.choices)
    if f.type is FieldType.ENUM_LIST and f.choices:
        s["description"] = f"{f.description}; comma-separated values from: {', '.join(f.choices)}"
    if f.minimum is not None:
        s["minimum"] = f.minimum
    if f.maximum is not None:
        s["maximum"] = f.maximum
    if f.unit:
        s["x-ogc-unit"] = f.unit
    if f.derived:
        s["readOnly"] = True
    return s


def queryables_schema(kind: Kind, role: str, url: str) -> dict[str, Any]:
    """The JSON Schema of what this role may filter on in this collection."""
    props: dict[str, Any] = {}
    if kind.geometry_type:
        props["geometry"] = {
            "title": "geometry",
            "format": _GEOMETRY_FORMAT.get(kind.geometry_type, "geometry-any"),
        }
    for name, f in queryable_fields(kind, role).items():
        props[name] = field_schema(f)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": kind.title,
        "properties": props,
        "additionalProperties": False,
    }


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


# --- compile -----------------------------------------------------------------------------


def compile_filter(
    text: str, lang: str, kind: Kind, role: str, filter_crs: str = CRS84
) -> Predicate:
    """A predicate over records, or FilterError (a 400) saying what is wrong."""
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
    return _Compiler(kind, role, filter_crs).build(node)


_Value = Callable[[Record], Any]


class _Compiler:
    def __init__(self, kind: Kind, role: str, filter_crs: str) -> None:
        self.kind = kind
        self.fields = queryable_fields(kind, role)
        self.crs = filter_crs
        self.nodes = 0

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_FILTER_NODES:
            raise FilterError(
                f"the filter has more than {MAX_FILTER_NODES} nodes (conditions, values, list "
                f"items); the limit is {MAX_FILTER_NODES} (MAX_FILTER_NODES)"
            )

    def build(self, node: Any) -> Predicate:
        try:
            return self.cond(node)
        except RecursionError:
            raise FilterError("the filter is nested too deeply") from None

    # conditions
    def cond(self, node: Any) -> Predicate:
        self._count()
        if isinstance(node, ast.And):
            a, b = self.cond(node.lhs), self.cond(node.rhs)
            return lambda r: a(r) and b(r)
        if isinstance(node, ast.Or):
            a, b = self.cond(node.lhs), self.cond(node.rhs)
            return lambda r: a(r) or b(r)
        if isinstance(node, ast.Not):
            a = self.cond(node.sub_node)
            return lambda r: not a(r)
        if isinstance(node, ast.Include):
            keep = not node.not_
            return lambda r: keep
        if isinstance(node, bool):
            return lambda r: node
        if isinstance(node, ast.Comparison):
            return self.comparison(node)
        if isinstance(node, ast.Between):
            return self.between(node)
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.In):
            return self.in_(node)
        if isinstance(node, ast.IsNull):
            v = self.value(node.lhs)
            neg = bool(node.not_)
            return lambda r: (v(r) is None) != neg
        if isinstance(node, ast.TemporalPredicate):
            return self.temporal(node)
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self.spatial(node)
        if isinstance(node, ast.BBox):
            g = self.value(node.lhs)
            box = self._geom(_box(node.minx, node.miny, node.maxx, node.maxy))
            return lambda r: _intersects(g(r), box)
        if isinstance(node, ast.Attribute):
            v = self.value(node)
            return lambda r: v(r) is True
        raise FilterError(f"unsupported in filters: {_describe(node)}")

    def _geom(self, g: Any) -> Any:
        _finite(g, "in the filter")
        g = to_crs84(g, self.crs)
        _finite(g, "in CRS84 (outside the area of filter-crs)")
        return g

    # values
    def value(self, node: Any) -> _Value:
        self._count()
        if isinstance(node, ast.Attribute):
            return self.attribute(node.name)
        if isinstance(node, values.Geometry):
            try:
                g = self._geom(shapely.geometry.shape(node.geometry))
            except FilterError:
                raise
            except Exception as e:
                raise FilterError(f"bad geometry in the filter: {e}") from None
            return lambda r: g
        if isinstance(node, values.Envelope):
            g = self._geom(_box(node.x1, node.y1, node.x2, node.y2))
            return lambda r: g
        if isinstance(node, values.Interval):
            iv = (_instant(node.start, False), _instant(node.end, True))
            return lambda r: iv
        if isinstance(node, (str, int, float, bool, date, datetime)):
            lit = node
            return lambda r: lit
        if isinstance(node, ast.Function) and node.name.lower() in _FOLD:
            if len(node.arguments) != 1:
                raise FilterError(f"{node.name} takes one argument")
            inner = self.value(node.arguments[0])

            def fold(r: Record) -> Any:
                v = inner(r)
                return v.casefold() if isinstance(v, str) else v

            return fold
        raise FilterError(f"unsupported in filters: {_describe(node)}")

    def attribute(self, name: str) -> _Value:
        if name in GEOMETRY_NAMES and self.kind.geometry_type:
            return lambda r: r.geometry
        f = self.fields.get(name)
        if f is None:
            raise FilterError(
                f"{name!r} is not a queryable of this collection; the queryables are: "
                + ", ".join((["geometry"] if self.kind.geometry_type else []) + list(self.fields))
            )
        if f.type is FieldType.DATE:
            return lambda r: _to_date(r.properties.get(name))
        if f.type is FieldType.DATETIME:
            return lambda r: _to_datetime(r.properties.get(name))
        return lambda r: r.properties.get(name)

    # predicates
    def comparison(self, node: Any) -> Predicate:
        a, b = self.value(node.lhs), self.value(node.rhs)
        op = _OPS[type(node)]

        def test(r: Record) -> bool:
            x, y = _align(a(r), b(r))
            if x is None or y is None:
                return False
            try:
                return bool(op(x, y))
            except TypeError:
                return False

        return test

    def between(self, node: Any) -> Predicate:
        v, lo, hi = self.value(node.lhs), self.value(node.low), self.value(node.high)
        neg = bool(node.not_)

        def test(r: Record) -> bool:
            x = v(r)
            x1, low = _align(x, lo(r))
            x2, high = _align(x, hi(r))
            if x1 is None or low is None or high is None:
                return False
            try:
                return bool(low <= x1 and x2 <= high) != neg
            except TypeError:
                return False

        return test

    def like(self, node: Any) -> Predicate:
        """LIKE per CQL2: ``%`` any characters, ``_`` one, ``\\`` escapes; matched in linear
        time (ogc_like). ``CASEI('pattern')`` folds the pattern as ``CASEI(prop)`` the value."""
        pattern, fold = node.pattern, bool(node.nocase)
        if (
            isinstance(pattern, ast.Function)
            and pattern.name.lower() in _FOLD
            and len(pattern.arguments) == 1
        ):
            pattern, fold = pattern.arguments[0], True
        if not isinstance(pattern, str):
            raise FilterError("LIKE needs a text pattern")
        if len(pattern) > MAX_LIKE_PATTERN:
            raise FilterError(
                f"the LIKE pattern is {len(pattern)} characters long; the limit is "
                f"{MAX_LIKE_PATTERN} (MAX_LIKE_PATTERN)"
            )
        try:
            pat = compile_like(pattern, casefold=fold)
        except LikePatternError as e:
            raise FilterError(str(e)) from None
        v = self.value(node.lhs)
        neg = bool(node.not_)
        match = pat.match

        def test(r: Record) -> bool:
            x = v(r)
            if x is None:
                return False
            s = x if isinstance(x, str) else str(x)
            return match(s.casefold() if fold else s) != neg

        return test

    def in_(self, node: Any) -> Predicate:
        if not isinstance(node.sub_nodes, (list, tuple)):
            raise FilterError(
                "IN takes a list of values as its second argument, e.g. "
                '{"op": "in", "args": [{"property": "status"}, ["open", "closed"]]}'
            )
        v = self.value(node.lhs)
        opts = [self.value(o) for o in node.sub_nodes]
        neg = bool(node.not_)

        def test(r: Record) -> bool:
            x = v(r)
            if x is None:
                return False
            hit = False
            for o in opts:
                a, b = _align(x, o(r))
                if a is not None and a == b:
                    hit = True
                    break
            return hit != neg

        return test

    def temporal(self, node: Any) -> Predicate:
        a, b = self.value(node.lhs), self.value(node.rhs)
        rel = _TEMPORAL.get(type(node))
        if rel is None:
            raise FilterError(f"unsupported temporal operator {type(node).__name__}")

        def test(r: Record) -> bool:
            x, y = _interval(a(r)), _interval(b(r))
            if x is None or y is None:
                return False
            return rel(x, y)

        return test

    def spatial(self, node: Any) -> Predicate:
        a, b = self.value(node.lhs), self.value(node.rhs)
        fn = _SPATIAL.get(type(node))
        if fn is None:
            raise FilterError(f"unsupported spatial operator {type(node).__name__}")

        def test(r: Record) -> bool:
            x, y = a(r), b(r)
            if not isinstance(x, shapely.Geometry) or not isinstance(y, shapely.Geometry):
                return False
            return bool(fn(x, y))

        return test


def _describe(node: Any) -> str:
    return type(node).__name__


# CASEI (pygeofilter 0.4 reads it as a function named 'lower') and ACCENTI: case folding
_FOLD = ("casei", "lower", "accenti")


def _box(x0: Any, y0: Any, x1: Any, y1: Any) -> Any:
    nums = (x0, y0, x1, y1)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nums):
        raise FilterError("a bbox takes 4 or 6 numbers")
    return shapely.box(*nums)


def _finite(g: Any, where: str) -> None:
    if not isinstance(g, shapely.Geometry):
        raise FilterError("bad geometry in the filter")
    if not bool(np.isfinite(shapely.get_coordinates(g)).all()):
        raise FilterError(f"a geometry of the filter has a coordinate that is not finite {where}")


def _intersects(a: Any, b: Any) -> bool:
    return isinstance(a, shapely.Geometry) and bool(shapely.intersects(a, b))


def _to_date(v: Any) -> date | None:
    if v is None:
        return None
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def _to_datetime(v: Any) -> datetime | None:
    if v is None:
        return None
    try:
        dt = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _align(x: Any, y: Any) -> tuple[Any, Any]:
    """Make two values comparable: dates with date-times, ISO text with dates."""
    if isinstance(x, (date, datetime)) or isinstance(y, (date, datetime)):
        x, y = _as_time(x), _as_time(y)
        if isinstance(x, datetime) != isinstance(y, datetime):
            x = _instant(x, False)
            y = _instant(y, False)
    if isinstance(x, bool) != isinstance(y, bool) and x is not None and y is not None:
        return None, None
    return x, y


def _as_time(v: Any) -> Any:
    if isinstance(v, str):
        dt = _to_datetime(v) if "T" in v else None
        return dt if dt is not None else (_to_date(v) or v)
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v


def _instant(v: Any, end: bool) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        dt = v if v.tzinfo else v.replace(tzinfo=UTC)
        if dt.year in (1, 9999):
            return None  # an open end written as a far-away instant
        return dt
    if isinstance(v, date):
        return datetime.combine(v, time.max if end else time.min, UTC)
    if isinstance(v, str):
        return _instant(_as_time(v), end) if v not in ("..", "") else None
    return None


_Interval = tuple[datetime | None, datetime | None]


def _interval(v: Any) -> _Interval | None:
    if v is None:
        return None
    if isinstance(v, tuple):
        return v
    if isinstance(v, datetime):
        i = _instant(v, False)
        return (i, i)
    if isinstance(v, (date, str)):
        return (_instant(v, False), _instant(v, True))
    return None


_NEG = datetime.min.replace(tzinfo=UTC)
_POS = datetime.max.replace(tzinfo=UTC)


def _bounds(x: _Interval) -> tuple[datetime, datetime]:
    return (x[0] or _NEG, x[1] or _POS)


def _rel(fn: Callable[[datetime, datetime, datetime, datetime], bool]) -> Callable[..., bool]:
    def apply(x: _Interval, y: _Interval) -> bool:
        a0, a1 = _bounds(x)
        b0, b1 = _bounds(y)
        return fn(a0, a1, b0, b1)

    return apply


_TEMPORAL: dict[type, Callable[..., bool]] = {
    TimeIntersects: _rel(lambda a0, a1, b0, b1: a0 <= b1 and b0 <= a1),
    ast.TimeDisjoint: _rel(lambda a0, a1, b0, b1: a1 < b0 or b1 < a0),
    ast.TimeBefore: _rel(lambda a0, a1, b0, b1: a1 < b0),
    ast.TimeAfter: _rel(lambda a0, a1, b0, b1: a0 > b1),
    ast.TimeMeets: _rel(lambda a0, a1, b0, b1: a1 == b0),
    ast.TimeMetBy: _rel(lambda a0, a1, b0, b1: a0 == b1),
    ast.TimeOverlaps: _rel(lambda a0, a1, b0, b1: a0 < b0 < a1 < b1),
    ast.TimeOverlappedBy: _rel(lambda a0, a1, b0, b1: b0 < a0 < b1 < a1),
    ast.TimeBegins: _rel(lambda a0, a1, b0, b1: a0 == b0 and a1 < b1),
    ast.TimeBegunBy: _rel(lambda a0, a1, b0, b1: a0 == b0 and a1 > b1),
    ast.TimeDuring: _rel(lambda a0, a1, b0, b1: a0 > b0 and a1 < b1),
    ast.TimeContains: _rel(lambda a0, a1, b0, b1: a0 < b0 and a1 > b1),
    ast.TimeEnds: _rel(lambda a0, a1, b0, b1: a0 > b0 and a1 == b1),
    ast.TimeEndedBy: _rel(lambda a0, a1, b0, b1: a0 < b0 and a1 == b1),
    ast.TimeEquals: _rel(lambda a0, a1, b0, b1: a0 == b0 and a1 == b1),
}

_SPATIAL: dict[type, Callable[[Any, Any], Any]] = {
    ast.GeometryIntersects: shapely.intersects,
    ast.GeometryDisjoint: shapely.disjoint,
    ast.GeometryContains: shapely.contains,
    ast.GeometryWithin: shapely.within,
    ast.GeometryTouches: shapely.touches,
    ast.GeometryCrosses: shapely.crosses,
    ast.GeometryOverlaps: shapely.overlaps,
    ast.GeometryEquals: shapely.equals,
}

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Equal: lambda a, b: a == b,
    ast.NotEqual: lambda a, b: a != b,
    ast.LessThan: lambda a, b: a < b,
    ast.LessEqual: lambda a, b: a <= b,
    ast.GreaterThan: lambda a, b: a > b,
    ast.GreaterEqual: lambda a, b: a >= b,
}
