"""CQL2 filters, evaluation: a syntax tree from :mod:`demine.api.ogc_cql_parse` into a
predicate over records (Python, on the records; no SQL is generated).

A small interpreter of the tree: comparisons, LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, every
spatial function (S_INTERSECTS ... S_CROSSES, with shapely) and every temporal function
(T_AFTER ... T_INTERSECTS, on date and date-time fields). A filter may only name the
properties the caller's role may read (the collection's queryables) and ``geometry``.

Work is bounded: at most ``MAX_FILTER_NODES`` nodes, a LIKE pattern at most
``MAX_LIKE_PATTERN`` characters, and LIKE is matched in linear time by
:mod:`demine.api.ogc_like` (never by a backtracking regular expression).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import shapely
from pygeofilter import ast, values

from demine.api.ogc_cql_parse import FilterError, TimeIntersects
from demine.api.ogc_like import LikePatternError, compile_like
from demine.api.ogc_queryables import queryable_fields
from demine.geo.crs import CRS84, to_crs84
from demine.model.kinds import Kind
from demine.model.schema import FieldType, Record

GEOMETRY_NAMES = ("geometry", "geom")

# Limits on the work one filter may ask for (docs/ogc-api.md, "Limits"); its text's length is
# bounded where it is parsed (ogc_cql_parse.MAX_FILTER_BYTES)
MAX_FILTER_NODES = 500  # conditions, values and list items of its syntax tree
MAX_LIKE_PATTERN = 256  # characters of one LIKE pattern

Predicate = Callable[[Record], bool]


def to_predicate(node: Any, kind: Kind, role: str, filter_crs: str = CRS84) -> Predicate:
    """The predicate over records of ``kind`` that a parsed filter means, for a caller of
    ``role`` (who may name only the queryables), or FilterError (a 400)."""
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
