"""The rules of the one write path (:mod:`demine.services.records`) for one record or a batch:
properties (types, ranges, enums, required; the fields a role may set), geometry (the import's
checks, in any CRS), ``device_type`` against the catalogue, natural keys, and the links and
land-release rules (:mod:`demine.services.release_rules`). Each returns located faults; the
writes raise them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import shapely

from demine.errors import Fault, PermissionDenied
from demine.model.kinds import Kind
from demine.model.schema import Record, validate_properties
from demine.services.access import can_read_field
from demine.services.release_rules import check_write
from demine.store.base import Store

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# set by the store, never by a writer (given in a write's properties, ignored)
RESERVED = frozenset(
    {"id", "source_id", "revision", "created_at", "updated_at", "updated_by", "record_organisation"}
)
MAX_JUMP_M = 5000.0  # GICHD geocheck: consecutive vertices further apart (records, not layers)


# --- the rules -------------------------------------------------------------------------------


def known_device_types(store: Store) -> set[str]:
    return {str(r.properties["code"]) for r in store.list("device_types")}


def device_type_fault(
    props: dict[str, Any],
    known: set[str] | frozenset[str],
    *,
    index: int | None = None,
    source: str | None = None,
    feature_id: str | None = None,
) -> Fault | None:
    """A ``device_type`` that is not in the catalogue (device_types.code)."""
    code = props.get("device_type")
    if code is None or code in known:
        return None
    return Fault(
        f"unknown device type {code!r}; known: {', '.join(sorted(known))}",
        index,
        "device_type",
        source,
        feature_id,
    )


def natural_key_faults(
    store: Store,
    kind: Kind,
    records: Sequence[Record],
    *,
    source: str | None = None,
    imported: bool = False,
) -> list[Fault]:
    """A natural key (``device_types.code``) held by another record, or twice in one batch.

    A record's identity is its id; for an import whose record is neither stored under its id
    nor under its source id, the natural key is its identity (the import updates the record
    holding it), so it is no fault."""
    key = kind.natural_key
    if not key or not records:
        return []
    stored = list(store.list(kind.name))
    holder = {r.properties.get(key): r.id for r in stored}
    ids = {r.id for r in stored}
    by_source = {r.source_id: r.id for r in stored if r.source_id is not None}
    faults: list[Fault] = []
    seen: set[Any] = set()
    for i, r in enumerate(records):
        v = r.properties.get(key)
        if v is None:
            continue
        idx = i if source is not None else None
        fid = r.id or None
        if v in seen:
            faults.append(Fault(f"{key} {v!r} is given twice", idx, key, source, fid))
            continue
        seen.add(v)
        who = holder.get(v)
        if who is None:
            continue
        me: str | None = r.id or None
        if imported and me not in ids:
            me = by_source.get(r.source_id) if r.source_id is not None else None
            if me is None:
                continue
        if me != who:
            faults.append(
                Fault(f"{key} {v!r} is taken by {kind.name} record {who}", idx, key, source, fid)
            )
    return faults


def check_records(
    store: Store,
    kind: Kind,
    records: Sequence[Record],
    *,
    source: str | None = None,
    imported: bool = False,
) -> list[Fault]:
    """The rules across records: natural keys, links and land release (sets a release's
    ``hazard_id`` from its activity, in place). Faults carry the position in ``records`` when
    ``source`` is given."""
    if kind.is_layer:
        return []
    faults = natural_key_faults(store, kind, records, source=source, imported=imported)
    return faults + check_write(store, kind.name, records, source=source, imported=imported)


def promote(geom: Any, gtype: str | None) -> Any:
    """A single part as a multi part where the kind's geometry type is a multi type."""
    if geom is None:
        return None
    single = {"MULTIPOLYGON": "Polygon", "MULTILINESTRING": "LineString", "MULTIPOINT": "Point"}
    ctor = {
        "MULTIPOLYGON": shapely.MultiPolygon,
        "MULTILINESTRING": shapely.MultiLineString,
        "MULTIPOINT": shapely.MultiPoint,
    }
    if gtype in single and geom.geom_type == single[gtype]:
        return ctor[gtype]([geom])
    return geom


def derive(kind: Kind, props: dict[str, Any], geom: Any) -> None:
    """Derived properties (a hazard's geodesic ``area_m2``) from the geometry."""
    if "area_m2" in kind.field_names and kind.field("area_m2").derived:
        from demine.geo.geodesy import geodesic_area

        if geom is None:
            props.pop("area_m2", None)
        else:
            props["area_m2"] = round(float(geodesic_area(np.asarray([geom], dtype=object))[0]), 2)


def check_geometry(
    store: Store, kind: Kind, raw: Any, *, crs: str = CRS84, rid: str | None = None
) -> tuple[Any, list[Fault]]:
    """A GeoJSON geometry (in ``crs``) checked with the import's rules: the shapely geometry
    in CRS84, promoted to the kind's type, or the faults."""
    from demine.geo.checks import check_geometry as check

    if raw is not None and hasattr(raw, "geom_type"):  # a shapely geometry
        raw = orjson.loads(shapely.to_geojson(raw))
    if raw is None:
        if kind.geometry_required:
            return None, [Fault(f"{kind.name} need a geometry", None, "geometry", None, rid)]
        return None, []
    if not kind.geometry_type:
        return None, [Fault(f"{kind.name} have no geometry", None, "geometry", None, rid)]
    if not isinstance(raw, dict):
        return None, [Fault("geometry must be a GeoJSON geometry object", None, "geometry")]
    if crs != CRS84:
        from demine.geo.crs import to_crs84

        try:
            raw = orjson.loads(shapely.to_geojson(to_crs84(shapely.geometry.shape(raw), crs)))
        except Exception as e:
            return None, [Fault(f"cannot read the geometry: {e}", None, "geometry", None, rid)]
    aoi = store.setting("area_of_interest")
    chk = check(
        raw,
        repair=False,
        aoi=tuple(aoi) if aoi else None,
        max_jump_m=None if kind.is_layer else MAX_JUMP_M,
        allowed=kind.allowed_geometries,
    )
    faults = [Fault(f.reason, None, f.field, None, rid, f.repairable) for f in chk.faults]
    if faults:
        return None, faults
    if chk.geometry is None or chk.geometry.is_empty:
        # an empty geometry ({"type": "Polygon", "coordinates": [[]]}) is no geometry: refused
        # as an import refuses it, never taken as "keep the old one"
        if kind.geometry_required:
            return None, [Fault(f"{kind.name} need a geometry", None, "geometry", None, rid)]
        return None, [
            Fault(
                f"an empty {raw.get('type')} has no coordinates: leave the geometry out "
                "(null) for none",
                None,
                "geometry",
                None,
                rid,
            )
        ]
    return promote(chk.geometry, kind.geometry_type), []


def require_settable(kind: Kind, names: Iterable[str], role: str | None) -> None:
    """PermissionDenied, naming the kind and the fields, when ``role`` sets fields it may not
    read (``services.access``): on every face the same refusal (HTTP 403, CLI exit 5), before
    any other check. Derived and unknown names are no fields a writer sets; None (a local user
    with no ``--role``) may set every field."""
    if role is None:
        return
    hidden = sorted(
        {
            k
            for k in names
            if k in kind.field_names
            and not kind.field(k).derived
            and not can_read_field(kind.field(k).access, role)
        }
    )
    if hidden:
        raise PermissionDenied(f"the {role} role may not set {', '.join(hidden)} of {kind.name}")


def check_properties(
    store: Store,
    kind: Kind,
    props: dict[str, Any],
    *,
    role: str | None = None,
    keep: dict[str, Any] | None = None,
    rid: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[Fault]]:
    """Properties validated against the kind: the clean ones, the extra (unknown) ones and the
    faults. Derived and reserved fields are ignored. Fields ``role`` may not read cannot be
    set (:func:`require_settable`); ``keep`` (the stored values) gives them back, so a write
    never loses what it cannot see."""
    require_settable(kind, (k for k in props if k not in RESERVED), role)
    faults: list[Fault] = []
    given: dict[str, Any] = {}
    names = set(kind.field_names)
    for k, v in props.items():
        if k in RESERVED:
            continue
        if k in names:
            f = kind.field(k)
            if f.derived:
                continue
        given[k] = v
    if keep and role is not None:
        for f in kind.fields:
            if not can_read_field(f.access, role) and f.name in keep:
                given[f.name] = keep[f.name]
    clean, extra, pfaults = validate_properties(kind.fields, kind.rules, given, feature_id=rid)
    faults += [Fault(f.reason, None, f.field, None, rid) for f in pfaults]
    if "device_type" in names:
        bad = device_type_fault(clean, known_device_types(store), feature_id=rid)
        if bad is not None:
            faults.append(bad)
    return clean, extra, faults
