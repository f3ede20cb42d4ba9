"""The quality of a submission (issue 13): completeness against the minimum data of its kind,
the geocheck rules, plausibility, and a score from 0 to 100 with every deduction and its rule.

* **Completeness.** The minimum data per kind (:data:`MINIMUM_DATA_FILE`, after the GICHD's
  draft Minimum Data Requirements; docs/quality.md) lists fields with a weight; each one
  missing costs its weight, a date given as ``unknown`` half of it (incomplete, not invalid).
  A store replaces a kind's table with the setting :data:`SETTING` (TOML text or a JSON
  object of the same shape).
* **Validity and geocheck.** The properties are checked as a write checks them (a fault costs
  :data:`WEIGHTS` ``invalid``), the geometry with the import's rules (OGC validity, the GICHD
  geocheck: ``geocheck`` per fault, ``geocheck_warning`` per warning).
* **Plausibility.** The kind's record rules (dates in order, not in the future, status and
  dates agree), a find or emplacement inside the hazard it names, a hazard's (or release's)
  area change against the stored record beyond :data:`AREA_CHANGE`, a geometry outside the
  store's area of interest.

Nothing is stored: :func:`assess` reads the store (settings, the hazard a record names) only.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import orjson
import shapely

from demine.errors import Fault, NotFound, ValidationError
from demine.model.dates import UNKNOWN
from demine.model.kinds import Kind
from demine.model.schema import FieldType, Record, validate_properties
from demine.store.base import Store

SETTING = "quality.minimum_data"  # the store setting that replaces kinds' minimum data
MINIMUM_DATA_FILE = "services/minimum_data.toml"  # in the package
GEOMETRY = "geometry"  # a minimum-data item: the record's geometry
# the deduction per issue, by rule (a missing minimum-data field costs its own weight)
WEIGHTS: dict[str, float] = {
    "invalid": 20.0,  # a property fault the write path refuses
    "geocheck": 20.0,  # a geometry fault (OGC validity, GICHD geocheck) the write path refuses
    "geocheck_warning": 5.0,  # a geometry warning (duplicate vertices, Z dropped, ...)
    "record_rule": 15.0,  # dates out of order or in the future; status and dates disagree
    "link": 15.0,  # a hazard_id that names no stored hazard
    "outside_hazard": 15.0,  # a find or emplacement outside the hazard it names
    "area_change": 10.0,  # the area changes by more than AREA_CHANGE against the stored record
    "outside_area_of_interest": 15.0,  # a geometry outside the store's area of interest
}
UNKNOWN_SHARE = 0.5  # a minimum-data date given as "unknown" costs this share of its weight
AREA_CHANGE = 0.5  # relative change of area flagged (0.5: grown or shrunk by more than 50 %)
INSIDE_TOLERANCE_M = 10.0  # a find this close outside its hazard's edge is still inside (GNSS)
INSIDE_KINDS = frozenset({"finds", "emplacements"})  # records that lie inside their hazard_id
MAX_WEIGHT = 100.0


@dataclass(frozen=True, slots=True)
class Item:
    """One minimum-data item of a kind: a field (or ``geometry``), its weight, its source."""

    field: str
    weight: float
    source: str


@dataclass(slots=True)
class Issue:
    """One finding: the rule, where (a field or ``geometry``), what, and the points it cost."""

    rule: str
    message: str
    field: str | None = None
    deduction: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
            "deduction": self.deduction,
        }


@dataclass(slots=True)
class Quality:
    """What :func:`assess` found: the score (0-100), the missing minimum data and each issue."""

    kind: str
    score: int
    missing: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    minimum_data: str = "built-in"  # where the minimum data came from

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what a submission stores as its ``quality``)."""
        return {
            "kind": self.kind,
            "score": self.score,
            "complete": self.complete,
            "missing": list(self.missing),
            "issues": [i.to_dict() for i in self.issues],
            "minimum_data": self.minimum_data,
        }


# --- the minimum data ------------------------------------------------------------------------


def builtin_text() -> str:
    """The built-in minimum data (TOML), as shipped in the package."""
    return resources.files("demine").joinpath(MINIMUM_DATA_FILE).read_text("utf-8")


def parse_minimum_data(data: Any, *, source: str) -> dict[str, tuple[Item, ...]]:
    """A minimum-data table (TOML text, or the parsed/JSON object ``{kind: {field: {weight,
    source}}}``) checked against the kinds: every fault named by its place (``hazards.name``)
    and ``source``."""
    from demine.model.kinds import KINDS

    if isinstance(data, str):
        try:
            data = tomllib.loads(data)
        except tomllib.TOMLDecodeError as e:
            raise ValidationError(
                f"{source}: not valid TOML", [Fault(str(e), source=source)]
            ) from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"{source}: bad minimum data",
            [Fault(f"expected a table of kinds, got {type(data).__name__}", source=source)],
        )
    faults: list[Fault] = []

    def bad(where: str, reason: str) -> None:
        faults.append(Fault(reason, field=where, source=source))

    out: dict[str, tuple[Item, ...]] = {}
    for kname, table in data.items():
        kind = KINDS.get(kname)
        if kind is None or kind.is_layer:
            bad(str(kname), f"unknown kind; expected one of {', '.join(KINDS)}")
            continue
        if not isinstance(table, dict):
            bad(kname, f"expected a table of fields ([{kname}]), got {table!r}")
            continue
        known = (*kind.field_names, GEOMETRY) if kind.geometry_type else kind.field_names
        items: list[Item] = []
        for fname, spec in table.items():
            where = f"{kname}.{fname}"
            if fname not in known or (fname != GEOMETRY and kind.field(fname).derived):
                bad(where, f"not a field of {kname}; its fields: {', '.join(known)}")
                continue
            if isinstance(spec, int | float) and not isinstance(spec, bool):
                spec = {"weight": spec}
            if not isinstance(spec, dict):
                bad(where, f'expected {{ weight = N, source = "..." }}, got {spec!r}')
                continue
            unknown = sorted(set(spec) - {"weight", "source"})
            if unknown:
                bad(where, f"unknown key {', '.join(unknown)}; the keys are weight and source")
                continue
            w = spec.get("weight")
            if (
                isinstance(w, bool)
                or not isinstance(w, int | float)
                or not math.isfinite(w)
                or not 0 < w <= MAX_WEIGHT
            ):
                bad(f"{where}.weight", f"expected a number above 0 and at most 100, got {w!r}")
                continue
            src = spec.get("source", "")
            if not isinstance(src, str):
                bad(f"{where}.source", f"expected text, got {src!r}")
                continue
            items.append(Item(fname, float(w), src))
        out[kname] = tuple(items)
    if faults:
        raise ValidationError(f"{source}: bad minimum data", faults)
    return out


_BUILTIN: dict[str, tuple[Item, ...]] | None = None


def builtin() -> dict[str, tuple[Item, ...]]:
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = parse_minimum_data(builtin_text(), source=f"demine/{MINIMUM_DATA_FILE}")
    return _BUILTIN


def minimum_data(store: Store) -> tuple[dict[str, tuple[Item, ...]], str]:
    """The minimum data in force in ``store``: the built-in table with the kinds the store's
    setting gives replaced; and where it came from. A bad setting is a located
    ValidationError."""
    table = dict(builtin())
    saved = store.setting(SETTING)
    if not saved:
        return table, "built-in"
    table.update(parse_minimum_data(saved, source=f"store setting {SETTING}"))
    return table, f"built-in, with the store setting {SETTING}"


def save_minimum_data(store: Store, data: Any, *, source: str) -> dict[str, tuple[Item, ...]]:
    """Check ``data`` (TOML text or an object) and keep it as the store's setting (as an
    object); None or empty clears it. Returns the parsed kinds."""
    if data is None or data == "" or data == {}:
        store.set_setting(SETTING, None)
        return {}
    parsed = parse_minimum_data(data, source=source)
    if isinstance(data, str):
        data = tomllib.loads(data)
    store.set_setting(SETTING, data)
    return parsed


# --- the assessment --------------------------------------------------------------------------


def _raw_geometry(geometry: Any) -> Any:
    if geometry is not None and hasattr(geometry, "geom_type"):
        return orjson.loads(shapely.to_geojson(geometry))
    return geometry


def assess(
    store: Store,
    kind: str,
    properties: dict[str, Any],
    geometry: Any,
    existing: Record | None = None,
) -> Quality:
    """The quality of one record as submitted: ``properties`` as given (before coercion),
    ``geometry`` GeoJSON (CRS84) or shapely or None; ``existing`` the stored record it would
    change (for the area change)."""
    k = store.kind(kind)
    items, where_from = minimum_data(store)
    issues: list[Issue] = []
    # an empty value is no value: missing (completeness), not a fault
    properties = {n: v for n, v in properties.items() if v is not None and v != ""}
    clean, _, faults = validate_properties(k.fields, (), properties, partial=True)
    if "device_type" in k.field_names:
        from demine.services.record_rules import device_type_fault, known_device_types

        dt = device_type_fault(clean, known_device_types(store))
        if dt is not None:
            faults.append(dt)
    for f in faults:
        issues.append(Issue("invalid", f.reason, f.field, WEIGHTS["invalid"]))
    geom, g_issues = _geocheck(k, _raw_geometry(geometry))
    issues += g_issues
    missing: list[str] = []
    for it in items.get(k.name, ()):
        if it.field == GEOMETRY:
            if geom is None and not any(i.rule == "geocheck" for i in g_issues):
                missing.append(GEOMETRY)
                issues.append(Issue("completeness", "no geometry", GEOMETRY, it.weight))
            continue
        v = clean.get(it.field)
        bad = any(f.field == it.field for f in faults)
        if v == UNKNOWN and k.field(it.field).type in (FieldType.DATE, FieldType.DATETIME):
            missing.append(it.field)
            issues.append(
                Issue(
                    "completeness",
                    f"{it.field} is unknown (incomplete, not invalid)",
                    it.field,
                    it.weight * UNKNOWN_SHARE,
                )
            )
        elif v is None and not bad:
            missing.append(it.field)
            issues.append(Issue("completeness", f"{it.field} is missing", it.field, it.weight))
    listed = {it.field for it in items.get(k.name, ())}
    for fs in k.fields:  # required by the kind, not in the minimum data: the write refuses it
        if fs.required and not fs.derived and fs.name not in listed and fs.name not in properties:
            issues.append(Issue("invalid", f"{fs.name} is required", fs.name, WEIGHTS["invalid"]))
    if k.geometry_required and geometry is None and GEOMETRY not in listed:
        issues.append(Issue("invalid", f"{k.name} need a geometry", GEOMETRY, WEIGHTS["invalid"]))
    issues += _plausibility(store, k, clean, geom, existing)
    total = sum(i.deduction for i in issues)
    score = max(0, min(100, round(100.0 - total)))
    return Quality(k.name, score, missing, issues, where_from)


def _geocheck(k: Kind, raw: Any) -> tuple[Any, list[Issue]]:
    """The import's geometry rules (without the area of interest: a plausibility issue here)."""
    from demine.geo.checks import check_geometry
    from demine.services.record_rules import MAX_JUMP_M

    if raw is None or not k.geometry_type:
        return None, []
    if not isinstance(raw, dict):
        msg = "geometry must be a GeoJSON geometry object"
        return None, [Issue("geocheck", msg, GEOMETRY, WEIGHTS["geocheck"])]
    chk = check_geometry(
        raw,
        repair=False,
        aoi=None,
        max_jump_m=None if k.is_layer else MAX_JUMP_M,
        allowed=k.allowed_geometries,
    )
    issues = [Issue("geocheck", f.reason, f.field, WEIGHTS["geocheck"]) for f in chk.faults]
    issues += [
        Issue("geocheck_warning", f.reason, f.field, WEIGHTS["geocheck_warning"])
        for f in chk.warnings
    ]
    geom = None if chk.faults or chk.geometry is None or chk.geometry.is_empty else chk.geometry
    return geom, issues


def _plausibility(
    store: Store, k: Kind, clean: dict[str, Any], geom: Any, existing: Record | None
) -> list[Issue]:
    out: list[Issue] = []
    for rule in k.rules:
        for fname, reason in rule(clean):
            out.append(Issue("record_rule", reason, fname, WEIGHTS["record_rule"]))
    if geom is not None:
        aoi = store.setting("area_of_interest")
        if aoi:
            box = shapely.box(*aoi)
            if not box.covers(geom):
                out.append(
                    Issue(
                        "outside_area_of_interest",
                        f"the geometry lies outside the area of interest "
                        f"({', '.join(f'{v:g}' for v in aoi)})",
                        GEOMETRY,
                        WEIGHTS["outside_area_of_interest"],
                    )
                )
    hid = clean.get("hazard_id")
    if k.name in INSIDE_KINDS and hid is not None:
        out += _inside_hazard(store, k, str(hid), geom)
    if existing is not None and geom is not None and "area_m2" in k.field_names:
        out += _area_change(existing, geom)
    return out


def _inside_hazard(store: Store, k: Kind, hid: str, geom: Any) -> list[Issue]:
    from demine.services.candidates import distance_m

    try:
        hz = store.get("hazards", hid)
    except NotFound:
        msg = f"hazard_id {hid} names no stored hazard"
        return [Issue("link", msg, "hazard_id", WEIGHTS["link"])]
    if geom is None or hz.geometry is None:
        return []
    if hz.geometry.covers(geom):
        return []
    outside = shapely.difference(geom, hz.geometry)
    d = distance_m(outside, hz.geometry)
    if d <= INSIDE_TOLERANCE_M:
        return []
    what = "find" if k.name == "finds" else "record"
    return [
        Issue(
            "outside_hazard",
            f"the {what} lies {d:,.0f} m outside hazard {hid} (hazard_id)",
            GEOMETRY,
            WEIGHTS["outside_hazard"],
        )
    ]


def _area_change(existing: Record, geom: Any) -> list[Issue]:
    from demine.geo.geodesy import geodesic_area

    if existing.geometry is None:
        return []
    old, new = (
        float(a) for a in geodesic_area(np.asarray([existing.geometry, geom], dtype=object))
    )
    if old <= 0:
        return []
    change = (new - old) / old
    if abs(change) <= AREA_CHANGE:
        return []
    return [
        Issue(
            "area_change",
            f"the area changes by {change:+.0%} against the stored record {existing.id} "
            f"({old:,.0f} m² to {new:,.0f} m²; flagged beyond ±{AREA_CHANGE:.0%})",
            GEOMETRY,
            WEIGHTS["area_change"],
        )
    ]
