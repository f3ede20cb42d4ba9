"""Structural checks of raw GeoJSON geometry objects, and their flattening into numpy arrays.

A batch of geometry objects (parsed JSON: dicts, lists, numbers) becomes one ``(N, 2)`` array of
positions plus a table of *paths* (one path per ring, line or point list). Every later check in
:mod:`demine.geo.checks` is a numpy operation over these arrays, so a 100,000-feature import does
one Python step per geometry and per ring, never one per coordinate.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np
import numpy.typing as npt

POINT, MULTIPOINT, LINE, RING = 0, 1, 2, 3

GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
_LOWER = {t.lower(): t for t in GEOMETRY_TYPES}
# Members that give an object another GeoJSON type's meaning (RFC 7946 §7.1).
_FOREIGN_FOR_GEOMETRY = ("features", "geometry", "properties")
# "crs": a bare geometry's own crs member, checked by the reader
_SIMPLE_MEMBERS = frozenset({"type", "coordinates", "bbox", "crs"})
_GC_MEMBERS = frozenset({"type", "geometries", "bbox", "crs"})
STRICT_HINT = "without --strict this is a warning and the member is ignored"
LENIENT_HINT = "ignored (--strict refuses it)"


def foreign_members(
    obj: dict[str, Any], known: frozenset[str], forbidden: tuple[str, ...], what: str, fld: str
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The misplaced GeoJSON members (RFC 7946 §7.1) and the foreign members (§6.1) of
    ``obj``, as (faults, warnings) of (field, reason). ``fld`` is the object's field prefix
    ("" for the root object). The foreign members are always warnings, and ignored; a
    misplaced GeoJSON member is a warning (ignored) unless the caller makes it a fault
    (``--strict``): both lists name it, the caller keeps one."""
    bad: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for k in obj:
        if k in known:
            continue
        f = f"{fld}.{k}" if fld else k
        if k in forbidden:
            bad.append((f, f'{what} must not contain a "{k}" member (RFC 7946 §7.1)'))
        else:
            other.append((f, f'foreign member "{k}" of {what} (RFC 7946 §6.1 allows it): ignored'))
    return bad, other


def misplaced(reason: str, strict: bool) -> str:
    """The message of a misplaced GeoJSON member as a fault (strict) or a warning."""
    return f"{reason}; {STRICT_HINT}" if strict else f"{reason}: {LENIENT_HINT}"


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: building millions of small lists (parsed JSON
    coordinates) otherwise triggers it again and again, which costs 5x the parse itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def type_name(value: object) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_bbox(bbox: object, fld: str) -> list[tuple[str, str]]:
    """RFC 7946 §5: an array of 2*n numbers, n = 2 or 3, south <= north."""
    if not isinstance(bbox, list):
        return [(fld, f"bbox must be an array of 4 or 6 numbers, got {type_name(bbox)}")]
    if len(bbox) not in (4, 6):
        return [(fld, f"bbox must have 4 elements (2D) or 6 (3D), got {len(bbox)}")]
    for i, v in enumerate(bbox):
        if not is_number(v):
            return [(f"{fld}[{i}]", f"each element of a bbox must be a number, got {type_name(v)}")]
    half = len(bbox) // 2
    if bbox[1] > bbox[1 + half]:
        return [
            (fld, "bbox south edge is north of its north edge (expected west, south, east, north)")
        ]
    return []


def check_geometry_type(raw: object, fld: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The geometry's type, or None and the faults that explain why it has none."""
    if not isinstance(raw, dict):
        return None, [(fld, f"geometry must be an object or null, got {type_name(raw)}")]
    if "type" not in raw:
        return None, [(f"{fld}.type", 'geometry has no "type" member')]
    t = raw["type"]
    if not isinstance(t, str):
        return None, [(f"{fld}.type", f'"type" must be a string, got {type_name(t)}')]
    if t in GEOMETRY_TYPES:
        return t, []
    if t.lower() in _LOWER:
        expected = _LOWER[t.lower()]
        return None, [(f"{fld}.type", f"type is case-sensitive: expected {expected}, got {t}")]
    if t in ("Feature", "FeatureCollection"):
        return None, [(f"{fld}.type", f"expected a geometry object here, got a {t}")]
    return None, [(f"{fld}.type", f"unknown geometry type {t!r}")]


def position_fault(p: object, geom_type: str) -> str | None:
    """Why ``p`` is not a GeoJSON position, or None if it is one."""
    if not isinstance(p, list):
        if is_number(p):
            return (
                f"a number was found where a position (array) was expected: {geom_type} "
                "coordinates need to be nested more deeply"
            )
        return f"a position must be an array of 2 or 3 numbers, got {type_name(p)}"
    n = len(p)
    if n == 0:
        return "empty position: a position needs 2 or 3 numbers"
    for v in p:
        if isinstance(v, list):
            return (
                f"an array was found inside a position: {geom_type} coordinates are "
                "nested too deeply"
            )
        if not is_number(v):
            return f"each element of a position must be a number, got {type_name(v)} {v!r}"
    if n < 2:
        return "position has 1 number; it needs 2 (longitude, latitude) or 3 (with height)"
    if n > 3:
        return (
            f"position has {n} numbers; GeoJSON allows at most 3 (longitude, latitude, "
            "height): 4D positions are rejected"
        )
    return None


@dataclass(slots=True)
class Flat:
    """A batch of geometries as flat arrays. Paths of rejected geometries are absent."""

    field: str
    gtype: list[str | None]  # None: null, empty or structurally broken
    ok: npt.NDArray[np.bool_]  # structurally sound, with a non-empty geometry
    has_z: npt.NDArray[np.bool_]
    faults: list[list[tuple[str, str]]]
    warnings: list[list[tuple[str, str]]]
    xy: FloatArray = dc_field(default_factory=lambda: np.zeros((0, 2)))
    path_geom: IntArray = dc_field(default_factory=lambda: np.zeros(0, np.int64))
    path_kind: IntArray = dc_field(default_factory=lambda: np.zeros(0, np.int64))
    path_part: IntArray = dc_field(default_factory=lambda: np.zeros(0, np.int64))
    path_ord: IntArray = dc_field(default_factory=lambda: np.zeros(0, np.int64))
    path_start: IntArray = dc_field(default_factory=lambda: np.zeros(0, np.int64))
    path_len: IntArray = dc_field(default_factory=lambda: np.zeros(0, np.int64))

    def take(self, start: int, stop: int) -> Flat:
        """The geometries ``start`` to ``stop`` (not included) as a batch of their own (a share
        of the checks, on another thread): the same arrays, cut and renumbered."""
        paths = slice(
            int(np.searchsorted(self.path_geom, start)), int(np.searchsorted(self.path_geom, stop))
        )
        starts = self.path_start[paths]
        first = int(starts[0]) if len(starts) else 0
        last = int(starts[-1] + self.path_len[paths][-1]) if len(starts) else 0
        return Flat(
            field=self.field,
            gtype=self.gtype[start:stop],
            ok=self.ok[start:stop],
            has_z=self.has_z[start:stop],
            faults=self.faults[start:stop],
            warnings=self.warnings[start:stop],
            xy=self.xy[first:last],
            path_geom=self.path_geom[paths] - start,
            path_kind=self.path_kind[paths],
            path_part=self.path_part[paths],
            path_ord=self.path_ord[paths],
            path_start=starts - first,
            path_len=self.path_len[paths],
        )

    def path_field(self, p: int, vertex: int | None = None) -> str:
        return path_field(
            self.field,
            self.gtype[int(self.path_geom[p])] or "",
            int(self.path_part[p]),
            int(self.path_ord[p]),
            vertex,
        )


def path_field(fld: str, gtype: str, part: int, ordinal: int, vertex: int | None) -> str:
    v = "" if vertex is None else f"[{vertex}]"
    if gtype == "Point":
        return f"{fld}.coordinates"
    if gtype in ("MultiPoint", "LineString"):
        return f"{fld}.coordinates{v}"
    if gtype in ("MultiLineString", "Polygon"):
        return f"{fld}.coordinates[{ordinal}]{v}"
    return f"{fld}.coordinates[{part}][{ordinal}]{v}"


_NUMBERS = frozenset({float, int})
_ARRAYS = frozenset({list, tuple})  # JSON arrays as parsed, or a position built in Python


def _as_xy(positions: list[Any]) -> FloatArray | None:
    """Positions as an (n, 2 or 3) float array, or None if they are not all alike and numeric
    (lists or tuples of 2 or 3 numbers: a boolean, a string or a nested array is not one)."""
    if not positions:
        return None
    try:
        width = set(map(len, positions))
    except TypeError:  # a number where a position should be
        return None
    if len(width) != 1 or not width <= {2, 3} or not set(map(type, positions)) <= _ARRAYS:
        return None
    flat = list(itertools.chain.from_iterable(positions))
    if not set(map(type, flat)) <= _NUMBERS:
        return None
    try:
        return np.array(flat, dtype=np.float64).reshape(-1, width.pop())
    except (OverflowError, ValueError):
        return None


def flatten(raws: Sequence[object], fld: str = "geometry", *, strict: bool = False) -> Flat:
    """Check the structure of each geometry and flatten the sound ones.

    Members a geometry object must not have (RFC 7946 §7.1: "features", "geometry",
    "properties") are faults under ``strict`` and warnings otherwise; other foreign members
    (§6.1) are warnings. Both are ignored. GeometryCollections are checked for their own
    members only; their members are not flattened (``demine.geo.checks`` checks them
    recursively).
    """
    n = len(raws)
    gtypes: list[str | None] = [None] * n
    faults: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    warns: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    ok = np.zeros(n, bool)
    has_z = np.zeros(n, bool)
    positions: list[Any] = []
    p_geom: list[int] = []
    p_kind: list[int] = []
    p_part: list[int] = []
    p_ord: list[int] = []
    p_len: list[int] = []
    g_first_path = [0] * n
    g_npaths = [0] * n

    for gi, raw in enumerate(raws):
        if raw is None:
            continue
        t, f = check_geometry_type(raw, fld)
        if t is None:
            faults[gi] = f
            continue
        assert isinstance(raw, dict)
        fl = faults[gi]
        if len(raw) > 2 or ("coordinates" not in raw and "geometries" not in raw):
            known = _GC_MEMBERS if t == "GeometryCollection" else _SIMPLE_MEMBERS
            misplaced_m, other = foreign_members(raw, known, _FOREIGN_FOR_GEOMETRY, f"a {t}", fld)
            (fl if strict else warns[gi]).extend((f, misplaced(w, strict)) for f, w in misplaced_m)
            warns[gi].extend(other)
        if "bbox" in raw:
            fl.extend(check_bbox(raw["bbox"], f"{fld}.bbox"))
        if t == "GeometryCollection":
            gtypes[gi] = t
            geoms = raw.get("geometries")
            if not isinstance(geoms, list):
                fl.append(
                    (
                        f"{fld}.geometries",
                        'a GeometryCollection needs a "geometries" '
                        f"array, got {type_name(geoms) if 'geometries' in raw else 'none'}",
                    )
                )
            else:
                for i, g in enumerate(geoms):
                    if not isinstance(g, dict):
                        fl.append(
                            (
                                f"{fld}.geometries[{i}]",
                                "the geometries of a "
                                "GeometryCollection must be geometry objects, got "
                                f"{type_name(g)}",
                            )
                        )
                    elif g.get("type") == "GeometryCollection":
                        fl.append(
                            (
                                f"{fld}.geometries[{i}]",
                                "nested GeometryCollections are "
                                "rejected (RFC 7946 §3.1.8: should be avoided)",
                            )
                        )
                if len(geoms) == 1:
                    warns[gi].append(
                        (
                            f"{fld}.geometries",
                            "GeometryCollection with a single "
                            "geometry: a single-part or multi-part geometry is better",
                        )
                    )
            ok[gi] = not fl
            continue
        if "coordinates" not in raw:
            fl.append((f"{fld}.coordinates", f'a {t} needs a "coordinates" member'))
            continue
        coords = raw["coordinates"]
        if not isinstance(coords, list):
            fl.append(
                (f"{fld}.coordinates", f"coordinates must be an array, got {type_name(coords)}")
            )
            continue
        if fl:
            continue
        if not coords:
            if t == "Point":
                fl.append((f"{fld}.coordinates", "empty position: a Point needs 2 or 3 numbers"))
            else:
                warns[gi].append(
                    (f"{fld}.coordinates", f"empty {t} (no coordinates): taken as a null geometry")
                )
            continue
        # Paths, with a check of every nesting level above the positions.
        paths: list[tuple[int, int, int, list[Any]]] = []
        if t == "Point":
            paths.append((POINT, 0, 0, [coords]))
        elif t == "MultiPoint":
            paths.append((MULTIPOINT, 0, 0, coords))
        elif t == "LineString":
            paths.append((LINE, 0, 0, coords))
        elif t in ("MultiLineString", "Polygon"):
            kind = LINE if t == "MultiLineString" else RING
            what = "line" if kind == LINE else "ring"
            for i, c in enumerate(coords):
                if not isinstance(c, list):
                    fl.append(
                        (
                            f"{fld}.coordinates[{i}]",
                            f"a {type_name(c)} was found where a {what} (array of positions) "
                            f"was expected: {t} coordinates need to be nested more deeply",
                        )
                    )
                    break
                paths.append((kind, 0, i, c))
        else:  # MultiPolygon
            for j, poly in enumerate(coords):
                if not isinstance(poly, list):
                    fl.append(
                        (
                            f"{fld}.coordinates[{j}]",
                            f"a {type_name(poly)} was found where a polygon (array of rings) "
                            "was expected: MultiPolygon coordinates need to be nested more "
                            "deeply",
                        )
                    )
                    break
                if not poly:
                    fl.append((f"{fld}.coordinates[{j}]", "polygon with no rings"))
                    break
                for i, c in enumerate(poly):
                    if not isinstance(c, list):
                        fl.append(
                            (
                                f"{fld}.coordinates[{j}][{i}]",
                                f"a {type_name(c)} was found where a ring (array of positions) "
                                "was expected: MultiPolygon coordinates need to be nested more "
                                "deeply",
                            )
                        )
                        break
                    paths.append((RING, j, i, c))
                if fl:
                    break
        if fl:
            continue
        gtypes[gi] = t
        ok[gi] = True
        g_first_path[gi] = len(p_geom)
        g_npaths[gi] = len(paths)
        for kind, part, o, c in paths:
            p_geom.append(gi)
            p_kind.append(kind)
            p_part.append(part)
            p_ord.append(o)
            p_len.append(len(c))
            positions.extend(c)

    path_len = np.array(p_len, np.int64)
    path_geom = np.array(p_geom, np.int64)
    path_start = np.zeros(len(p_len), np.int64)
    if len(p_len) > 1:
        np.cumsum(path_len[:-1], out=path_start[1:])
    arr = _as_xy(positions) if positions else np.zeros((0, 2))
    if arr is not None:
        if arr.shape[1] == 3:
            has_z[np.unique(path_geom)] = True
        xy = np.ascontiguousarray(arr[:, :2])
    else:
        # Slow path: find the geometries whose positions are not all alike, and why.
        xy = np.zeros((len(positions), 2))
        geom_pos_count = np.bincount(path_geom, weights=path_len, minlength=n).astype(np.int64)
        for gi in np.flatnonzero(ok).tolist():
            if gtypes[gi] == "GeometryCollection":
                continue
            fp = g_first_path[gi]
            s = int(path_start[fp])
            e = s + int(geom_pos_count[gi])
            a = _as_xy(positions[s:e])
            if a is not None:
                xy[s:e] = a[:, :2]
                has_z[gi] = a.shape[1] == 3
                continue
            t = gtypes[gi] or ""
            bad: list[tuple[str, str]] = []
            z = False
            for p in range(fp, fp + g_npaths[gi]):
                ps = int(path_start[p])
                for v in range(int(path_len[p])):
                    why = position_fault(positions[ps + v], t)
                    if why is not None:
                        vertex = None if t == "Point" else v
                        bad.append((path_field(fld, t, p_part[p], p_ord[p], vertex), why))
                        if len(bad) >= 5:
                            break
                if len(bad) >= 5:
                    break
            if bad:
                faults[gi].extend(bad)
                ok[gi] = False
                continue
            for k in range(s, e):  # valid positions of mixed dimension
                pos = positions[k]
                xy[k, 0] = pos[0]
                xy[k, 1] = pos[1]
                z = z or len(pos) == 3
            has_z[gi] = z
            warns[gi].append((fld, "positions mix 2D and 3D coordinates"))
    return Flat(
        field=fld,
        gtype=gtypes,
        ok=ok,
        has_z=has_z,
        faults=faults,
        warnings=warns,
        xy=xy,
        path_geom=path_geom,
        path_kind=np.array(p_kind, np.int64),
        path_part=np.array(p_part, np.int64),
        path_ord=np.array(p_ord, np.int64),
        path_start=path_start,
        path_len=path_len,
    )
