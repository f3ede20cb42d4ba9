"""Geometry rules: OGC simple-features validity plus the GICHD geocheck rules.

Every rule, its message and whether ``repair=True`` fixes it are listed in ``docs/geometry.md``.
The checks run over a whole batch at once (:func:`check_geometries`): the positions of every
geometry are one numpy array and each rule is an array operation.

This module is the public face and runs the steps in order:

1. the structure of each raw geometry (:mod:`demine.geo.structure`: types, nesting, numbers),
   then the geometry types a kind allows, here;
2. the rules on positions - rings, lines, duplicate vertices, ranges, swapped latitude and
   longitude, the area of interest, vertex jumps (:mod:`demine.geo.check_rules`);
3. building the shapely geometries, with ring orientation, the repairs and OGC validity
   (:mod:`demine.geo.check_build`).

What a check returns, :class:`GeometryCheck`, is :mod:`demine.geo.check_result`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from demine.errors import Fault
from demine.geo.check_result import GeometryCheck
from demine.geo.check_rules import check_positions
from demine.geo.structure import Flat, flatten, no_gc

__all__ = ["NULL", "POLYGONAL", "GeometryCheck", "check_geometries", "check_geometry"]

POLYGONAL: frozenset[str] = frozenset({"Polygon", "MultiPolygon"})


def check_geometry(
    raw: dict[str, Any] | None,
    *,
    repair: bool = False,
    aoi: tuple[float, float, float, float] | None = None,
    max_jump_m: float | None = 5000.0,
    allowed: frozenset[str] | None = None,
    field: str = "geometry",
) -> GeometryCheck:
    """Check one raw GeoJSON geometry object. See :func:`check_geometries`."""
    return check_geometries(
        [raw],
        repair=repair,
        aoi=aoi,
        max_jump_m=max_jump_m,
        allowed=allowed,
        field=field,
        indices=[None],
    )[0]


def check_geometries(
    raws: Sequence[dict[str, Any] | None],
    *,
    repair: bool = False,
    aoi: tuple[float, float, float, float] | None = None,
    max_jump_m: float | None = 5000.0,
    allowed: frozenset[str] | None = None,
    field: str = "geometry",
    indices: Sequence[int | None] | None = None,
    feature_ids: Sequence[str | int | None] | None = None,
    flat: Flat | None = None,
    report_structure: bool = True,
    strict: bool = False,
) -> list[GeometryCheck]:
    """Check a batch of raw GeoJSON geometry objects (dicts as parsed from JSON, or None).

    Each fault names ``field`` plus the path inside the geometry (``geometry.coordinates[0][3]``)
    and, when given, the feature index and id (``indices`` defaults to the position in ``raws``).
    Without ``repair`` the only changes made are normalising ring orientation (RFC 7946) and
    dropping Z; with ``repair`` every repairable fault is repaired and each change is reported.

    ``flat`` passes the result of :func:`demine.geo.structure.flatten` when the caller (the
    GeoJSON reader) already has it; ``report_structure=False`` then leaves out the structural
    faults and warnings it has already reported (a structurally broken geometry is still rejected).
    ``strict`` refuses the GeoJSON members a geometry must not have (RFC 7946 §7.1) instead of
    warning about them.
    """
    with no_gc():
        return _check_geometries(
            raws,
            repair,
            aoi,
            max_jump_m,
            allowed,
            field,
            indices,
            feature_ids,
            flat,
            report_structure,
            strict,
        )


def _check_geometries(
    raws: Sequence[dict[str, Any] | None],
    repair: bool,
    aoi: tuple[float, float, float, float] | None,
    max_jump_m: float | None,
    allowed: frozenset[str] | None,
    field: str,
    indices: Sequence[int | None] | None,
    feature_ids: Sequence[str | int | None] | None,
    flat: Flat | None,
    report_structure: bool,
    strict: bool = False,
) -> list[GeometryCheck]:
    n = len(raws)
    idx: Sequence[int | None] = indices if indices is not None else range(n)
    fids = feature_ids if feature_ids is not None else [None] * n
    out = [GeometryCheck(None) for _ in range(n)]
    if n == 0:
        return out
    if flat is None:
        flat = flatten(raws, field, strict=strict)

    def mk(gi: int, reason: str, fld: str | None, repairable: bool = False) -> Fault:
        fid = fids[gi]
        return Fault(
            reason,
            index=idx[gi],
            field=fld,
            feature_id=None if fid is None else str(fid),
            repairable=repairable,
        )

    for gi in range(n):
        r = out[gi]
        if report_structure:
            r.faults.extend(mk(gi, why, f) for f, why in flat.faults[gi])
            r.warnings.extend(mk(gi, why, f) for f, why in flat.warnings[gi])
        t = flat.gtype[gi]
        if allowed is not None and not flat.faults[gi]:
            if t is None:
                if NULL in allowed:  # an optional geometry
                    pass
                else:
                    r.faults.append(mk(gi, _missing(raws[gi], allowed), field))
            elif t not in allowed:
                r.faults.append(
                    mk(gi, f"a {_kinds(allowed)} geometry is required, got {t}", f"{field}.type")
                )
        if flat.has_z[gi]:
            r.warnings.append(
                mk(
                    gi,
                    "3D coordinates: the height (Z) was dropped; the register is 2D",
                    f"{field}.coordinates",
                )
            )

    ok = flat.ok & np.array([not r.faults and not flat.faults[i] for i, r in enumerate(out)])
    # GeometryCollections: check each member as a geometry of its own.
    for gi in np.flatnonzero(ok).tolist():
        if flat.gtype[gi] == "GeometryCollection":
            raw = raws[gi]
            assert raw is not None
            _check_collection(
                raw, out[gi], gi, idx[gi], fids[gi], field, repair, aoi, max_jump_m, strict
            )
    ok &= np.array([t != "GeometryCollection" for t in flat.gtype])
    if flat.xy.shape[0]:
        check_positions(flat, out, ok, mk, repair=repair, aoi=aoi, max_jump_m=max_jump_m)
    return out


def _kinds(allowed: frozenset[str]) -> str:
    return " or ".join(sorted(a for a in allowed if a != NULL))


def _missing(raw: object, allowed: frozenset[str]) -> str:
    """The fault of a geometry that is null or empty where one is required."""
    need = f"a {_kinds(allowed)} geometry is required"
    t = raw.get("type") if isinstance(raw, dict) else None
    if raw is None or not isinstance(t, str):
        return f"no geometry (null): {need}"
    return f"empty geometry (a {t} with no coordinates): {need}"


NULL = "null"  # in ``allowed``: a null geometry is accepted (a kind whose geometry is optional)


def _check_collection(
    raw: dict[str, Any],
    r: GeometryCheck,
    gi: int,
    index: int | None,
    fid: str | int | None,
    fld: str,
    repair: bool,
    aoi: tuple[float, float, float, float] | None,
    max_jump_m: float | None,
    strict: bool,
) -> None:
    members = raw["geometries"]
    parts: list[shapely.Geometry] = []
    for i, m in enumerate(members):
        sub = check_geometries(
            [m],
            repair=repair,
            aoi=aoi,
            max_jump_m=max_jump_m,
            field=f"{fld}.geometries[{i}]",
            indices=[index],
            feature_ids=[fid],
            strict=strict,
        )[0]
        r.faults.extend(sub.faults)
        r.repairs.extend(sub.repairs)
        r.warnings.extend(sub.warnings)
        if sub.geometry is not None:
            parts.append(sub.geometry)
    if not r.faults:
        r.geometry = shapely.geometrycollections(parts)
