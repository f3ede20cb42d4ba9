"""GeoJSON (RFC 7946) reading with located faults, and streaming writing.

:func:`read_geojson` checks structure only: members, types, nesting, positions. The geometry
rules (closed rings, validity, ranges, vertex jumps...) are :mod:`demine.geo.checks`; call
:meth:`ParsedFile.check_geometries` to run them without flattening the coordinates twice.
What is accepted, warned about or rejected is listed in ``docs/geometry.md``.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import orjson
import shapely

from demine.errors import Fault
from demine.files import open_private
from demine.geo.checks import GeometryCheck, check_geometries
from demine.geo.structure import (
    GEOMETRY_TYPES,
    Flat,
    check_bbox,
    flatten,
    foreign_members,
    misplaced,
    no_gc,
    type_name,
)
from demine.io.geojson_parts import CUT_FAULT, cut_part, load_text
from demine.model.schema import FieldType

__all__ = ["CUT_FAULT", "ParsedFeature", "ParsedFile", "read_geojson", "write_geojson"]

DUPLICATE_CHECK_MAX_BYTES = 10_000_000
_CRS84_NAMES = ("crs84", "crs:84", "epsg:4326", "epsg::4326", "ogc:1.3:crs84", "epsg/0/4326")
_ROOT_TYPES = ("FeatureCollection", "Feature", *GEOMETRY_TYPES)
_LOWER = {t.lower(): t for t in _ROOT_TYPES}
_MISSING: Any = object()
# The members each object may have (RFC 7946 §3.2, §3.3, §5; "crs" is checked on its own), and
# the GeoJSON members it must not have (§7.1): any other member is a foreign member (§6.1).
_FC_MEMBERS = frozenset({"type", "features", "bbox", "crs"})
_FC_FORBIDDEN = ("coordinates", "geometries", "geometry", "properties")
_FEATURE_MEMBERS = frozenset({"type", "id", "properties", "geometry", "bbox", "crs"})
_FEATURE_FORBIDDEN = ("coordinates", "geometries", "features")


@dataclass(slots=True)
class ParsedFeature:
    index: int
    id: str | int | None
    properties: dict[str, Any]
    geometry: dict[str, Any] | None  # raw GeoJSON geometry object (None: null or unusable)
    faults: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)


@dataclass(slots=True)
class ParsedFile:
    features: list[ParsedFeature] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # file-level problems
    warnings: list[Fault] = field(default_factory=list)  # file-level warnings
    crs: str | None = None  # the declared crs name, if the file has a crs member
    source: str | None = None
    flat: Flat | None = field(default=None, repr=False)  # flattened geometries, reused by checks
    strict: bool = False  # misplaced GeoJSON members (RFC 7946 §7.1) were faults, not warnings
    # the type each field declares, where the format declares one (GeoPackage, Shapefile)
    field_types: dict[str, FieldType] = field(default_factory=dict)
    # an ODK Central or KoboToolbox export (demine.io.odk): "odk", "kobo", or None
    export: str | None = None
    # the features of the whole file, when only a part of them was read (``part``) and it
    # is known (a part cut by bytes: not known)
    total: int | None = None
    # the index in the file of the part's first feature (``part``); None: not known (a part
    # cut by bytes, not the first: its features' indexes count from 0 in the part)
    first: int | None = 0
    cut: bool = False  # the part was cut by bytes (``part``)

    @property
    def ok(self) -> bool:
        """No file-level fault and no feature fault (geometry rules not yet applied)."""
        return not self.faults and not any(f.faults for f in self.features)

    def check_geometries(
        self,
        *,
        repair: bool = False,
        aoi: tuple[float, float, float, float] | None = None,
        max_jump_m: float | None = 5000.0,
        allowed: frozenset[str] | None = None,
        span: tuple[int, int] | None = None,
    ) -> list[GeometryCheck]:
        """The geometry rules for every feature (only features ``span[0]`` to ``span[1]``,
        not included, when given: the same results as for all, cut), one result per feature,
        in order.

        Structural faults already in ``feature.faults`` are not repeated; a feature with any
        fault gets a result without geometry.
        """
        a, b = span if span is not None else (0, len(self.features))
        features = self.features[a:b]
        raws = [f.geometry for f in features]
        if self.flat is None:
            flat = flatten(raws)
        else:
            flat = self.flat if span is None else self.flat.take(a, b)
        checks = check_geometries(
            raws,
            repair=repair,
            aoi=aoi,
            max_jump_m=max_jump_m,
            allowed=allowed,
            indices=[f.index for f in features],
            feature_ids=[f.id for f in features],
            flat=flat,
            report_structure=False,
            strict=self.strict,
        )
        src = self.source
        for f, c in zip(features, checks, strict=True):
            if f.faults:
                c.geometry = None
            if src is not None and (c.faults or c.repairs or c.warnings):
                c.faults[:] = [_with_source(x, src) for x in c.faults]
                c.repairs[:] = [_with_source(x, src) for x in c.repairs]
                c.warnings[:] = [_with_source(x, src) for x in c.warnings]
        return checks


def _with_source(f: Fault, source: str) -> Fault:
    if f.source is not None:
        return f
    return Fault(f.reason, f.index, f.field, source, f.feature_id, f.repairable)


def read_geojson(
    data: bytes | str | pathlib.Path,
    *,
    source: str | None = None,
    strict: bool = False,
    part: tuple[int, int, int] | None = None,
) -> ParsedFile:
    """Parse GeoJSON text (bytes, a str of JSON text, or a path) and check its structure.

    Accepts a FeatureCollection, a Feature, or a bare geometry (which becomes one feature with
    empty properties). Never raises for bad input: every problem is a :class:`Fault`.

    Foreign members (RFC 7946 §6.1) are warnings and ignored. A GeoJSON member where §7.1
    forbids it (a FeatureCollection's "properties", a Feature's "coordinates"...) is a warning
    and ignored too, unless ``strict``: then it is a fault.

    ``part`` (a, b, k): only a FeatureCollection's features from a/k to b/k of them are read
    into features (:func:`part_span`; the file's checks are all made), each with its index in
    the file, the same as when all are read; ``total`` says how many the file has. A file
    that is not a FeatureCollection is the part's that starts at 0.

    A part of two (``(0, x, k)`` or ``(x, k, k)``) of a file whose text can be cut between
    two features (:func:`~demine.io.geojson_parts.cut_part`) is cut by bytes instead: only
    its own text is read and parsed (each of two processes parses half the file, not all of
    it). Its features are the same, but the
    file's total is not known (``total`` None) and the second part's indexes count from 0 in
    the part (``first`` None: add the first part's count). Both parts cut the file at the
    same place; a part whose text does not read as that part of a FeatureCollection whose
    last member is "features" is a fault (nothing half read).
    """
    with no_gc():
        return _read(data, source, strict, part)


def part_span(n: int, part: tuple[int, int, int]) -> tuple[int, int]:
    """The features (from, to: not included) of ``part`` (a, b, k) of ``n`` features: from
    a/k to b/k of them."""
    a, b, k = part
    if not 0 <= a <= b <= k or k < 1:
        raise ValueError(f"part {a} to {b} of {k}")
    return n * a // k, n * b // k


def _read(
    data: bytes | str | pathlib.Path,
    source: str | None,
    strict: bool,
    part: tuple[int, int, int] | None = None,
) -> ParsedFile:
    if source is None and isinstance(data, pathlib.Path):
        source = data.name
    pf = ParsedFile(source=source, strict=strict)
    # a part of two cut by bytes: only its own text read (cut_part); else the whole file
    cut = None if part is None else cut_part(data, part)
    raw: bytes | bytearray = load_text(data) if cut is None else cut[0]
    size = len(raw) if cut is None else cut[1]  # the file's: are duplicate members looked for

    def file_fault(reason: str, fld: str | None = None) -> None:
        pf.faults.append(Fault(reason, field=fld, source=source))

    def file_warning(reason: str, fld: str | None = None) -> None:
        pf.warnings.append(Fault(reason, field=fld, source=source))

    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        size -= 3
        file_warning("the file starts with a byte order mark (RFC 8259 §8.1 forbids it); ignored")
    if cut is not None:
        pf.cut, pf.first = True, 0 if part is not None and part[0] == 0 else None
        if raw.count(b'"features"') != 1:  # the file has one "features" key: each part's too
            file_fault(CUT_FAULT)
            return pf
    try:
        root = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if cut is not None:
            file_fault(CUT_FAULT)
            return pf
        file_fault(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}")
        return pf
    if not isinstance(root, dict):
        file_fault(f"the root of a GeoJSON text must be an object, got {type_name(root)}")
        return pf
    if cut is not None and (not root or list(root)[-1] != "features"):
        file_fault(CUT_FAULT)
        return pf
    dups = _duplicates(raw) if size <= DUPLICATE_CHECK_MAX_BYTES else None

    t = root.get("type", _MISSING)
    if t is _MISSING:
        file_fault('the root object has no "type" member', "type")
        return pf
    if not isinstance(t, str):
        file_fault(f'"type" must be a string, got {type_name(t)}', "type")
        return pf
    if t not in _ROOT_TYPES:
        if t.lower() in _LOWER:
            file_fault(f"type is case-sensitive: expected {_LOWER[t.lower()]}, got {t}", "type")
        else:
            file_fault(f"unknown GeoJSON type {t!r}", "type")
        return pf
    if "crs" in root:
        _check_crs(root["crs"], pf, file_fault, file_warning)
    if dups is not None and dups.get(()) and t != "Feature":
        for k in dups[()]:
            file_fault(f'the root object has duplicate "{k}" members: parsing is ambiguous', k)

    if t == "FeatureCollection":
        bad, other = foreign_members(root, _FC_MEMBERS, _FC_FORBIDDEN, "the FeatureCollection", "")
        for fld, why in bad:
            (file_fault if strict else file_warning)(misplaced(why, strict), fld)
        for fld, why in other:
            file_warning(why, fld)
        if "bbox" in root:
            for fld, why in check_bbox(root["bbox"], "bbox"):
                file_fault(why, fld)
        feats = root.get("features", _MISSING)
        if feats is _MISSING:
            file_fault('a FeatureCollection needs a "features" member', "features")
            return pf
        if not isinstance(feats, list):
            file_fault(f'"features" must be an array, got {type_name(feats)}', "features")
            return pf
        if pf.faults:
            return pf
        if part is None or cut is not None:
            pf.features = _read_features(feats, source, dups, strict)
        else:
            a, b = part_span(len(feats), part)
            pf.features = _read_features(feats[a:b], source, dups, strict, start=a)
            pf.total, pf.first = len(feats), a
    elif part is not None and part[0] != 0:  # one feature: the first part's
        pf.total, pf.first = 1, 1
        return pf
    elif t == "Feature":
        if pf.faults:
            return pf
        alld = sorted({k for v in (dups or {}).values() for k in v})
        pf.features = _read_features([root], source, {(0,): alld} if alld else None, strict)
    else:
        # A bare geometry: one feature without properties.
        pf.features = [ParsedFeature(0, None, {}, root)]
    geoms = [f.geometry for f in pf.features]
    flat = flatten(geoms, strict=strict)
    pf.flat = flat
    for i in range(len(geoms)):
        if flat.faults[i] or flat.warnings[i]:
            f = pf.features[i]
            fid = None if f.id is None else str(f.id)
            f.faults.extend(Fault(why, f.index, fld, source, fid) for fld, why in flat.faults[i])
            f.warnings.extend(
                Fault(why, f.index, fld, source, fid) for fld, why in flat.warnings[i]
            )
    return pf


def _check_crs(crs: object, pf: ParsedFile, fault: Any, warning: Any) -> None:
    if crs is None:
        return
    name: object = None
    if isinstance(crs, dict):
        props = crs.get("properties")
        if isinstance(props, dict):
            name = props.get("name") or props.get("href")
    pf.crs = name if isinstance(name, str) else None
    if isinstance(name, str) and any(name.lower().endswith(k) for k in _CRS84_NAMES):
        warning(
            f'the "crs" member ({name}) is not part of RFC 7946; it names WGS 84 '
            "longitude/latitude, so it is accepted and ignored (positions read as "
            "longitude, latitude)",
            "crs",
        )
        return
    declared = name if isinstance(name, str) else orjson.dumps(crs).decode()
    fault(
        "GeoJSON (RFC 7946) must be WGS 84 longitude/latitude (CRS84), but the file declares "
        f"crs {declared}: reproject it first, e.g. ogr2ogr -t_srs OGC:CRS84 out.geojson in",
        "crs",
    )


def _read_features(
    feats: list[Any],
    source: str | None,
    dups: dict[tuple[int, ...], list[str]] | None,
    strict: bool = False,
    start: int = 0,
) -> list[ParsedFeature]:
    out: list[ParsedFeature] = []
    append = out.append
    for i, f in enumerate(feats, start):
        if type(f) is not dict:
            append(
                ParsedFeature(
                    i,
                    None,
                    {},
                    None,
                    [
                        Fault(
                            f"every feature must be an object, got {type_name(f)}", i, None, source
                        )
                    ],
                )
            )
            continue
        t = f.get("type")
        fid = f.get("id")
        props = f.get("properties", _MISSING)
        geom = f.get("geometry", _MISSING)
        if (
            t == "Feature"
            and (fid is None or type(fid) is str or type(fid) is int)
            and type(props) is dict
            and (geom is None or type(geom) is dict)
            and (len(f) == 3 or (len(f) == 4 and "id" in f))
            and (dups is None or (i,) not in dups)
        ):
            append(ParsedFeature(i, fid, props, geom))  # the common case: nothing to say
            continue
        faults: list[Fault] = []
        warns: list[Fault] = []
        sid = None if fid is None or isinstance(fid, dict | list) else str(fid)

        def flt(
            reason: str,
            fld: str | None,
            *,
            _i: int = i,
            _sid: str | None = sid,
            _l: list[Fault] = faults,
        ) -> None:
            _l.append(Fault(reason, _i, fld, source, _sid))

        if t is None and "type" not in f:
            flt('a feature needs "type": "Feature"', "type")
        elif not isinstance(t, str):
            flt(f'"type" must be a string, got {type_name(t)}', "type")
        elif t != "Feature":
            if t.lower() == "feature":
                flt(f"type is case-sensitive: expected Feature, got {t}", "type")
            else:
                flt(f'a feature needs "type": "Feature", got {t!r}', "type")
        if fid is not None and not (
            isinstance(fid, str | int | float) and not isinstance(fid, bool)
        ):
            flt(f'"id" must be a string or a number, got {type_name(fid)}', "id")
            fid = None
        if props is _MISSING:
            warns.append(
                Fault(
                    'the feature has no "properties" member (RFC 7946 requires '
                    "one); taken as empty",
                    i,
                    "properties",
                    source,
                    sid,
                )
            )
            props = {}
        elif props is None:
            props = {}
        elif not isinstance(props, dict):
            flt(f'"properties" must be an object or null, got {type_name(props)}', "properties")
            props = {}
        if geom is _MISSING:
            near = [k for k in f if "geom" in k.lower() and k != "geometry"]
            hint = f' (found "{near[0]}": misspelled?)' if near else ""
            flt(f'a feature needs a "geometry" member (null if it has none){hint}', "geometry")
            geom = None
        elif geom is not None and not isinstance(geom, dict):
            flt(f'"geometry" must be a geometry object or null, got {type_name(geom)}', "geometry")
            geom = None
        bad, other = foreign_members(f, _FEATURE_MEMBERS, _FEATURE_FORBIDDEN, "a Feature", "")
        for fld, why in bad:
            if strict:
                flt(misplaced(why, strict), fld)
            else:
                warns.append(Fault(misplaced(why, strict), i, fld, source, sid))
        warns.extend(Fault(why, i, fld, source, sid) for fld, why in other)
        if "bbox" in f:
            for fld, why in check_bbox(f["bbox"], "bbox"):
                flt(why, fld)
        if dups is not None:
            for k in dups.get((i,), []):
                flt(f'the feature has duplicate "{k}" members: parsing is ambiguous', k)
        pid = (
            fid
            if isinstance(fid, str | int) and not isinstance(fid, bool)
            else (
                int(fid)
                if isinstance(fid, float) and fid.is_integer()
                else (str(fid) if fid is not None else None)
            )
        )
        append(
            ParsedFeature(i, pid, props, geom if isinstance(geom, dict) else None, faults, warns)
        )
    return out


class _DupDict(dict[str, Any]):
    dups: list[str]


def _duplicates(raw: bytes | bytearray) -> dict[tuple[int, ...], list[str]]:
    """Duplicate member names, keyed () for the root object and (i,) for feature i (any
    duplicate inside feature i, its properties or its geometry)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = _DupDict(pairs)
        if len(d) != len(pairs):
            seen: set[str] = set()
            rep: set[str] = set()
            for k, _ in pairs:
                (rep if k in seen else seen).add(k)
            d.dups = sorted(rep)
        return d

    try:
        tree = json.loads(raw, object_pairs_hook=hook)
    except ValueError:
        return {}
    found: dict[tuple[int, ...], list[str]] = {}

    def any_dups(node: Any) -> list[str]:
        res: list[str] = []
        stack = [node]
        while stack:
            x = stack.pop()
            if isinstance(x, _DupDict):
                res.extend(getattr(x, "dups", []))
                stack.extend(x.values())
            elif isinstance(x, list):
                stack.extend(x)
        return res

    if isinstance(tree, _DupDict):
        root_d = getattr(tree, "dups", None)
        if root_d:
            found[()] = list(root_d)
        feats = tree.get("features")
        if isinstance(feats, list):
            for i, f in enumerate(feats):
                d = any_dups(f)
                if d:
                    found[(i,)] = sorted(set(d))
        else:
            rest = [d for k, v in tree.items() for d in any_dups(v)]
            if rest:
                found.setdefault((), []).extend(rest)
    return found


# --- writing -------------------------------------------------------------------------------


def _coords(g: shapely.Geometry) -> Any:
    tid = shapely.get_type_id(g)
    if tid == 0:
        return shapely.get_coordinates(g)[0]
    if tid in (1, 2, 4):  # LineString, LinearRing, MultiPoint
        return shapely.get_coordinates(g)
    if tid == 3:
        rings = [shapely.get_exterior_ring(g)]
        rings += list(shapely.get_interior_ring(g, range(shapely.get_num_interior_rings(g))))
        return [shapely.get_coordinates(r) for r in rings]
    parts = shapely.get_parts(g)
    return [_coords(p) for p in parts]


_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def geometry_to_geojson(g: shapely.Geometry | None) -> dict[str, Any] | None:
    """A shapely geometry as a GeoJSON geometry object (numpy arrays inside; orjson writes
    them with OPT_SERIALIZE_NUMPY at full double precision)."""
    if g is None:
        return None
    tid = int(shapely.get_type_id(g))
    if tid == 7:
        return {
            "type": "GeometryCollection",
            "geometries": [geometry_to_geojson(p) for p in shapely.get_parts(g)],
        }
    if shapely.is_empty(g):
        return {"type": _TYPE_NAMES[tid], "coordinates": []}
    return {"type": _TYPE_NAMES[tid], "coordinates": _coords(g)}


def write_geojson(
    path: str | pathlib.Path | IO[bytes],
    features: Iterable[tuple[str | int | None, dict[str, Any], shapely.Geometry | None]],
    *,
    name: str | None = None,
    extra_members: dict[str, Any] | None = None,
) -> int:
    """Stream features (id, properties, geometry in CRS84) as an RFC 7946 FeatureCollection.

    Coordinates are written at full double precision (a round trip is exact); no crs member.
    Returns the number of features written.
    """
    opts = orjson.OPT_SERIALIZE_NUMPY
    head: dict[str, Any] = {"type": "FeatureCollection"}
    if name is not None:
        head["name"] = name
    for k, v in (extra_members or {}).items():
        if k in ("type", "features", "crs", "coordinates", "geometry", "properties", "geometries"):
            raise ValueError(f"extra member {k!r} would change GeoJSON semantics")
        head[k] = v
    prefix = orjson.dumps(head, option=opts)[:-1] + b',"features":[\n'
    own = not hasattr(path, "write")
    fh: IO[bytes] = open_private(path, "wb") if own else path  # type: ignore[arg-type,assignment]
    count = 0
    try:
        fh.write(prefix)
        chunk: list[bytes] = []
        for fid, props, geom in features:
            obj: dict[str, Any] = {"type": "Feature"}
            if fid is not None:
                obj["id"] = fid
            obj["properties"] = props if props is not None else {}
            obj["geometry"] = geometry_to_geojson(geom)
            chunk.append(orjson.dumps(obj, option=opts))
            count += 1
            if len(chunk) >= 2000:
                fh.write((b",\n" if count > len(chunk) else b"") + b",\n".join(chunk))
                chunk = []
        if chunk:
            fh.write((b",\n" if count > len(chunk) else b"") + b",\n".join(chunk))
        fh.write(b"\n]}\n")
    finally:
        if own:
            fh.close()
    return count


def features_from_checks(
    parsed: ParsedFile, checks: Sequence[GeometryCheck]
) -> list[tuple[str | int | None, dict[str, Any], Any]]:
    """(id, properties, geometry) of the features that passed, for :func:`write_geojson`."""
    return [
        (f.id, f.properties, c.geometry)
        for f, c in zip(parsed.features, checks, strict=True)
        if not f.faults and not c.faults
    ]


_ = np  # numpy arrays reach orjson through geometry_to_geojson
