"""CQL2 (OGC 21-065, CQL2-JSON form) to SQL: a filter pushed into the store's query.

Issue 12: ``store.list``/``store.count(kind, cql=tree)`` run it. The tree comes from the
``cql2`` package (``cql2.parse_text(text).to_json()`` or ``cql2.parse_json``), which
normalises the text and JSON encodings into one CQL2-JSON tree. This module turns it into a
SQL boolean expression and its parameters; what differs between the backends (placeholders,
LIKE, case and accent folding, spatial and temporal functions) is asked of a
:class:`SqlDialect`.

SQL gives CQL2's three-valued logic for free: a comparison with NULL is unknown, ``NOT`` of
unknown is unknown, and a row is returned only when the whole filter is true.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from demine.errors import ValidationError

COMPARISONS = {"=": "=", "<>": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
ARITHMETIC = {"+", "-", "*", "/", "div", "%", "^"}
SPATIAL = {
    "s_intersects",
    "s_disjoint",
    "s_contains",
    "s_within",
    "s_crosses",
    "s_overlaps",
    "s_touches",
    "s_equals",
}
# CQL2 1.0 temporal relations, on [start, end] of each side (an instant is [t, t]); "-inf" and
# "+inf" stand for the open ends ("..")
TEMPORAL: dict[str, tuple[tuple[str, str, str], ...]] = {
    "t_after": (("a0", ">", "b1"),),
    "t_before": (("a1", "<", "b0"),),
    "t_contains": (("a0", "<", "b0"), ("a1", ">", "b1")),
    "t_during": (("a0", ">", "b0"), ("a1", "<", "b1")),
    "t_equals": (("a0", "=", "b0"), ("a1", "=", "b1")),
    "t_finishedby": (("a0", "<", "b0"), ("a1", "=", "b1")),
    "t_finishes": (("a0", ">", "b0"), ("a1", "=", "b1")),
    "t_intersects": (("a0", "<=", "b1"), ("a1", ">=", "b0")),
    "t_meets": (("a1", "=", "b0"),),
    "t_metby": (("a0", "=", "b1"),),
    "t_overlappedby": (("a0", ">", "b0"), ("a0", "<", "b1"), ("a1", ">", "b1")),
    "t_overlaps": (("a0", "<", "b0"), ("a1", ">", "b0"), ("a1", "<", "b1")),
    "t_startedby": (("a0", "=", "b0"), ("a1", ">", "b1")),
    "t_starts": (("a0", "=", "b0"), ("a1", "<", "b1")),
}
MAX_NODES = 500


class FilterError(ValidationError):
    """A filter that cannot be translated: names the operator or property at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Column:
    """A queryable: its SQL expression and its type (string, number, integer, boolean, date,
    timestamp, geometry)."""

    sql: str
    type: str


_MARKER = re.compile("\x00([0-9]+)\x00")


class Params:
    """Parameters collected during the walk, rendered positionally at the end: the walk may use
    a parameter in several places, and registers them in another order than they appear."""

    placeholder = "?"

    def __init__(self) -> None:
        self.values: list[Any] = []

    def param(self, value: Any) -> str:
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"

    def render(self, sql: str) -> tuple[str, list[Any]]:
        args: list[Any] = []

        def put(m: re.Match[str]) -> str:
            args.append(self.values[int(m.group(1))])
            return self.placeholder

        return _MARKER.sub(put, sql), args


class SqlDialect(Protocol):
    """What differs between the SQL backends."""

    def param(self, value: Any) -> str:
        """Register ``value`` as a parameter; a marker that :meth:`render` replaces."""
        ...

    def render(self, sql: str) -> tuple[str, list[Any]]:
        """The SQL with the backend's positional placeholders, and the arguments in the order
        they appear (a parameter used twice is passed twice)."""
        ...

    def mod(self, a: str, b: str) -> str: ...

    def like(self, value_sql: str, pattern: str) -> str:
        """``value LIKE pattern`` with CQL2's wildcards (``%``, ``_``, ``\\`` escapes), case-
        and accent-sensitive."""
        ...

    def casei(self, sql: str) -> str: ...

    def accenti(self, sql: str) -> str: ...

    def spatial(self, op: str, geom_sql: str, geometry: Mapping[str, Any]) -> str:
        """``op`` (an ``s_*`` name) between the column and a GeoJSON geometry in CRS84."""
        ...

    def power(self, a: str, b: str) -> str: ...

    def date(self, text: str) -> str:
        """A ``DATE('...')`` literal, comparable with the backend's date columns."""
        ...

    def timestamp(self, text: str) -> str:
        """A ``TIMESTAMP('...')`` literal, comparable with the backend's timestamp columns."""
        ...

    def boolean(self, value: bool) -> Any:
        """A boolean as the backend stores it."""
        ...

    def prefilter(self, table: str, tree: Any) -> tuple[str, list[Any]] | None:
        """An extra condition (SQL, arguments) that only narrows the rows to those the filter
        can select, for an index the filter's SQL does not use by itself; or None."""
        ...

    def value(self, column: Column) -> str:
        """A column's value as compared (a timestamp kept as text is compared as an instant)."""
        ...


@dataclass
class _Walk:
    columns: Mapping[str, Column]
    dialect: SqlDialect
    nodes: int = 0
    used: set[str] = field(default_factory=set)

    def node(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(f"the filter has more than {MAX_NODES} nodes")

    # --- boolean expressions ----------------------------------------------------------------
    def predicate(self, n: Any) -> str:
        self.node()
        if isinstance(n, bool):
            return "(1 = 1)" if n else "(1 = 0)"
        if not isinstance(n, Mapping) or "op" not in n:
            raise FilterError(f"expected a predicate, got {_show(n)}")
        op = str(n["op"]).lower()
        args = list(n.get("args") or [])
        if op in ("and", "or"):
            if len(args) < 2:
                raise FilterError(f"{op.upper()} needs at least two arguments")
            return "(" + f" {op.upper()} ".join(self.predicate(a) for a in args) + ")"
        if op == "not":
            _arity(op, args, 1)
            return f"(NOT {self.predicate(args[0])})"
        if op in COMPARISONS:
            _arity(op, args, 2)
            a, b = self.scalar(args[0]), self.scalar(args[1])
            return f"({a} {COMPARISONS[op]} {b})"
        if op == "like":
            _arity(op, args, 2)
            return self.like(args[0], args[1])
        if op == "between":
            _arity(op, args, 3)
            v, lo, hi = (self.scalar(a) for a in args)
            return f"({v} BETWEEN {lo} AND {hi})"
        if op == "in":
            _arity(op, args, 2)
            if not isinstance(args[1], list) or not args[1]:
                raise FilterError("IN needs a non-empty list")
            items = ", ".join(self.scalar(a) for a in args[1])
            return f"({self.scalar(args[0])} IN ({items}))"
        if op == "isnull":
            _arity(op, args, 1)
            return f"({self.scalar(args[0])} IS NULL)"
        if op in SPATIAL:
            _arity(op, args, 2)
            return self.spatial(op, args[0], args[1])
        if op in TEMPORAL or op == "t_disjoint":
            _arity(op, args, 2)
            return self.temporal(op, args[0], args[1])
        raise FilterError(f"the operator {n['op']!r} is not supported")

    def like(self, value: Any, pattern: Any) -> str:
        fold: list[str] = []
        while isinstance(pattern, Mapping) and str(pattern.get("op", "")).lower() in (
            "casei",
            "accenti",
        ):
            fold.append(str(pattern["op"]).lower())
            pattern = (pattern.get("args") or [None])[0]
        if not isinstance(pattern, str):
            raise FilterError("the pattern of LIKE must be a text literal")
        if pattern.endswith("\\") and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise FilterError("the pattern of LIKE ends with a lone escape '\\'")
        sql = self.scalar(value)
        for f in fold:  # the pattern is folded the same way as the value, in the same order
            sql = self.dialect.casei(sql) if f == "casei" else self.dialect.accenti(sql)
            pattern = _fold(f, pattern)
        return self.dialect.like(sql, pattern)

    def spatial(self, op: str, a: Any, b: Any) -> str:
        if (
            isinstance(b, Mapping)
            and "property" in b
            and not (isinstance(a, Mapping) and "property" in a)
        ):
            a, b = b, a
            op = {"s_contains": "s_within", "s_within": "s_contains"}.get(op, op)
        col = self.column(a)
        if col.type != "geometry":
            raise FilterError(f"{op.upper()} needs a geometry property, {_show(a)} is not one")
        return self.dialect.spatial(op, col.sql, geometry_literal(b))

    def temporal(self, op: str, a: Any, b: Any) -> str:
        ends = {
            **_ends("a", self.instant_or_interval(a)),
            **_ends("b", self.instant_or_interval(b)),
        }
        if op == "t_disjoint":  # the one relation that is a disjunction
            after = self.temporal_parts((("a0", ">", "b1"),), ends)
            before = self.temporal_parts((("a1", "<", "b0"),), ends)
            return f"({after} OR {before})"
        return self.temporal_parts(TEMPORAL[op], ends)

    def temporal_parts(
        self, relation: tuple[tuple[str, str, str], ...], ends: Mapping[str, str]
    ) -> str:
        parts = []
        for x, cmp, y in relation:
            sx, sy = ends[x], ends[y]
            if sx in ("-inf", "+inf") or sy in ("-inf", "+inf"):
                parts.append(_open_compare(sx, cmp, sy))
            else:
                parts.append(f"({sx} {cmp} {sy})")
        return "(" + " AND ".join(parts) + ")"

    def instant_or_interval(self, n: Any) -> tuple[str, str]:
        if isinstance(n, Mapping) and "interval" in n:
            bounds = n["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise FilterError("an INTERVAL has two ends")
            lo, hi = (
                ("-inf" if i == 0 else "+inf") if e == ".." else self.scalar(_instant(e))
                for i, e in enumerate(bounds)
            )
            return lo, hi
        s = self.scalar(n)
        return s, s

    # --- values -----------------------------------------------------------------------------
    def scalar(self, n: Any) -> str:
        self.node()
        if isinstance(n, bool):
            return self.dialect.param(self.dialect.boolean(n))
        if isinstance(n, int | float | str):
            return self.dialect.param(n)
        if not isinstance(n, Mapping):
            raise FilterError(f"unexpected value {_show(n)}")
        if "property" in n:
            return self.dialect.value(self.column(n))
        if "date" in n:
            return self.dialect.date(_iso("DATE", str(n["date"]), 10))
        if "timestamp" in n:
            return self.dialect.timestamp(_iso("TIMESTAMP", str(n["timestamp"]), 20))
        op = str(n.get("op", "")).lower()
        args = list(n.get("args") or [])
        if op == "casei":
            _arity(op, args, 1)
            if isinstance(args[0], str):
                return self.dialect.param(_fold("casei", args[0]))
            return self.dialect.casei(self.scalar(args[0]))
        if op == "accenti":
            _arity(op, args, 1)
            if isinstance(args[0], str):
                return self.dialect.param(_fold("accenti", args[0]))
            return self.dialect.accenti(self.scalar(args[0]))
        if op in ARITHMETIC:
            _arity(op, args, 2)
            a, b = self.scalar(args[0]), self.scalar(args[1])
            if op == "/":
                return f"(CAST({a} AS DOUBLE PRECISION) / {b})"
            if op == "div":
                return f"(CAST(FLOOR(CAST({a} AS DOUBLE PRECISION) / {b}) AS INTEGER))"
            if op == "^":
                return self.dialect.power(a, b)
            if op == "%":
                return self.dialect.mod(a, b)
            return f"({a} {op} {b})"
        raise FilterError(f"{_show(n)} is not a value")

    def column(self, n: Any) -> Column:
        if not isinstance(n, Mapping) or "property" not in n:
            raise FilterError(f"expected a property, got {_show(n)}")
        name = str(n["property"])
        col = self.columns.get(name)
        if col is None:
            raise FilterError(f"unknown property {name!r}: see the collection's queryables")
        self.used.add(name)
        return col


def to_sql(tree: Any, columns: Mapping[str, Column], dialect: SqlDialect) -> tuple[str, list[Any]]:
    """The SQL boolean expression for a CQL2-JSON ``tree`` with the backend's positional
    placeholders, and its arguments in order."""
    return dialect.render(_Walk(columns, dialect).predicate(tree))


# --- helpers ---------------------------------------------------------------------------------


def _arity(op: str, args: Sequence[Any], n: int) -> None:
    if len(args) != n:
        raise FilterError(f"{op.upper()} takes {n} argument(s), got {len(args)}")


def _show(n: Any) -> str:
    text = repr(n)
    return text if len(text) <= 60 else text[:57] + "..."


def _fold(how: str, text: str) -> str:
    if how == "casei":
        return text.casefold()
    return strip_accents(text)


# ACCENTI, the same on every backend: canonical decomposition (NFD), the combining diacritical
# marks U+0300-U+036F dropped, composed again (NFC). PostgreSQL does the same with normalize()
# and regexp_replace, SQLite with this function registered.
ACCENT_MARKS = re.compile("[\u0300-\u036f]")


def strip_accents(text: str) -> str:
    """The text without its accents (see ``ACCENT_MARKS``)."""
    return unicodedata.normalize("NFC", ACCENT_MARKS.sub("", unicodedata.normalize("NFD", text)))


def _iso(what: str, text: str, least: int) -> str:
    """A date (YYYY-MM-DD) or timestamp (RFC 3339) literal, checked."""
    from datetime import date, datetime

    try:
        if what == "DATE":
            date.fromisoformat(text)
        else:
            if len(text) < least or text[10] not in "Tt":
                raise ValueError(text)
            datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, IndexError):
        raise FilterError(f"{what}({text!r}) is not a valid {what.lower()}") from None
    return text


def _instant(e: Any) -> Any:
    """An end of an INTERVAL: its text (CQL2-JSON writes them as plain strings) as the DATE or
    TIMESTAMP it is, so that every backend compares it as one."""
    if isinstance(e, str):
        return {"date": e} if len(e) == 10 else {"timestamp": e}
    return e


def _ends(side: str, pair: tuple[str, str]) -> dict[str, str]:
    return {f"{side}0": pair[0], f"{side}1": pair[1]}


def _open_compare(x: str, cmp: str, y: str) -> str:
    """A comparison where one side or both is an open end: decided without the data when
    possible (``-inf < anything``), else false (an open end equals only the same open end)."""
    order = {"-inf": -1, "+inf": 1}
    if x in order and y in order:
        ox, oy = order[x], order[y]
        ok = {
            "<": ox < oy,
            ">": ox > oy,
            "<=": ox <= oy,
            ">=": ox >= oy,
            "=": ox == oy,
        }[cmp]
        return "(1 = 1)" if ok else "(1 = 0)"
    if x in order:  # an open end against a value
        lt = order[x] < 0  # -inf is below every value
        ok = {"<": lt, "<=": lt, ">": not lt, ">=": not lt, "=": False}[cmp]
        return f"({y} IS NOT NULL)" if ok else "(1 = 0)"
    lt = order[y] > 0  # every value is below +inf
    ok = {"<": lt, "<=": lt, ">": not lt, ">=": not lt, "=": False}[cmp]
    return f"({x} IS NOT NULL)" if ok else "(1 = 0)"


def geometry_literal(n: Any) -> dict[str, Any]:
    if isinstance(n, Mapping) and "bbox" in n:
        box = [float(v) for v in n["bbox"]]
        if len(box) == 6:
            box = [box[0], box[1], box[3], box[4]]
        if len(box) != 4:
            raise FilterError("a BBOX has 4 (or 6) numbers")
        w, s, e, nn = box
        if not (-90 <= s <= nn <= 90) or not (-180 <= w <= 180 and -180 <= e <= 180):
            raise FilterError(f"BBOX {box} is outside -180..180, -90..90 or has south > north")
        if w > e:  # crosses the antimeridian: two boxes
            return {
                "type": "MultiPolygon",
                "coordinates": [_ring(w, s, 180.0, nn), _ring(-180.0, s, e, nn)],
            }
        return {"type": "Polygon", "coordinates": _ring(w, s, e, nn)}
    if (
        isinstance(n, Mapping)
        and "type" in n
        and "coordinates" in n
        or (isinstance(n, Mapping) and n.get("type") == "GeometryCollection")
    ):
        _check_positions(n)
        return dict(n)
    raise FilterError(f"expected a geometry or BBOX, got {_show(n)}")


def _check_positions(n: Any) -> None:
    """Every position of a GeoJSON geometry is a finite longitude -180..180, latitude -90..90
    (CRS84): a point at longitude 200 is refused, naming it, rather than matching nothing."""
    import math

    stack: list[tuple[str, Any]] = [(str(n.get("type")), n)]
    while stack:
        kind, g = stack.pop()
        if isinstance(g, Mapping):
            if "geometries" in g:
                stack += [(str(x.get("type")), x) for x in g["geometries"] or []]
            else:
                stack.append((str(g.get("type")), g.get("coordinates")))
        elif isinstance(g, list | tuple) and g and isinstance(g[0], int | float):
            ok = len(g) >= 2 and all(isinstance(v, int | float) and math.isfinite(v) for v in g)
            if not ok or not (-180 <= g[0] <= 180 and -90 <= g[1] <= 90):
                raise FilterError(
                    f"the filter's {kind} has a position outside longitude -180..180, "
                    f"latitude -90..90: {list(g)}"
                )
        elif isinstance(g, list | tuple):
            stack += [(kind, x) for x in g]


def _ring(w: float, s: float, e: float, n: float) -> list[list[list[float]]]:
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]
