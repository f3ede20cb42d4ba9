"""Reading and checking a file for import, storing nothing: read (structural faults) → map
fields → check geometry (validity, GICHD geocheck rules; repair when asked) → validate
properties → ``device_type`` against the catalogue. The checks across records, the linking and
the storing are in :mod:`demine.services.imports`; a new reference layer takes its fields and
geometry type from the file here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from demine.errors import Fault, NotFound, ValidationError
from demine.ids import is_uuid, normalise_id, uuid7_many
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import Record, validate_many
from demine.services.import_faults import (
    FeatureIds,
    name_faults,
    without_empty_warning,
    zero_area_faults,
)
from demine.services.import_faults import group_rejects as group_rejects
from demine.services.import_geometry import halves, submit_parts
from demine.services.import_mapping import FieldMapping, resolve_mapping
from demine.services.layer_fields import LayerNames, infer_fields, layer_names
from demine.services.record_rules import device_type_fault, known_device_types
from demine.store.base import Store

RESERVED_IMPORT = frozenset(
    {
        "id",
        "source_id",
        "revision",
        "created_at",
        "updated_at",
        "updated_by",
        "record_organisation",
        "kind",
    }
)
DEFAULT_MAX_JUMP_M = 5000.0
LINKS = {
    "hazard_source_id": ("hazard_id", "hazards"),
    "emplacement_source_id": ("emplacement_id", "emplacements"),
    "activity_source_id": ("activity_id", "activities"),
    "accident_source_id": ("accident_id", "accidents"),
}
# stands for a required reference given by its source id, until the import links it
LINK_PENDING = "00000000-0000-0000-0000-000000000000"


@dataclass
class ImportOptions:
    kind: str
    skip_invalid: bool = False
    repair: bool = False
    mapping: dict[str, str] = field(default_factory=dict)  # source field -> demine field
    # the rest of the mapping (services.import_mapping): a TOML file, then the options over it
    mapping_file: Path | None = None
    set_values: dict[str, Any] = field(default_factory=dict)  # field -> fills a missing value
    value_map: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> src -> value
    date_formats: dict[str, str] = field(default_factory=dict)  # field -> strptime format
    layer: str | None = None  # source layer (GeoPackage with several)
    wkt_column: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    actor: str | None = None
    reason: str | None = None
    # GICHD geocheck: consecutive vertices further apart than this are a fault (None: the
    # kind's default, 5 km for records and off for reference layers; 0: off)
    max_jump_m: float | None = None
    # GeoJSON: refuse the members RFC 7946 §7.1 forbids where they are (default: a warning)
    strict: bool = False
    # duplicates (services.duplicates): skip them (the first of a group is kept); the
    # tolerance of "near" for points, in metres (0: exact duplicates only)
    skip_duplicates: bool = False
    duplicate_tolerance_m: float = 1.0


@dataclass
class ImportReport:
    source: str
    kind: str
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    repairs: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)
    stored: bool = False
    ids: list[str] = field(default_factory=list)
    # the feature index in the source of each good record (read_and_check's list), for faults
    # found after the check
    indexes: list[int] = field(default_factory=list)
    duplicates: int = 0  # features that duplicate another or a stored record (warnings)
    skipped_duplicates: int = 0  # of those, not stored (--skip-duplicates)
    duplicates_of_stored: int = 0  # of those, duplicates of stored records
    # every feature's id in the file and its record's source id, by feature index: named on
    # each fault (services.import_faults)
    feature_ids: FeatureIds = field(default_factory=dict)
    # the file was read as an ODK Central or KoboToolbox export ("odk", "kobo"; io.odk)
    export: str | None = None
    # a part of the file read (services.import_split): the index in the file of its first
    # feature; None: not known, its indexes count from 0 in the part (io.geojson.read_geojson)
    first_index: int | None = 0
    cut: bool = False  # that part was cut by bytes (io.geojson.read_geojson)
    # each good record's geodesic area before rounding (read_and_check's ``measured``)
    areas: list[float] | None = None

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "total": self.total,
            "imported": self.imported,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stored": self.stored,
            "rejected": self.rejected,
            "repairs": [f.to_dict() for f in self.repairs],
            "warnings": [f.to_dict() for f in self.warnings],
            "duplicates": self.duplicates,
            "skipped_duplicates": self.skipped_duplicates,
            "duplicates_of_stored": self.duplicates_of_stored,
        }


def _layer_geometry_type(geoms: Sequence[Any]) -> str:
    types = {g.geom_type for g in geoms if g is not None}
    if not types:
        return "GEOMETRY"
    if types <= {"Polygon", "MultiPolygon"}:
        return "MULTIPOLYGON"
    if types <= {"LineString", "MultiLineString"}:
        return "MULTILINESTRING"
    if types == {"Point"}:
        return "POINT"
    if types <= {"Point", "MultiPoint"}:
        return "MULTIPOINT"
    return "GEOMETRY"


def _promote(geoms: np.ndarray, gtype: str | None) -> np.ndarray:
    """Single parts to multi parts where the table's geometry type is a multi type."""
    if gtype not in ("MULTIPOLYGON", "MULTILINESTRING", "MULTIPOINT"):
        return geoms
    single = {"MULTIPOLYGON": 3, "MULTILINESTRING": 1, "MULTIPOINT": 0}[gtype]
    ctor = {
        "MULTIPOLYGON": shapely.multipolygons,
        "MULTILINESTRING": shapely.multilinestrings,
        "MULTIPOINT": shapely.multipoints,
    }[gtype]
    out = geoms.copy()
    idx = np.flatnonzero(shapely.get_type_id(geoms) == single)
    if len(idx):
        out[idx] = ctor(geoms[idx], indices=np.arange(len(idx)))
    return out


def _derived_of(part: Future[Any]) -> Callable[[], Any]:
    """The geometries and areas of one part of the geometry work, when done."""
    return lambda: part.result()[1:]


def _allowed(kind: Kind) -> frozenset[str] | None:
    from demine.geo.checks import NULL

    if kind.allowed_geometries is None or kind.geometry_required:
        return kind.allowed_geometries
    return kind.allowed_geometries | {NULL}


def field_mapping(options: ImportOptions) -> FieldMapping:
    """The mapping of ``options`` (its file read and checked); raises before any source is
    read."""
    return resolve_mapping(
        options.kind,
        mapping_file=options.mapping_file,
        rename=options.mapping,
        set_values=options.set_values,
        values=options.value_map,
        dates=options.date_formats,
    )


@dataclass(frozen=True)
class StoreView:
    """What the checks read of the store, read once (:func:`store_view`): a process forked
    to check a part of the file (services.import_split) never uses the store's connection."""

    area_of_interest: tuple[float, float, float, float] | None
    derived_built: bool
    device_types: frozenset[str] | None  # the catalogue's codes (None: the kind has none)


def store_view(store: Store, kind: Kind) -> StoreView:
    types = None
    if "device_type" in kind.field_names:
        types = frozenset(known_device_types(store))
    return StoreView(_aoi(store), store.derived_built(), types)


def _aoi(store: Store | None) -> tuple[float, float, float, float] | None:
    a = None if store is None else store.setting("area_of_interest")
    return (float(a[0]), float(a[1]), float(a[2]), float(a[3])) if a else None


def read_and_check(
    path: Path,
    options: ImportOptions,
    *,
    store: Store | None = None,
    progress: Callable[[int, int], None] | None = None,
    part: tuple[int, int, int] | None = None,
    view: StoreView | None = None,
    measured: bool = False,
) -> tuple[Kind, list[Record], ImportReport, list[Fault]]:
    """Read and check a file; return the kind, the good records, the report and the faults.
    ``part`` (a, b, k): only a GeoJSON file's features from a/k to b/k of them (the report's
    ``total`` counts those; services.import_split). ``view``: what is read of ``store``,
    read already (the store is then not used: a built-in kind). ``measured``: each good
    record's area before rounding in the report's ``areas`` (a first import makes its
    derived rows from them: services.import_split), and no land-release account made ahead."""
    from demine.geo.geodesy import geodesic_area
    from demine.io.sources import format_of, read_source

    fmap = field_mapping(options)
    parsed = read_source(
        path,
        layer=options.layer,
        wkt_column=options.wkt_column,
        lon_column=options.lon_column,
        lat_column=options.lat_column,
        geometry=not (options.kind in KINDS and not KINDS[options.kind].geometry_required),
        strict=options.strict,
        part=part,
    )
    src = path.name
    report = ImportReport(source=str(path), kind=options.kind, total=len(parsed.features))
    report.export = parsed.export
    report.first_index, report.cut = parsed.first, parsed.cut
    report.warnings.extend(parsed.warnings)
    if parsed.faults:
        raise ValidationError(f"{src}: cannot import this file", list(parsed.faults))

    features = parsed.features
    # the fields whose value the mapping could not read, per feature: one fault each
    unread: dict[int, set[str | None]] = {}
    for pos, f in enumerate(features):
        if fmap:
            f.properties, mfaults = fmap.apply(
                f.properties,
                index=f.index,
                source=src,
                feature_id=None if f.id is None else str(f.id),
            )
            f.faults.extend(mfaults)
            if mfaults:
                unread[pos] = {x.field for x in mfaults}

    # the kind: built in, an existing layer, or a new layer shaped by this file
    is_layer = options.kind.startswith("layer:")
    if is_layer:
        lname = options.kind.split(":", 1)[1]
        kind: Kind | None = None
        if store is not None:
            try:
                kind = store.kind(lname)
            except NotFound:
                kind = None
    else:
        kind = KINDS.get(options.kind)
        if kind is None:
            raise ValidationError(
                f"unknown kind {options.kind!r}",
                [Fault(f"expected one of {', '.join(KINDS)} or layer:NAME", field="--kind")],
            )
    if parsed.export is not None and kind is not None:  # "at uxo" of a select-multiple
        from demine.io.odk import multiple_values
        from demine.model.schema import FieldType

        many = [x.name for x in kind.fields if x.type is FieldType.ENUM_LIST]
        for f in features:
            multiple_values(f.properties, many)
    if view is None and store is not None and kind is not None:
        view = store_view(store, kind)
    aoi = _aoi(store) if view is None else view.area_of_interest
    # vertex jumps: 5 km by default for the register's own records; off for reference layers
    # (admin boundaries have long straight edges) unless asked for
    max_jump: float | None = options.max_jump_m
    if max_jump is None and not is_layer:
        max_jump = DEFAULT_MAX_JUMP_M
    from concurrent.futures import ThreadPoolExecutor

    def run_checks(span: tuple[int, int] | None = None) -> list[Any]:
        return parsed.check_geometries(
            repair=options.repair,
            aoi=aoi,
            max_jump_m=max_jump or None,
            allowed=None if kind is None else _allowed(kind),
            span=span,
        )

    def derive_of(checks: list[Any], k: Kind) -> tuple[np.ndarray, np.ndarray | None]:
        geoms_all = np.asarray([c.geometry for c in checks], dtype=object)
        if not k.geometry_type or not len(geoms_all):
            return geoms_all, None
        promoted = _promote(geoms_all, k.geometry_type)
        return promoted, geodesic_area(promoted) if "area_m2" in k.field_names else None

    # the geometry checks (most of it numpy and GEOS, which release the GIL), then promotion
    # to multi parts and geodesic areas: on a second thread while this one checks the
    # properties (a new or existing reference layer needs them first: its fields and names);
    # a large file's on two threads, each with half the features (services/import_geometry)
    spans = [(0, len(features))] if is_layer or parsed.flat is None else halves(len(features))
    pool = ThreadPoolExecutor(max_workers=len(spans))
    parts: list[Future[Any]] = []
    checked: Any  # a future's result(): every feature's geometry check, in order
    names: LayerNames | None = None
    if is_layer:  # the columns of a reference layer: the source's names, where safe
        done: Future[list[Any]] = Future()
        done.set_result(run_checks())
        checked = done
        names = layer_names(features, src, kind)
        if names.faults:
            raise ValidationError(f"{src}: cannot import this file", names.faults)
        report.warnings.extend(names.warnings)
    elif len(spans) == 1:
        checked = pool.submit(run_checks)
    else:
        k0 = kind
        assert k0 is not None
        parts, checked, joined = submit_parts(pool, spans, run_checks, lambda c: derive_of(c, k0))
    if kind is None:  # a new layer
        assert names is not None
        try:
            kind = layer_kind(
                lname,
                infer_fields(features, names, parsed.field_types, csv=format_of(path) == "csv"),
                _layer_geometry_type([c.geometry for c in checked.result()]),
            )
        except ValueError as e:
            raise ValidationError(str(e), [Fault(str(e), field="--kind")]) from None

    gtype = kind.geometry_type
    k1 = kind
    derived = joined if parts else pool.submit(lambda: derive_of(checked.result(), k1))
    if view is None and store is not None:  # a new layer's kind is known only now
        view = store_view(store, kind)
    if kind.name == "hazards" and view is not None and view.derived_built and not measured:
        # each hazard's land-release account (nothing released yet: its polygon and area),
        # for the store's upkeep of its derived tables, made on the same thread after the areas
        # (each part's on its thread)
        from demine.geo.release import prepare_unreleased

        for piece in parts:
            prepare_unreleased(pool.submit, _derived_of(piece))
        if not parts:
            prepare_unreleased(pool.submit, derived.result)
    pool.shutdown(wait=False)

    known_types = None if view is None else view.device_types

    faults: list[Fault] = []
    good: list[Record] = []
    good_index: list[int] = []
    ids: list[tuple[str, int, str, str]] = []  # every feature's ids, for repeated ones
    # the loop below runs once per feature (100,000 in a large import): names looked up once
    reserved = RESERVED_IMPORT  # (a reference layer's keeps all but "id" and "source_id")
    links = [(key, fname) for key, (fname, _) in LINKS.items() if fname in kind.field_names]
    fields, rules, kname = kind.fields, kind.rules, kind.name
    uuid_ids = not kind.is_layer
    need_geom = kind.geometry_required
    feature_ids = report.feature_ids
    # first the properties of every feature (while the geometries are checked)...
    n = len(features)
    fids = [None if f.id is None else str(f.id) for f in features]
    indexes = [f.index for f in features]
    given: list[Mapping[str, Any]] = []  # each feature's properties without its ids
    own_ids: list[tuple[Any, Any]] = []  # each one's "id" and "source_id" properties
    for f in features:
        props = f.properties
        if names is not None:  # reference data: nested values are kept as JSON text
            props = {
                k: orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v
                for k, v in names.props(props).items()
            }
            own_ids.append((props.pop("id", None), props.pop("source_id", None)))
        elif not reserved.isdisjoint(props):  # "id" and "source_id" are reserved too
            props = dict(props)
            own_ids.append((props.pop("id", None), props.pop("source_id", None)))
            for r in reserved:
                props.pop(r, None)
        else:  # unchanged: not copied
            own_ids.append((None, None))
        for key, fname in links:  # a required reference given by its source id
            if props.get(key) is not None and props.get(fname) is None:
                if props is f.properties:
                    props = dict(props)
                props[fname] = LINK_PENDING
        given.append(props)
    checks: list[tuple[dict[str, Any], dict[str, Any], list[Fault]]] = []
    for start in range(0, n, 5000):  # the checks column by column, 5,000 features at a time
        end = min(start + 5000, n)
        checks += validate_many(
            fields,
            rules,
            given[start:end],
            indexes=indexes[start:end],
            source=src,
            feature_ids=fids[start:end],
        )
        if progress is not None and end % 5000 == 0:
            progress(end, n)
    # each feature's record, made now for those without a property fault (while the
    # geometries are checked), or its faults for later
    pre: list[Record | None] = []
    later: list[tuple[Sequence[Fault], Fault | None]] = []
    for pos, (f, (clean, extra, pfaults), (rid_prop, source_id)) in enumerate(
        zip(features, checks, own_ids, strict=True)
    ):
        fid, index = fids[pos], indexes[pos]
        if pfaults and pos in unread:
            skip = unread[pos]
            pfaults = [p for p in pfaults if p.field not in skip]
        bad = None
        if known_types is not None:
            bad = device_type_fault(clean, known_types, index=index, source=src, feature_id=fid)
        # identity: a UUID id is the record id; any other id is the source's own id
        id_is_uuid = f.id is not None and is_uuid(f.id)
        rid: str | None = None
        if uuid_ids:
            if rid_prop is not None and is_uuid(rid_prop):
                rid = normalise_id(rid_prop)
            elif id_is_uuid:
                rid = normalise_id(f.id)
        if source_id is None:
            if f.id is not None and not id_is_uuid:
                source_id = str(f.id)
            elif rid_prop is not None and not is_uuid(rid_prop):
                source_id = str(rid_prop)
        if rid:
            ids.append((src, index, "id", str(rid)))
        if source_id:
            ids.append((src, index, "source_id", str(source_id)))
        sid = None if source_id is None else str(source_id)
        feature_ids[index] = (fid, sid)
        if pfaults or bad is not None or f.faults:
            pre.append(None)
            later.append((pfaults, bad))
        else:
            pre.append(Record(kname, rid or "", clean, None, sid, extra=extra))
            later.append(((), None))
    new = [x for x in pre if x is not None and not x.id]  # a new id for each of the others
    for x, new_id in zip(new, uuid7_many(len(new)), strict=True):
        x.id = new_id
    from demine.services.duplicates import repeated_ids

    repeated, drop = repeated_ids(ids)  # a located fault; none of those features is stored

    # ...then with each one's geometry check
    for pos, (f, chk, rec) in enumerate(zip(features, checked.result(), pre, strict=True)):
        geom = chk.geometry
        if rec is not None and not chk.faults and (geom is not None or not need_geom):
            if f.warnings or chk.warnings or chk.repairs:
                fid, index = fids[pos], indexes[pos]
                fwarn = [locate(x, index, src, fid) for x in (*f.warnings, *chk.warnings)]
                report.warnings += fwarn
                # a rejected feature is not repaired: its repairs are not listed
                report.repairs += [locate(x, index, src, fid) for x in chk.repairs]
            rec.geometry = geom
            good.append(rec)
            good_index.append(pos)
            continue
        fid, index = fids[pos], indexes[pos]
        given_faults, bad = later[pos]
        ffaults = [locate(x, index, src, fid) for x in f.faults] if f.faults else []
        if chk.faults:
            ffaults += [locate(x, index, src, fid) for x in chk.faults]
        if f.warnings or chk.warnings:
            fwarn = [locate(x, index, src, fid) for x in (*f.warnings, *chk.warnings)]
            report.warnings += without_empty_warning(fwarn, chk.faults)
        ffaults += given_faults
        if geom is None and need_geom and not chk.faults and not f.faults:
            ffaults.append(Fault(f"{kname} need a geometry", index, "geometry", src, fid))
        if bad is not None:
            ffaults.append(bad)
        faults.extend(ffaults)
    if repeated:
        faults.extend(repeated)
        keep = [i for i, p in enumerate(good_index) if (src, indexes[p]) not in drop]
        good, good_index = [good[i] for i in keep], [good_index[i] for i in keep]
    report.indexes = [indexes[i] for i in good_index]
    report.warnings = name_faults(report.warnings, report.feature_ids, src)
    report.repairs = name_faults(report.repairs, report.feature_ids, src)
    faults = name_faults(faults, report.feature_ids, src)

    # derived values and geometry types
    promoted, areas = derived.result()
    area_of = None if areas is None else areas.tolist()
    if gtype and good:
        geoms = promoted.tolist()
        for rec, i in zip(good, good_index, strict=True):
            rec.geometry = geoms[i]
            if area_of is not None:
                rec.properties["area_m2"] = round(area_of[i], 2)
    if area_of is not None and good:  # a polygon of no area is a fault, never area_m2 = 0
        garr = np.empty(len(good), dtype=object)
        garr[:] = [r.geometry for r in good]
        polygonal = np.isin(shapely.get_type_id(garr), (3, 6)).tolist()
        good, faults = _without_zero_area(
            good,
            [area_of[i] if p else None for i, p in zip(good_index, polygonal, strict=True)],
            report,
            faults,
            src,
            kind.name,
        )
    if measured and area_of is not None:
        left = set(report.indexes)  # those left after the areas of zero
        report.areas = [area_of[i] for i in good_index if indexes[i] in left]
    return kind, good, report, faults


def _without_zero_area(
    good: list[Record],
    areas: list[float | None],
    report: ImportReport,
    faults: list[Fault],
    src: str,
    kind: str,
) -> tuple[list[Record], list[Fault]]:
    """``good`` without the polygons of no area, ``faults`` with theirs."""
    repaired = {r.index for r in report.repairs if r.index is not None}
    zero = zero_area_faults(areas, report.indexes, repaired, src, kind)
    if not zero:
        return good, faults
    bad = {report.indexes[p] for p in zero}
    faults = faults + name_faults(zero.values(), report.feature_ids, src)
    report.repairs = [r for r in report.repairs if r.index not in bad]
    report.indexes = [x for p, x in enumerate(report.indexes) if p not in zero]
    return [r for p, r in enumerate(good) if p not in zero], faults


def locate(f: Fault, index: int, src: str, fid: str | None) -> Fault:
    if f.index is not None and f.source is not None and (f.feature_id is not None or fid is None):
        return f
    return dataclasses.replace(
        f,
        index=f.index if f.index is not None else index,
        source=f.source or src,
        feature_id=f.feature_id if f.feature_id is not None else fid,
    )
