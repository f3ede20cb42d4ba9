"""``demine check``'s quick path: one place checked against a GeoPackage store with the
standard library (sqlite3, struct, math) and :mod:`demine.geo.plain`, without loading typer,
numpy, shapely or pyproj, which take most of a short process's time.

:func:`answer_check` answers only what it can answer exactly as the full command does (same
JSON, same text, same exit code): a place given as LAT LON, "LAT,LON" or --lat/--lon, with
--radius, --include-closed, --db and --json, on a GeoPackage demine store of this schema
version, hazards stored as 2-D polygons or multipolygons. Anything else (--include, --help, a
PostGIS URL, an error of any kind, a place near a pole, very many candidates) it leaves to the
full command, which then answers as it always has: nothing has been printed by then.
"""

from __future__ import annotations

import math
import os
import sqlite3
import struct
from typing import Any

from demine.geo.plain import Aeqd, Polygon, distance_in, grid_centre

# must equal demine.store.gpkg.SCHEMA_VERSION and demine.services.access.ROLES (a test says so)
SCHEMA_VERSION = 14
ROLES = ("public", "field", "operator", "analyst", "reviewer", "admin", "victim_assistance")
MAX_CANDIDATES = 200  # more hazards in the search boxes: the full path (vectorised) is faster
MAX_POSITIONS = 20_000  # positions to project, likewise

_VALUE_OPTS = {"--lat": "lat", "--lon": "lon", "--radius": "radius", "--db": "db"}
_FLAGS = {"--json": "json", "--include-closed": "include_closed"}
_ENV_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_FIELDS = ("name", "reference", "hazard_type", "status", "device_categories")


class _Full(Exception):
    """The full command answers this one."""


def answer_check(argv: list[str]) -> bool:
    """Answer ``demine [GLOBAL OPTIONS] check ...`` if it can be answered quickly and exactly;
    False (nothing printed) when the full command must answer it."""
    try:
        args = _parse(argv)
        if args is None:
            return False
        told = _told(args)
    except Exception:  # _Full, NotHandled, a driver's or a blob's error, anything unforeseen:
        return False  # the full command answers (and reports) it
    if args["json"]:
        from demine.cli.output import print_json

        print_json(told)
    else:
        from demine.cli.place import print_answer

        if told["synthetic"]:
            from demine.cli.output import console
            from demine.model.synthetic import SYNTHETIC_NOTICE

            console(stderr=True).print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
        print_answer(told, (), args["radius"], told["lat"], told["lon"])
    return True


def _parse(argv: list[str]) -> dict[str, Any] | None:
    """The options of ``demine check`` as the full command reads them, or None when it is not a
    check this path answers."""
    i, db, role = 0, None, os.environ.get("DEMINE_ROLE")
    while i < len(argv) and argv[i] != "check":  # the global options
        name, value, i = _option(argv, i, ("--db", "--role"))
        if name == "--db":
            db = value
        else:
            role = value
    if i >= len(argv) or (role is not None and role not in ROLES):
        return None
    out: dict[str, Any] = {"json": False, "include_closed": False, "place": []}
    out.update(lat=None, lon=None, radius="500", db=None)
    i += 1
    while i < len(argv):
        t = argv[i]
        if t in _FLAGS:
            out[_FLAGS[t]] = True
            i += 1
        elif t.startswith("-") and not t[1:2].isdigit() and t[1:2] != ".":
            name, value, i = _option(argv, i, tuple(_VALUE_OPTS))
            out[_VALUE_OPTS[name]] = value
        else:  # a place's value (a negative number is a value: ignore_unknown_options)
            out["place"].append(t)
            i += 1
    out["radius"] = float(out["radius"])  # as click reads a FLOAT
    out["db"] = out["db"] or db
    return out


def _option(argv: list[str], i: int, names: tuple[str, ...]) -> tuple[str, str, int]:
    """The option at argv[i] (``--name value`` or ``--name=value``) and where the next one is."""
    t = argv[i]
    name, eq, value = t.partition("=")
    if name not in names:
        raise _Full
    if eq:
        return name, value, i + 1
    if i + 1 >= len(argv):
        raise _Full
    return name, argv[i + 1], i + 2


def _told(args: dict[str, Any]) -> dict[str, Any]:
    from demine.cli.place import parse_place
    from demine.errors import DemineError
    from demine.services.safety import answer, check_place_args, search_boxes

    try:
        y, x = parse_place(args["place"], args["lat"], args["lon"])
        check_place_args(y, x, args["radius"])
    except DemineError:
        raise _Full from None
    conn = _open(args["db"])
    try:
        synthetic = _synthetic(conn)
        hits = _hits(conn, y, x, args["radius"], search_boxes(y, x, args["radius"]), args)
    finally:
        conn.close()
    return answer(hits, args["radius"], synthetic, {"lat": y, "lon": x})


def _open(db: str | None) -> sqlite3.Connection:
    """The store's file, opened as :class:`demine.store.gpkg.GeoPackageStore` opens it, when it
    is a demine GeoPackage store of this schema version."""
    loc = db or os.environ.get("DEMINE_DB") or "demine.gpkg"
    if "://" in loc or loc.startswith(("postgres", "file:")) or not os.path.isfile(loc):
        raise _Full
    with open(loc, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise _Full
    conn = sqlite3.connect(loc, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        row = conn.execute(
            "SELECT value FROM demine_settings WHERE key = 'schema_version'"
        ).fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise _Full
    except BaseException:
        conn.close()
        raise
    return conn


def _synthetic(conn: sqlite3.Connection) -> bool:
    import json

    row = conn.execute("SELECT value FROM demine_settings WHERE key = 'synthetic'").fetchone()
    return bool(row is not None and row[0] is not None and json.loads(row[0]))


def _hits(
    conn: sqlite3.Connection,
    y: float,
    x: float,
    radius: float,
    boxes: list[tuple[float, float, float, float]],
    args: dict[str, Any],
) -> list[dict[str, Any]]:
    """The hazards within the radius, as :func:`demine.services.safety.check_point` gives them
    (``Hit.to_dict``), nearest first."""
    rows: dict[str, tuple[Any, ...]] = {}
    sql = (
        "SELECT id, geom, name, reference, hazard_type, status, device_categories FROM hazards "
        "WHERE fid IN (SELECT id FROM rtree_hazards_geom "
        "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?) ORDER BY fid"
    )
    for b in boxes:
        for r in conn.execute(sql, (b[0], b[2], b[1], b[3])):
            if r[0] not in rows and (args["include_closed"] or r[5] == "open"):
                rows[r[0]] = r
                if len(rows) > MAX_CANDIDATES:
                    raise _Full
    if not rows:
        return []
    proj = Aeqd(*grid_centre(x, y))
    positions = 0
    found: list[tuple[float, str, tuple[Any, ...]]] = []
    for hid, r in rows.items():
        if r[1] is None:
            continue  # no geometry: no distance (NaN in the full path), never within
        polygons = _polygons(bytes(r[1]))
        positions += sum(len(ring) for p in polygons for ring in p)
        if positions > MAX_POSITIONS:
            raise _Full
        d = distance_in(proj, x, y, polygons)
        if d <= radius:
            found.append((d, hid, r))
    found.sort(key=lambda f: (f[0], f[1]))
    return [
        {
            "id": hid,
            "distance_m": round(d, 1),
            "inside": d == 0.0,
            **dict(zip(_FIELDS, r[2:], strict=True)),
        }
        for d, hid, r in found
    ]


def _polygons(blob: bytes) -> list[Polygon]:
    """A GeoPackage geometry blob's 2-D polygon or multipolygon as lists of rings; anything
    else (empty, other types, Z or M) is left to the full path."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise _Full
    flags = blob[3]
    env = (flags >> 1) & 0x07
    if flags & 0x10 or flags & 0x20 or env not in _ENV_SIZES:  # empty, extended
        raise _Full
    at = 8 + _ENV_SIZES[env]
    order, gtype = _head(blob, at)
    at += 5
    if gtype == 3:
        poly, at = _polygon(blob, at, order)
        out = [poly]
    elif gtype == 6:
        (n,) = struct.unpack_from(order + "I", blob, at)
        at += 4
        out = []
        for _ in range(n):
            o, t = _head(blob, at)
            if t != 3:
                raise _Full
            poly, at = _polygon(blob, at + 5, o)
            out.append(poly)
    else:
        raise _Full
    if not out or any(not p or any(len(ring) < 4 for ring in p) for p in out):
        raise _Full  # empty parts: the full path's answer
    return out


def _head(blob: bytes, at: int) -> tuple[str, int]:
    order = "<" if blob[at] == 1 else ">"
    (gtype,) = struct.unpack_from(order + "I", blob, at + 1)
    return order, gtype


def _polygon(blob: bytes, at: int, order: str) -> tuple[Polygon, int]:
    (nrings,) = struct.unpack_from(order + "I", blob, at)
    at += 4
    rings = []
    for _ in range(nrings):
        (n,) = struct.unpack_from(order + "I", blob, at)
        at += 4
        xy = struct.unpack_from(f"{order}{2 * n}d", blob, at)
        at += 16 * n
        if not all(math.isfinite(v) for v in xy):
            raise _Full
        rings.append(list(zip(xy[0::2], xy[1::2], strict=True)))
    return rings, at
