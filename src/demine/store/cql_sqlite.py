"""The SQLite (GeoPackage) side of :mod:`demine.store.cql_sql` (issue 12).

SQLite's ``LIKE`` ignores ASCII case and knows no escape by default, so CQL2 ``LIKE`` becomes
``GLOB`` (case-sensitive): ``%`` -> ``*``, ``_`` -> ``?``, and a literal ``*``, ``?`` or ``[``
is written as a one-character class. Case folding (``CASEI``), accent stripping (``ACCENTI``)
and the spatial relations are Python functions registered on the connection
(:func:`register`): shapely decides the relation, after the caller's R-tree prefilter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import shapely

from demine.store.cql_sql import Column, FilterError, Params, geometry_literal, strip_accents

RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "s_intersects": shapely.intersects,
    "s_disjoint": shapely.disjoint,
    "s_contains": shapely.contains,
    "s_within": shapely.within,
    "s_crosses": shapely.crosses,
    "s_overlaps": shapely.overlaps,
    "s_touches": shapely.touches,
    "s_equals": shapely.equals,
}


def glob_pattern(pattern: str) -> str:
    """A CQL2 LIKE pattern as an SQLite GLOB pattern."""
    out: list[str] = []
    it = iter(pattern)
    for c in it:
        if c == "\\":
            nxt = next(it, None)
            if nxt is None:
                raise FilterError("the pattern of LIKE ends with a lone escape '\\'")
            c = nxt
            out.append(f"[{c}]" if c in "*?[" else c)
        elif c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        else:
            out.append(f"[{c}]" if c in "*?[" else c)
    return "".join(out)


class SqliteDialect(Params):
    """Collects parameters (``?`` placeholders) while :func:`cql_sql.to_sql` walks."""

    placeholder = "?"

    def __init__(self, decode: Callable[[bytes], Any] = shapely.from_wkb) -> None:
        super().__init__()
        self.geometries: list[Any] = []
        self.decode = decode

    def like(self, value_sql: str, pattern: str) -> str:
        return f"({value_sql} GLOB {self.param(glob_pattern(pattern))})"

    def casei(self, sql: str) -> str:
        return f"demine_casei({sql})"

    def accenti(self, sql: str) -> str:
        return f"demine_accenti({sql})"

    def spatial(self, op: str, geom_sql: str, geometry: Mapping[str, Any]) -> str:
        g = shapely.from_geojson(_json(geometry))
        if g is None or g.is_empty or not shapely.is_valid(g):
            reason = shapely.is_valid_reason(g) if g is not None else "empty"
            raise FilterError(f"the filter's geometry is not valid: {reason}")
        self.geometries.append(g)
        return f"demine_spatial('{op}', {geom_sql}, {self.param(shapely.to_wkb(g))})"

    def prefilter(self, table: str, tree: Any) -> tuple[str, list[Any]] | None:
        """The R-tree condition of :func:`rtree_prefilter`, or None."""
        pre = rtree_prefilter(table, tree)
        return None if pre is None else (pre[0], list(pre[1]))

    def power(self, a: str, b: str) -> str:
        return f"pow({a}, {b})"

    def mod(self, a: str, b: str) -> str:
        return f"mod({a}, {b})"

    def boolean(self, value: bool) -> Any:
        return 1 if value else 0

    def date(self, text: str) -> str:
        return self.param(text)  # dates are ISO text in a GeoPackage

    def timestamp(self, text: str) -> str:
        # timestamps are RFC 3339 text in UTC with or without milliseconds: compared as text,
        # '...00.500Z' < '...00Z'; as Julian days (SQLite reads 'Z' and '+02:00'), in order
        return f"julianday({self.param(text)})"

    def value(self, column: Column) -> str:
        return f"julianday({column.sql})" if column.type == "timestamp" else column.sql

    def register(self, conn: sqlite3.Connection) -> None:
        """The functions the SQL calls, on ``conn``."""
        decode = self.decode
        cache: dict[bytes, Any] = {}

        def spatial(op: str, blob: bytes | None, wkb: bytes) -> int | None:
            if blob is None:
                return None
            g = decode(blob)
            if g is None or g.is_empty:
                return None
            q = cache.get(wkb)
            if q is None:
                q = cache[wkb] = shapely.from_wkb(wkb)
            return 1 if RELATIONS[op](g, q) else 0

        conn.create_function("demine_spatial", 3, spatial, deterministic=True)
        conn.create_function(
            "demine_casei",
            1,
            lambda s: None if s is None else str(s).casefold(),
            deterministic=True,
        )
        conn.create_function(
            "demine_accenti",
            1,
            lambda s: None if s is None else strip_accents(str(s)),
            deterministic=True,
        )


# relations that imply the envelopes meet: a row whose envelope misses the literal's is false
# for them (and a row with no geometry is NULL): at the top of the filter either is left out
ENVELOPE_OPS = frozenset(RELATIONS) - {"s_disjoint"}
MAX_PREFILTER_BOXES = 16


def rtree_prefilter(table: str, tree: Any) -> tuple[str, list[float]] | None:
    """A condition on the GeoPackage R-tree (``rtree_<table>_geom``) that keeps every row the
    filter can select, when the filter is (or is an AND containing) a spatial relation other
    than S_DISJOINT between the geometry and a literal: the rows whose envelope meets the
    literal's envelope, split at the antimeridian (a BBOX with west > east is two boxes) and by
    part (a multi-geometry's parts each give a box, up to ``MAX_PREFILTER_BOXES``). With it the
    spatial relation is decided by shapely only for the few rows the index gives."""
    boxes = _prefilter_boxes(tree)
    if boxes is None:
        return None
    sql = " OR ".join(["(maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)"] * len(boxes))
    args = [v for w, s, e, n in boxes for v in (w, e, s, n)]
    rtree = '"' + f"rtree_{table}_geom".replace('"', '""') + '"'
    return f"fid IN (SELECT id FROM {rtree} WHERE {sql})", args


def _prefilter_boxes(tree: Any) -> list[tuple[float, float, float, float]] | None:
    if not isinstance(tree, Mapping):
        return None
    op = str(tree.get("op", "")).lower()
    args = list(tree.get("args") or [])
    if op == "and":
        found = [b for b in (_prefilter_boxes(a) for a in args) if b is not None]
        # the smallest: every conjunct must hold, so any one of them may prefilter
        return min(found, key=_boxes_area) if found else None
    if op not in ENVELOPE_OPS or len(args) != 2:
        return None
    props = [isinstance(a, Mapping) and "property" in a for a in args]
    if props.count(True) != 1:
        return None
    literal = args[props.index(False)]
    try:
        g = geometry_literal(literal)
    except FilterError:
        return None  # the translation itself says what is wrong
    shape = shapely.from_geojson(_json(g))
    if shape is None or shape.is_empty:
        return None
    parts = list(getattr(shape, "geoms", [shape]))
    if len(parts) > MAX_PREFILTER_BOXES:
        parts = [shape]
    return [tuple(float(v) for v in p.bounds) for p in parts if not p.is_empty]  # type: ignore[misc]


def _boxes_area(boxes: list[tuple[float, float, float, float]]) -> float:
    return sum((e - w) * (n - s) for w, s, e, n in boxes)


def _json(geometry: Mapping[str, Any]) -> str:
    import json

    return json.dumps(geometry)
