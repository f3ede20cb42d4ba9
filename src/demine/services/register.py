"""The hazard register: import, validate, export, list, show, history, restore, update.

Import pipeline, for every format: read (structural faults) → map fields → check geometry
(validity, GICHD geocheck rules; repair when asked) → validate properties → link references →
store all in one transaction. By default one bad feature rejects the whole file and nothing is
stored; with ``skip_invalid`` the good features are stored and the rest listed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from demine.errors import (
    Fault,
    NotFound,
    PermissionDenied,
    StoreFull,
    ValidationError,
)
from demine.ids import is_uuid, normalise_id, uuid7_many
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, Record, validate_properties
from demine.services import records
from demine.services.records import DEPENDENTS as DEPENDENTS
from demine.services.records import LOCAL, WriteContext
from demine.services.records import current_actor as current_actor
from demine.store.base import Revision, Store

RESERVED_IMPORT = frozenset(
    {"id", "source_id", "revision", "created_at", "updated_at", "updated_by", "kind"}
)
DEFAULT_MAX_JUMP_M = 5000.0
LINKS = {
    "hazard_source_id": ("hazard_id", "hazards"),
    "emplacement_source_id": ("emplacement_id", "emplacements"),
    "activity_source_id": ("activity_id", "activities"),
    "accident_source_id": ("accident_id", "accidents"),
}
# stands for a required reference given by its source id, until _link resolves it
_LINK_PENDING = "00000000-0000-0000-0000-000000000000"


@dataclass
class ImportOptions:
    kind: str
    skip_invalid: bool = False
    repair: bool = False
    mapping: dict[str, str] = field(default_factory=dict)  # source field -> demine field
    layer: str | None = None  # source layer (GeoPackage with several)
    wkt_column: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    actor: str | None = None
    reason: str | None = None
    # GICHD geocheck: consecutive vertices further apart than this are a fault (None: the
    # kind's default, 5 km for records and off for reference layers; 0: off)
    max_jump_m: float | None = None


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
        }


def _group_rejects(faults: list[Fault]) -> list[dict[str, Any]]:
    by_index: dict[int | None, list[Fault]] = {}
    for f in faults:
        by_index.setdefault(f.index, []).append(f)
    out = []
    for idx, fs in by_index.items():
        out.append(
            {
                "index": idx,
                "feature_id": fs[0].feature_id,
                "field": fs[0].field,
                "reason": "; ".join(f"{f.field}: {f.reason}" if f.field else f.reason for f in fs),
                "faults": [f.to_dict() for f in fs],
            }
        )
    return out


def _sanitise(name: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    if not s or not s[0].isalpha():
        s = "f_" + s
    return s[:63]


# columns every demine table has: a layer's source field of the same name is kept as src_NAME
TABLE_COLUMNS = frozenset(
    {"fid", "geom", "extra", "revision", "created_at", "updated_at", "updated_by"}
)


def _layer_field(name: str) -> str:
    s = _sanitise(name)
    return "src_" + s if s in TABLE_COLUMNS else s


def _infer_fields(features: Sequence[Any]) -> tuple[FieldSpec, ...]:
    types: dict[str, set[type]] = {}
    for f in features:
        for k, v in f.properties.items():
            if k in RESERVED_IMPORT:
                continue
            if v is None:
                types.setdefault(_layer_field(k), set())
                continue
            types.setdefault(_layer_field(k), set()).add(type(v))
    out = []
    for name, ts in types.items():
        if ts and ts <= {bool}:
            t = FieldType.BOOLEAN
        elif ts and ts <= {int}:
            t = FieldType.INTEGER
        elif ts and ts <= {int, float}:
            t = FieldType.REAL
        else:
            t = FieldType.TEXT
        out.append(FieldSpec(name, t))
    return tuple(out)


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


def _allowed(kind: Kind) -> frozenset[str] | None:
    from demine.geo.checks import NULL

    if kind.allowed_geometries is None or kind.geometry_required:
        return kind.allowed_geometries
    return kind.allowed_geometries | {NULL}


def read_and_check(
    path: Path,
    options: ImportOptions,
    *,
    store: Store | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Kind, list[Record], ImportReport, list[Fault]]:
    """Read and check a file; return the kind, the good records, the report and the faults."""
    from demine.geo.geodesy import geodesic_area
    from demine.io.sources import read_source

    parsed = read_source(
        path,
        layer=options.layer,
        wkt_column=options.wkt_column,
        lon_column=options.lon_column,
        lat_column=options.lat_column,
        geometry=not (options.kind in KINDS and not KINDS[options.kind].geometry_required),
    )
    src = path.name
    report = ImportReport(source=str(path), kind=options.kind, total=len(parsed.features))
    report.warnings.extend(parsed.warnings)
    if parsed.faults:
        raise ValidationError(f"{src}: cannot import this file", list(parsed.faults))

    features = parsed.features
    mapping = options.mapping
    for f in features:
        if mapping:
            f.properties = {mapping.get(k, k): v for k, v in f.properties.items()}
        report.warnings.extend(f.warnings)

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
    aoi = None
    if store is not None:
        a = store.setting("area_of_interest")
        aoi = tuple(a) if a else None
    # vertex jumps: 5 km by default for the register's own records; off for reference layers
    # (admin boundaries have long straight edges) unless asked for
    max_jump: float | None = options.max_jump_m
    if max_jump is None and not is_layer:
        max_jump = DEFAULT_MAX_JUMP_M
    checks = parsed.check_geometries(
        repair=options.repair,
        aoi=aoi,
        max_jump_m=max_jump or None,
        allowed=None if kind is None else _allowed(kind),
    )
    if kind is None:  # a new layer
        try:
            kind = layer_kind(
                lname, _infer_fields(features), _layer_geometry_type([c.geometry for c in checks])
            )
        except ValueError as e:
            raise ValidationError(str(e), [Fault(str(e), field="--kind")]) from None

    # promotion to multi parts and geodesic areas are numpy/GEOS work that releases the GIL:
    # done on a second thread while this one checks the properties
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1)
    geoms_all = np.asarray([c.geometry for c in checks], dtype=object)
    gtype = kind.geometry_type
    want_area = "area_m2" in kind.field_names

    def derive() -> tuple[np.ndarray, np.ndarray | None]:
        if not gtype or not len(geoms_all):
            return geoms_all, None
        promoted = _promote(geoms_all, gtype)
        return promoted, geodesic_area(promoted) if want_area else None

    derived = pool.submit(derive)
    pool.shutdown(wait=False)

    known_types: set[str] | None = None
    if store is not None and "device_type" in kind.field_names:
        known_types = records.known_device_types(store)

    faults: list[Fault] = []
    good: list[Record] = []
    good_index: list[int] = []
    for pos, (f, chk) in enumerate(zip(features, checks, strict=True)):
        fid = None if f.id is None else str(f.id)
        ffaults = [_locate(x, f.index, src, fid) for x in f.faults]
        if chk.faults:
            ffaults += [_locate(x, f.index, src, fid) for x in chk.faults]
        if chk.repairs:
            report.repairs += [_locate(x, f.index, src, fid) for x in chk.repairs]
        if chk.warnings:
            report.warnings += [_locate(x, f.index, src, fid) for x in chk.warnings]
        props = dict(f.properties)
        if kind.is_layer:  # reference data: nested values are kept as JSON text
            props = {
                _layer_field(k): orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v
                for k, v in props.items()
            }
        rid_prop = props.pop("id", None)
        source_id = props.pop("source_id", None)
        for r in RESERVED_IMPORT:
            props.pop(r, None)
        for key, (fname, _) in LINKS.items():  # a required reference given by its source id
            if (
                props.get(key) is not None
                and props.get(fname) is None
                and fname in kind.field_names
            ):
                props[fname] = _LINK_PENDING
        clean, extra, pfaults = validate_properties(
            kind.fields, kind.rules, props, index=f.index, source=src, feature_id=fid
        )
        ffaults += pfaults
        geom = chk.geometry
        if geom is None and kind.geometry_required and not chk.faults and not f.faults:
            ffaults.append(Fault(f"{kind.name} need a geometry", f.index, "geometry", src, fid))
        if known_types is not None:
            bad = records.device_type_fault(
                clean, known_types, index=f.index, source=src, feature_id=fid
            )
            if bad is not None:
                ffaults.append(bad)
        # identity: a UUID id is the record id; any other id is the source's own id
        rid: str | None = None
        for cand in () if kind.is_layer else (rid_prop, f.id):
            if cand is not None and is_uuid(cand):
                rid = normalise_id(cand)
                break
        if source_id is None:
            for cand in (f.id, rid_prop):
                if cand is not None and not is_uuid(cand):
                    source_id = str(cand)
                    break
        if ffaults:
            faults.extend(ffaults)
            continue
        good.append(
            Record(
                kind=kind.name,
                id=rid or "",
                properties=clean,
                geometry=geom,
                source_id=None if source_id is None else str(source_id),
                extra=extra,
            )
        )
        good_index.append(pos)
        if progress is not None and len(good) % 5000 == 0:
            progress(len(good), len(features))

    new_ids = iter(uuid7_many(sum(1 for g in good if not g.id)))
    for g in good:
        if not g.id:
            g.id = next(new_ids)

    # derived values and geometry types
    promoted, areas = derived.result()
    if gtype and good:
        for rec, i in zip(good, good_index, strict=True):
            rec.geometry = promoted[i]
            if areas is not None:
                rec.properties["area_m2"] = round(float(areas[i]), 2)
    return kind, good, report, faults


def _locate(f: Fault, index: int, src: str, fid: str | None) -> Fault:
    if f.index is not None and f.source is not None and (f.feature_id is not None or fid is None):
        return f
    return Fault(
        f.reason,
        f.index if f.index is not None else index,
        f.field,
        f.source or src,
        f.feature_id if f.feature_id is not None else fid,
        f.repairable,
    )


def _link(store: Store, records: list[Record], src: str) -> list[Fault]:
    """Resolve ``hazard_source_id`` / ``emplacement_source_id`` extras into record ids."""
    faults: list[Fault] = []
    wanted: dict[str, set[str]] = {}
    for r in records:
        for key, (_, target) in LINKS.items():
            if key in r.extra:
                wanted.setdefault(target, set()).add(str(r.extra[key]))
    found: dict[tuple[str, str], str] = {}
    for target, sids in wanted.items():
        for rec in store.list(target):
            if rec.source_id in sids:
                found[(target, rec.source_id)] = rec.id
    for i, r in enumerate(records):
        for key, (fname, target) in LINKS.items():
            if key in r.extra:
                rid = found.get((target, str(r.extra[key])))
                if rid is None:
                    faults.append(
                        Fault(f"no {target} record with source id {r.extra[key]!r}", i, key, src)
                    )
                else:
                    r.properties[fname] = rid
    return faults


def import_file(
    store: Store,
    path: Path,
    options: ImportOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    role: str | None = None,
) -> ImportReport:
    """Import a file into the store. Raises ValidationError (nothing stored) when a feature is
    bad, unless ``skip_invalid``."""
    from demine.geo.structure import no_gc

    if role is not None:  # the CLI's --role: who may write this kind (services.access)
        _require_import(store, options.kind, role)
    with no_gc():  # millions of small objects: the cyclic collector would cost a third
        return _import_file(store, path, options, progress=progress, role=role)


def _hidden_fields(store: Store, kind: Kind, good: list[Record], role: str) -> None:
    """A role imports only fields it may read; re-importing a record keeps the fields it may
    not read as they are (a field team's accident import never wipes the investigation)."""
    from demine.services.access import can_read_field

    hidden = [f.name for f in kind.fields if not can_read_field(f.access, role)]
    if not hidden:
        return
    given = sorted({k for r in good for k in r.properties if k in hidden})
    if given:
        raise PermissionDenied(f"the {role} role may not set {', '.join(given)} of {kind.name}")
    by_source = {r.source_id: r for r in store.list(kind.name) if r.source_id is not None}
    for r in good:
        old = by_source.get(r.source_id) if r.source_id is not None else None
        if old is not None:
            r.properties.update({k: old.properties[k] for k in hidden if k in old.properties})


def _require_import(store: Store, kind_name: str, role: str) -> None:
    from demine.services.access import require_write_name

    if kind_name.startswith("layer:"):
        require_write_name(kind_name.split(":", 1)[1], role, is_layer=True)
    elif kind_name in KINDS:
        require_write_name(kind_name, role)


def _import_file(
    store: Store,
    path: Path,
    options: ImportOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    role: str | None = None,
) -> ImportReport:
    kind, good, report, faults = read_and_check(path, options, store=store, progress=progress)
    if role is not None and not kind.is_layer:
        _hidden_fields(store, kind, good, role)
    link_faults = _link(store, good, path.name)
    if not kind.is_layer:  # land-release rules and references, on the linked records
        unlinked = {f.index for f in link_faults}
        pos = [i for i in range(len(good)) if i not in unlinked]
        rule_faults = records.check_records(
            store, kind, [good[i] for i in pos], source=path.name, imported=True
        )
        link_faults += [dataclasses.replace(f, index=pos[f.index or 0]) for f in rule_faults]
    if link_faults:
        bad = {f.index for f in link_faults}
        faults += link_faults
        good = [r for i, r in enumerate(good) if i not in bad]
    report.rejected = _group_rejects(faults)
    if faults and not options.skip_invalid:
        raise ValidationError(
            f"{path.name}: {len(report.rejected)} of {report.total} features rejected; nothing "
            "was stored (use --skip-invalid to store the good ones, --repair to repair what "
            "can be repaired)",
            faults,
        )
    try:
        if kind.is_layer:
            store.create_layer(kind)
        res = store.upsert(
            kind.name,
            good,
            actor=options.actor or current_actor(),
            reason=options.reason or f"import {path.name}",
        )
    except StoreFull:  # the write was rolled back as a whole
        raise StoreFull(
            f"the store's disk is full: nothing was imported from {path.name}; free some "
            "space and import it again"
        ) from None
    report.kind = kind.name if not kind.is_layer else f"layer:{kind.name}"
    report.created, report.updated, report.unchanged = (
        len(res.created),
        len(res.updated),
        len(res.unchanged),
    )
    report.ids = res.created + res.updated + res.unchanged
    report.stored = True
    return report


def validate_file(path: Path, options: ImportOptions, store: Store | None = None) -> ImportReport:
    """The import checks without storing anything."""
    from demine.geo.structure import no_gc

    try:
        with no_gc():
            _, _, report, faults = read_and_check(path, options, store=store)
    except ValidationError as e:
        report = ImportReport(source=str(path), kind=options.kind)
        report.rejected = _group_rejects(e.faults)
        return report
    report.rejected = _group_rejects(faults)
    return report


# --- export -------------------------------------------------------------------------------


def export_rows(
    store: Store, kind: str, *, role: str = "admin"
) -> tuple[Kind, list[tuple[Any, dict[str, Any], Any]]]:
    """The rows of one kind as ``role`` may see them (restricted fields and hidden records
    left out; PermissionDenied when the role may not read the kind)."""
    from demine.services.access import for_role, require_read

    k = store.kind(kind)
    require_read(k, role)
    rows = []
    for r0 in store.list(k.name):
        r = for_role(k, r0, role)
        if r is None:
            continue
        props: dict[str, Any] = {}
        if r.source_id is not None:
            props["source_id"] = r.source_id
        props.update(r.properties)
        for key, v in r.extra.items():
            props.setdefault(key, v)
        props["revision"] = r.revision
        props["updated_at"] = r.updated_at
        rows.append((r.id, props, r.geometry))
    return k, rows


def export_file(store: Store, kind: str, out: Path, *, role: str = "admin") -> int:
    from demine.io.sources import write_rows

    k, rows = export_rows(store, kind, role=role)
    return write_rows(out, rows, layer=k.name, geometry_type=k.geometry_type)


# --- single records -----------------------------------------------------------------------


def show(store: Store, record_id: str, *, role: str = "admin") -> Record:
    from demine.services.access import for_role

    rec = store.locate(_id(record_id))
    out = for_role(store.kind(rec.kind), rec, role)
    if out is None:
        raise PermissionDenied(f"the {role} role cannot read {rec.kind} record {rec.id}")
    return out


def history(store: Store, record_id: str, *, role: str = "admin") -> list[Revision]:
    """Every revision of a record, each state as ``role`` may see it."""
    import dataclasses

    from demine.services.access import for_role, require_read

    revs = store.history(_id(record_id))
    if not revs:
        return revs
    kind = store.kind(revs[0].kind)
    require_read(kind, role)
    out = []
    for h in revs:
        state = h.state
        if state is not None:
            state = for_role(kind, state, role) or dataclasses.replace(
                state, properties={}, extra={}, geometry=None
            )
        out.append(dataclasses.replace(h, state=state))
    return out


def update_record(
    store: Store,
    record_id: str,
    changes: dict[str, Any],
    *,
    geometry: Any = None,
    if_revision: int | None = None,
    ctx: WriteContext = LOCAL,
) -> Record:
    """Change some properties of a record (:func:`demine.services.records.update`)."""
    return records.update(
        store, record_id, changes, geometry=geometry, if_revision=if_revision, ctx=ctx
    )


def delete_record(
    store: Store, record_id: str, *, if_revision: int | None = None, ctx: WriteContext = LOCAL
) -> Revision:
    """Delete a record nothing refers to (:func:`demine.services.records.delete`)."""
    return records.delete(store, record_id, if_revision=if_revision, ctx=ctx)


def restore(store: Store, record_id: str, revision: int, *, ctx: WriteContext = LOCAL) -> Record:
    """Bring back a revision (:func:`demine.services.records.restore`)."""
    return records.restore(store, record_id, revision, ctx=ctx)


def _id(text: str) -> str:
    return records.record_id(text)
