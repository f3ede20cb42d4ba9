"""Geometry rules: OGC simple-features validity plus the GICHD geocheck rules.

Every rule, its message and whether ``repair=True`` fixes it are listed in ``docs/geometry.md``.
The checks run over a whole batch at once (:func:`check_geometries`): the positions of every
geometry are one numpy array and each rule is an array operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from demine.errors import Fault
from demine.geo.structure import LINE, MULTIPOINT, POINT, RING, Flat, flatten, no_gc

__all__ = ["GeometryCheck", "check_geometries", "check_geometry", "POLYGONAL"]

POLYGONAL: frozenset[str] = frozenset({"Polygon", "MultiPolygon"})
_GEOD = Geod(ellps="WGS84")
_MAX_FAULTS_PER_RULE = 3


@dataclass(slots=True)
class GeometryCheck:
    """What the rules found in one geometry, and what was changed."""

    geometry: shapely.Geometry | None  # None when rejected (or a null geometry)
    faults: list[Fault] = field(default_factory=list)
    repairs: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults


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


def _ordinal(n: int) -> str:
    return "1 vertex" if n == 1 else f"{n} vertices"


def _fmt_m(d: float) -> str:
    return f"{d / 1000:.1f} km" if d >= 1000 else f"{d:.0f} m"


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
) -> list[GeometryCheck]:
    """Check a batch of raw GeoJSON geometry objects (dicts as parsed from JSON, or None).

    Each fault names ``field`` plus the path inside the geometry (``geometry.coordinates[0][3]``)
    and, when given, the feature index and id (``indices`` defaults to the position in ``raws``).
    Without ``repair`` the only changes made are normalising ring orientation (RFC 7946) and
    dropping Z; with ``repair`` every repairable fault is repaired and each change is reported.

    ``flat`` passes the result of :func:`demine.geo.structure.flatten` when the caller (the
    GeoJSON reader) already has it; ``report_structure=False`` then leaves out the structural
    faults and warnings it has already reported (a structurally broken geometry is still rejected).
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
) -> list[GeometryCheck]:
    n = len(raws)
    idx: Sequence[int | None] = indices if indices is not None else range(n)
    fids = feature_ids if feature_ids is not None else [None] * n
    out = [GeometryCheck(None) for _ in range(n)]
    if n == 0:
        return out
    if flat is None:
        flat = flatten(raws, field)

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
                    r.faults.append(
                        mk(gi, f"a {_kinds(allowed)} geometry is required, got null", field)
                    )
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
            _check_collection(raw, out[gi], gi, idx[gi], fids[gi], field, repair, aoi, max_jump_m)
    ok &= np.array([t != "GeometryCollection" for t in flat.gtype])
    if flat.xy.shape[0]:
        _check_flat(flat, out, ok, mk, repair=repair, aoi=aoi, max_jump_m=max_jump_m)
    return out


def _kinds(allowed: frozenset[str]) -> str:
    return " or ".join(sorted(a for a in allowed if a != NULL))


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
        )[0]
        r.faults.extend(sub.faults)
        r.repairs.extend(sub.repairs)
        r.warnings.extend(sub.warnings)
        if sub.geometry is not None:
            parts.append(sub.geometry)
    if not r.faults:
        r.geometry = shapely.geometrycollections(parts)


MkFault = Any  # Callable[[int, str, str | None, bool], Fault]


def _check_flat(
    flat: Flat,
    out: list[GeometryCheck],
    ok: npt.NDArray[np.bool_],
    mk: MkFault,
    *,
    repair: bool,
    aoi: tuple[float, float, float, float] | None,
    max_jump_m: float | None,
) -> None:
    xy = flat.xy
    npos = xy.shape[0]
    P = len(flat.path_len)
    pgeom, pkind, plen, pstart = flat.path_geom, flat.path_kind, flat.path_len, flat.path_start
    pos_path = np.repeat(np.arange(P), plen)
    pos_geom = pgeom[pos_path]
    linear = (pkind == LINE) | (pkind == RING)
    same_path = np.zeros(npos, bool)
    same_path[1:] = pos_path[1:] == pos_path[:-1]
    # Duplicate consecutive positions (within a line or ring).
    dup = np.zeros(npos, bool)
    dup[1:] = (xy[1:] == xy[:-1]).all(axis=1)
    dup &= same_path & linear[pos_path]
    nodup = np.bincount(pos_path, weights=~dup, minlength=P).astype(np.int64)
    ndup = plen - nodup
    nonempty = plen > 0
    last = pstart + np.maximum(plen - 1, 0)
    closed = nonempty & (xy[pstart] == xy[last]).all(axis=1)
    ring = pkind == RING
    distinct = np.where(ring, nodup - (closed & (plen > 1)), nodup)
    pok = ok[pgeom]

    # Ring and line rules.
    bad_paths = np.flatnonzero(
        pok & linear & ((ring & ((distinct < 3) | ~closed)) | ((pkind == LINE) & (distinct < 2)))
    ).tolist()
    for p in bad_paths:
        gi = int(pgeom[p])
        f = flat.path_field(int(p))
        what = _path_name(flat, int(p))
        if pkind[p] == RING:
            if plen[p] == 0:
                out[gi].faults.append(mk(gi, f"{what} is empty", f))
            elif distinct[p] < 3:
                out[gi].faults.append(
                    mk(
                        gi,
                        f"{what} has {distinct[p]} distinct vertices; a "
                        "ring needs at least 3 (4 positions, the last repeating "
                        "the first)",
                        f,
                    )
                )
            if plen[p] and not closed[p]:
                a, b = xy[pstart[p]].tolist(), xy[last[p]].tolist()
                out[gi].faults.append(
                    mk(
                        gi,
                        f"{what} is not closed: its first position "
                        f"({a[0]!r}, {a[1]!r}) differs from its last "
                        f"({b[0]!r}, {b[1]!r})",
                        f,
                        True,
                    )
                )
        elif plen[p] < 2:
            out[gi].faults.append(
                mk(gi, f"{what} has {plen[p]} position(s); a line needs at least 2", f)
            )
        else:
            out[gi].faults.append(
                mk(
                    gi,
                    f"{what} has no length: its {plen[p]} positions are "
                    "all the same point (a line needs at least 2 distinct "
                    "positions)",
                    f,
                )
            )
    for p in np.flatnonzero(pok & (ndup > 0)).tolist():
        gi = int(pgeom[p])
        first = int(np.flatnonzero(dup[pstart[p] : pstart[p] + plen[p]])[0])
        what = _path_name(flat, int(p))
        out[gi].warnings.append(
            mk(
                gi,
                f"{what} has {ndup[p]} duplicate consecutive "
                f"{'vertex' if ndup[p] == 1 else 'vertices'} (first at "
                f"position {first})" + ("" if repair else "; --repair removes them"),
                flat.path_field(int(p), first),
            )
        )

    # Coordinate ranges and swapped latitude/longitude, per geometry.
    gok_idx = np.flatnonzero(ok)
    gstart = np.full(len(out), -1, np.int64)
    gcount = np.bincount(pos_geom, minlength=len(out))
    first_path = np.full(len(out), -1, np.int64)
    first_path[pgeom[::-1]] = np.arange(P)[::-1]
    has_pos = first_path >= 0
    gstart[has_pos] = pstart[first_path[has_pos]]
    swapped = np.zeros(len(out), bool)
    seg_ok_geom = ok.copy()
    if len(gok_idx):
        gi_arr = gok_idx[gcount[gok_idx] > 0]
        starts = gstart[gi_arr]
        mn = np.minimum.reduceat(xy, starts, axis=0) if len(starts) else np.zeros((0, 2))
        mx = np.maximum.reduceat(xy, starts, axis=0) if len(starts) else np.zeros((0, 2))
        # reduceat runs to the next start: geometries are contiguous and in order, but
        # positions of rejected geometries may sit between them; recompute those exactly.
        ends = gstart[gi_arr] + gcount[gi_arr]
        nxt = np.append(starts[1:], npos)
        for k in np.flatnonzero(nxt != ends).tolist():
            s, e = starts[k], ends[k]
            mn[k], mx[k] = xy[s:e].min(axis=0), xy[s:e].max(axis=0)
        out_range = (mn[:, 0] < -180) | (mx[:, 0] > 180) | (mn[:, 1] < -90) | (mx[:, 1] > 90)
        swap_in_range = (
            (mn[:, 0] >= -90) & (mx[:, 0] <= 90) & (mn[:, 1] >= -180) & (mx[:, 1] <= 180)
        )
        is_swap = out_range & swap_in_range
        if aoi is not None:
            x0, y0, x1, y1 = aoi
            outside = (mx[:, 0] < x0) | (mn[:, 0] > x1) | (mx[:, 1] < y0) | (mn[:, 1] > y1)
            swap_inside = (mn[:, 1] >= x0) & (mx[:, 1] <= x1) & (mn[:, 0] >= y0) & (mx[:, 0] <= y1)
            is_swap |= ~out_range & outside & swap_inside
            for k in np.flatnonzero(~out_range & outside & ~swap_inside).tolist():
                gi = int(gi_arr[k])
                out[gi].warnings.append(
                    mk(
                        gi,
                        f"geometry lies outside the area of interest {aoi}",
                        f"{flat.field}.coordinates",
                    )
                )
        for k in np.flatnonzero(is_swap).tolist():
            gi = int(gi_arr[k])
            swapped[gi] = True
            out[gi].faults.append(
                mk(
                    gi,
                    "latitude and longitude appear swapped (GeoJSON "
                    "positions are [longitude, latitude])",
                    f"{flat.field}.coordinates",
                    True,
                )
            )
        for k in np.flatnonzero(out_range & ~is_swap).tolist():
            gi = int(gi_arr[k])
            s, e = gstart[gi], gstart[gi] + gcount[gi]
            gxy = xy[s:e]
            badpos = np.flatnonzero((np.abs(gxy[:, 0]) > 180) | (np.abs(gxy[:, 1]) > 90))[0]
            p = int(pos_path[s + badpos])
            v = int(s + badpos - pstart[p])
            lon, lat = gxy[badpos].tolist()
            hint = (
                " (longitudes beyond ±180 are not wrapped: split a geometry that crosses "
                "the antimeridian at 180°)"
                if abs(lon) > 180 and abs(lat) <= 90
                else ""
            )
            out[gi].faults.append(
                mk(
                    gi,
                    "coordinates out of range: longitude must be within "
                    "-180..180 and latitude within -90..90, found "
                    f"({lon!r}, {lat!r}){hint}",
                    flat.path_field(p, None if flat.gtype[gi] == "Point" else v),
                )
            )
            seg_ok_geom[gi] = False

    # Vertex jumps (GICHD geocheck): consecutive vertices further apart than max_jump_m.
    if max_jump_m and max_jump_m > 0:
        seg = np.flatnonzero(same_path[1:] & linear[pos_path[1:]] & seg_ok_geom[pos_geom[1:]])
        if len(seg):
            a, b = xy[seg], xy[seg + 1]
            if swapped.any():
                sw = swapped[pos_geom[seg]]
                a = np.where(sw[:, None], a[:, ::-1], a)
                b = np.where(sw[:, None], b[:, ::-1], b)
            lat_m = np.radians((a[:, 1] + b[:, 1]) / 2)
            dlon = np.abs(b[:, 0] - a[:, 0])
            dlon = np.minimum(dlon, 360 - dlon)
            approx = 6_400_000 * np.radians(np.hypot(b[:, 1] - a[:, 1], dlon * np.cos(lat_m)))
            cand = np.flatnonzero(approx > 0.9 * max_jump_m)
            if len(cand):
                _, _, d = _GEOD.inv(a[cand, 0], a[cand, 1], b[cand, 0], b[cand, 1])
                jumps = cand[np.asarray(d) > max_jump_m]
                dist = np.asarray(d)[np.asarray(d) > max_jump_m]
                per_geom: dict[int, int] = {}
                for k, dk in zip(jumps, dist, strict=True):
                    i = int(seg[k])
                    p = int(pos_path[i])
                    gi = int(pgeom[p])
                    c = per_geom.get(gi, 0)
                    per_geom[gi] = c + 1
                    if c == _MAX_FAULTS_PER_RULE:
                        out[gi].faults.append(mk(gi, "more vertex jumps follow", None))
                    if c >= _MAX_FAULTS_PER_RULE:
                        continue
                    v = int(i - pstart[p])
                    out[gi].faults.append(
                        mk(
                            gi,
                            f"vertex jump: vertices {v} and {v + 1} of "
                            f"{_path_name(flat, p)} are {_fmt_m(float(dk))} "
                            f"apart (limit {_fmt_m(max_jump_m)}); probably a "
                            "typing error in a coordinate",
                            flat.path_field(p, v + 1),
                        )
                    )

    # Which geometries go on to be built: no fault, or only repairable ones under repair.
    keep_geom = ok.copy()
    for gi in np.flatnonzero(ok).tolist():
        fl = out[gi].faults
        if fl and (not repair or not all(f.repairable for f in fl)):
            keep_geom[gi] = False
    if repair:
        for gi in np.flatnonzero(keep_geom).tolist():
            if out[gi].faults:
                out[gi].faults.clear()
    if not keep_geom.any():
        return
    _build(flat, out, keep_geom, swapped, dup, closed, pos_path, mk, repair)


def _path_name(flat: Flat, p: int) -> str:
    kind = int(flat.path_kind[p])
    t = flat.gtype[int(flat.path_geom[p])]
    o = int(flat.path_ord[p])
    if kind == RING:
        role = "exterior ring" if o == 0 else f"ring {o} (a hole)"
        if t == "MultiPolygon":
            return f"{role} of polygon {int(flat.path_part[p])}"
        return "exterior ring" if o == 0 else f"ring {o} (a hole)"
    if kind == LINE:
        return "line" if t == "LineString" else f"line {o}"
    return "point" if kind == POINT else "multipoint"


def _gather(
    n_new: npt.NDArray[np.int64],
    src_start: npt.NDArray[np.int64],
    src_len: npt.NDArray[np.int64],
    reverse: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index into the old positions for paths of n_new positions: position j of a path takes
    old position j (or its first position when j is past the end: closing a ring), read
    backwards where ``reverse``. Returns the indices and the new path starts."""
    total = int(n_new.sum())
    new_start = np.zeros(len(n_new), np.int64)
    if len(n_new) > 1:
        np.cumsum(n_new[:-1], out=new_start[1:])
    pid = np.repeat(np.arange(len(n_new)), n_new)
    j = np.arange(total) - new_start[pid]
    j = np.where(reverse[pid], n_new[pid] - 1 - j, j)
    j = np.where(j < src_len[pid], j, 0)
    return src_start[pid] + j, new_start


def _build(
    flat: Flat,
    out: list[GeometryCheck],
    keep_geom: npt.NDArray[np.bool_],
    swapped: npt.NDArray[np.bool_],
    dup: npt.NDArray[np.bool_],
    closed: npt.NDArray[np.bool_],
    pos_path: npt.NDArray[np.int64],
    mk: MkFault,
    repair: bool,
) -> None:
    xy = flat.xy
    pgeom, pkind = flat.path_geom, flat.path_kind
    keep_path = keep_geom[pgeom]
    if repair and swapped.any():
        xy = xy.copy()
        m = swapped[pgeom[pos_path]]
        xy[m] = xy[m][:, ::-1]
        for gi in np.flatnonzero(swapped & keep_geom).tolist():
            out[gi].repairs.append(
                mk(gi, "latitude and longitude swapped back", f"{flat.field}.coordinates")
            )
    keep_pos = keep_path[pos_path]
    if repair:
        keep_pos &= ~dup
        ndup = np.bincount(
            pos_path, weights=dup & keep_path[pos_path], minlength=len(pgeom)
        ).astype(np.int64)
        for p in np.flatnonzero(ndup).tolist():
            gi = int(pgeom[p])
            out[gi].repairs.append(
                mk(
                    gi,
                    f"removed {_ordinal(int(ndup[p]))} repeating the "
                    f"one before, from {_path_name(flat, int(p))}",
                    flat.path_field(int(p)),
                )
            )
    sel = np.flatnonzero(keep_path)
    new_len = np.bincount(pos_path[keep_pos], minlength=len(pgeom)).astype(np.int64)[sel]
    xy1 = xy[keep_pos]
    start1 = np.zeros(len(sel), np.int64)
    if len(sel) > 1:
        np.cumsum(new_len[:-1], out=start1[1:])
    kind = pkind[sel]
    ring = kind == RING
    # Close unclosed rings (repair only: otherwise the geometry was rejected).
    need_close = ring & ~closed[sel]
    if need_close.any():
        for k in np.flatnonzero(need_close).tolist():
            p = int(sel[k])
            gi = int(pgeom[p])
            out[gi].repairs.append(
                mk(
                    gi,
                    f"{_path_name(flat, p)} closed by repeating its first vertex",
                    flat.path_field(p),
                )
            )
    # Orientation (RFC 7946 §3.1.6): exterior rings counter-clockwise, holes clockwise.
    len2 = new_len + need_close
    idx, start2 = _gather(len2, start1, new_len, np.zeros(len(sel), bool))
    xy2 = xy1[idx]
    pid2 = np.repeat(np.arange(len(sel)), len2)
    rel = xy2 - xy2[start2[pid2]]
    cross = np.zeros(len(xy2))
    cross[:-1] = rel[:-1, 0] * rel[1:, 1] - rel[1:, 0] * rel[:-1, 1]
    last2 = start2 + len2 - 1
    cross[last2[len2 > 0]] = 0.0
    area2 = np.bincount(pid2, weights=cross, minlength=len(sel))
    ext = flat.path_ord[sel] == 0
    reverse = ring & ((ext & (area2 < 0)) | (~ext & (area2 > 0)))
    for k in np.flatnonzero(reverse).tolist():
        p = int(sel[k])
        gi = int(pgeom[p])
        if ext[k]:
            msg = (
                f"{_path_name(flat, p)} reoriented counter-clockwise (RFC 7946 §3.1.6); "
                "no point moved"
            )
        else:
            msg = f"{_path_name(flat, p)} reoriented clockwise (RFC 7946 §3.1.6); no point moved"
        out[gi].repairs.append(mk(gi, msg, flat.path_field(p)))
    if reverse.any():
        idx, _ = _gather(len2, start2, len2, reverse)
        xy2 = xy2[idx]

    geoms: list[Any] = [None] * len(out)
    sg = pgeom[sel]
    spart = flat.path_part[sel]
    # Polygons.
    rk = np.flatnonzero(ring)
    if len(rk):
        ring_pos = np.repeat(np.arange(len(rk)), len2[rk])
        ring_pos_idx = _ranges(start2[rk], len2[rk])
        rings = shapely.linearrings(xy2[ring_pos_idx], indices=ring_pos)
        key = sg[rk] * 1_000_000 + spart[rk]
        newpoly = np.ones(len(rk), bool)
        newpoly[1:] = key[1:] != key[:-1]
        poly_id = np.cumsum(newpoly) - 1
        polys = shapely.polygons(rings, indices=poly_id)
        poly_geom = sg[rk][newpoly]
        multi = np.array([flat.gtype[g] == "MultiPolygon" for g in poly_geom], bool)
        for g, pg in zip(poly_geom[~multi], polys[~multi], strict=True):
            geoms[int(g)] = pg
        if multi.any():
            mg = poly_geom[multi]
            newm = np.ones(len(mg), bool)
            newm[1:] = mg[1:] != mg[:-1]
            mp = shapely.multipolygons(polys[multi], indices=np.cumsum(newm) - 1)
            for g, m in zip(mg[newm], mp, strict=True):
                geoms[int(g)] = m
    lk = np.flatnonzero(kind == LINE)
    if len(lk):
        lines = shapely.linestrings(
            xy2[_ranges(start2[lk], len2[lk])], indices=np.repeat(np.arange(len(lk)), len2[lk])
        )
        lg = sg[lk]
        single = np.array([flat.gtype[g] == "LineString" for g in lg], bool)
        for g, ln in zip(lg[single], lines[single], strict=True):
            geoms[int(g)] = ln
        if (~single).any():
            mg = lg[~single]
            newm = np.ones(len(mg), bool)
            newm[1:] = mg[1:] != mg[:-1]
            ml = shapely.multilinestrings(lines[~single], indices=np.cumsum(newm) - 1)
            for g, m in zip(mg[newm], ml, strict=True):
                geoms[int(g)] = m
    for k in np.flatnonzero(kind == POINT).tolist():
        geoms[int(sg[k])] = shapely.points(xy2[start2[k]])
    for k in np.flatnonzero(kind == MULTIPOINT).tolist():
        geoms[int(sg[k])] = shapely.multipoints(xy2[start2[k] : start2[k] + len2[k]])

    # OGC validity of the polygonal geometries.
    gidx = np.array([i for i, g in enumerate(geoms) if g is not None], np.int64)
    garr = np.empty(len(gidx), dtype=object)
    garr[:] = [geoms[i] for i in gidx]
    polygonal = np.array([flat.gtype[i] in ("Polygon", "MultiPolygon") for i in gidx], bool)
    valid = np.ones(len(gidx), bool)
    if polygonal.any():
        valid[polygonal] = shapely.is_valid(garr[polygonal])
    for k in np.flatnonzero(~valid).tolist():
        gi = int(gidx[k])
        g = garr[k]
        reason = str(shapely.is_valid_reason(g))
        if not repair:
            out[gi].faults.append(
                mk(
                    gi,
                    f"invalid polygon (OGC simple features): {reason}",
                    f"{flat.field}.coordinates",
                    True,
                )
            )
            garr[k] = None
            continue
        fixed = _polygonal_part(shapely.make_valid(g))
        if fixed is None:
            out[gi].faults.append(
                mk(
                    gi,
                    f"invalid polygon (OGC simple features): {reason}; make_valid left no area",
                    f"{flat.field}.coordinates",
                )
            )
            garr[k] = None
            continue
        n0 = shapely.get_num_geometries(g)
        n1 = shapely.get_num_geometries(fixed)
        out[gi].repairs.append(
            mk(
                gi,
                f"{reason} repaired with make_valid: {n0} polygon"
                f"{'s' if n0 != 1 else ''} became {n1}",
                f"{flat.field}.coordinates",
            )
        )
        garr[k] = fixed
    for k, gi in enumerate(gidx):
        out[int(gi)].geometry = garr[k]


def _ranges(starts: npt.NDArray[np.int64], lens: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenated ranges [s, s + n) for each (s, n)."""
    total = int(lens.sum())
    offs = np.zeros(len(lens), np.int64)
    if len(lens) > 1:
        np.cumsum(lens[:-1], out=offs[1:])
    pid = np.repeat(np.arange(len(lens)), lens)
    out: npt.NDArray[np.int64] = starts[pid] + (np.arange(total) - offs[pid])
    return out


def _polygonal_part(g: shapely.Geometry) -> shapely.Geometry | None:
    parts = [
        p
        for p in shapely.get_parts(shapely.get_parts(g))
        if shapely.get_type_id(p) == 3 and not shapely.is_empty(p)
    ]
    if not parts:
        return None
    res = parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
    oriented: shapely.Geometry = shapely.orient_polygons(res)
    return oriented
