"""The rules on positions (GICHD geocheck and the GeoJSON ones), over a whole batch at once.

:func:`check_positions` runs on the flattened positions of every geometry that passed the
structural checks (:func:`demine.geo.structure.flatten`) and, for each rule, is one numpy
operation over the batch:

* rings: empty, fewer than 3 distinct vertices, not closed; lines: fewer than 2 (distinct)
  positions; duplicate consecutive vertices (a warning);
* coordinates at most 1e-9° beyond ±180/±90 (rounding artefacts: snapped, a warning);
  out of range, latitude and longitude swapped, outside the area of interest;
* vertex jumps: consecutive vertices further apart than ``max_jump_m``.

The geometries with no fault (or, under ``repair``, only repairable ones) then go on to be built
and repaired by :func:`demine.geo.check_build.build_geometries`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from demine.errors import Fault
from demine.geo.check_build import build_geometries
from demine.geo.check_result import GeometryCheck, MakeFault, path_name
from demine.geo.geodesy import geod
from demine.geo.structure import LINE, RING, Flat

__all__ = ["check_positions"]

_MAX_FAULTS_PER_RULE = 3
# Longitudes/latitudes at most this far beyond ±180/±90 are rounding artefacts (e.g.
# 180.00000000000006 in a widely used world dataset): snapped to the bound with a warning.
SNAP_DEG = 1e-9


def _fmt_m(d: float) -> str:
    return f"{d / 1000:.1f} km" if d >= 1000 else f"{d:.0f} m"


def _snap_to_bounds(
    flat: Flat,
    out: list[GeometryCheck],
    ok: npt.NDArray[np.bool_],
    pos_path: npt.NDArray[np.int64],
    pos_geom: npt.NDArray[np.int64],
    mk: MakeFault,
) -> None:
    """Snap longitudes within SNAP_DEG beyond ±180 and latitudes within SNAP_DEG beyond ±90
    to the bound (in place), one warning per geometry naming the first value snapped."""
    xy = flat.xy
    ax = np.abs(xy)
    near = ((ax[:, 0] > 180) & (ax[:, 0] <= 180 + SNAP_DEG)) | (
        (ax[:, 1] > 90) & (ax[:, 1] <= 90 + SNAP_DEG)
    )
    near &= ok[pos_geom]
    if not near.any():
        return
    idx = np.flatnonzero(near)
    firsts: dict[int, int] = {}
    for i in idx.tolist():
        firsts.setdefault(int(pos_geom[i]), i)
    counts = np.bincount(pos_geom[idx], minlength=len(out))
    for gi, i in firsts.items():
        lon, lat = xy[i].tolist()
        p = int(pos_path[i])
        v = int(i - flat.path_start[p])
        n = int(counts[gi])
        parts = []
        if 180 < abs(lon) <= 180 + SNAP_DEG:
            parts.append(f"longitude {lon!r} snapped to {180.0 if lon > 0 else -180.0!r}")
        if 90 < abs(lat) <= 90 + SNAP_DEG:
            parts.append(f"latitude {lat!r} snapped to {90.0 if lat > 0 else -90.0!r}")
        more = f"; {n} positions snapped in this geometry" if n > 1 else ""
        out[gi].warnings.append(
            mk(
                gi,
                f"{' and '.join(parts)}: at most {SNAP_DEG:g}° beyond the bound, a rounding "
                f"artefact{more}",
                flat.path_field(p, None if flat.gtype[gi] == "Point" else v),
            )
        )
    sub = xy[idx]
    sub[:, 0] = np.clip(sub[:, 0], -180.0, 180.0)
    sub[:, 1] = np.clip(sub[:, 1], -90.0, 90.0)
    xy[idx] = sub


def _aoi_hint(
    aoi: tuple[float, float, float, float],
    mn: npt.NDArray[np.float64],
    mx: npt.NDArray[np.float64],
    first: npt.NDArray[np.float64],
) -> str:
    """The likely cause of a geometry outside the area of interest, when a sign flipped
    brings it inside: ": longitude sign flipped? (-37.84 → 37.84 is inside ...)"."""
    x0, y0, x1, y1 = aoi
    lon_in = mn[0] >= x0 and mx[0] <= x1
    lat_in = mn[1] >= y0 and mx[1] <= y1
    lon_flip_in = -mx[0] >= x0 and -mn[0] <= x1
    lat_flip_in = -mx[1] >= y0 and -mn[1] <= y1
    lon, lat = float(first[0]), float(first[1])
    if lon_flip_in and lat_in:
        return f": longitude sign flipped? ({lon!r} → {-lon!r} is inside the area of interest)"
    if lat_flip_in and lon_in:
        return f": latitude sign flipped? ({lat!r} → {-lat!r} is inside the area of interest)"
    if lon_flip_in and lat_flip_in:
        return (
            f": latitude and longitude signs flipped? ({lon!r}, {lat!r} → {-lon!r}, {-lat!r} "
            "is inside the area of interest)"
        )
    return ""


def _not_repaired(faults: list[Fault]) -> list[Fault]:
    """Under --repair, a geometry with a fault --repair cannot fix is left as it is: its
    repairable faults say so (and are no longer marked repairable)."""
    n = sum(1 for f in faults if not f.repairable)
    why = (
        f"--repair could not repair it: this geometry also has {n} fault"
        f"{'s' if n != 1 else ''} --repair cannot fix, and is left as it is"
    )
    return [
        dataclasses.replace(f, reason=f"{f.reason}; {why}", repairable=False) if f.repairable else f
        for f in faults
    ]


def check_positions(
    flat: Flat,
    out: list[GeometryCheck],
    ok: npt.NDArray[np.bool_],
    mk: MakeFault,
    *,
    repair: bool,
    aoi: tuple[float, float, float, float] | None,
    max_jump_m: float | None,
) -> None:
    """Apply the rules to the geometries of ``flat`` still ``ok``, adding to ``out`` their
    faults and warnings, then build (and under ``repair``, repair) those that may be kept."""
    xy = flat.xy
    npos = xy.shape[0]
    P = len(flat.path_len)
    pgeom, pkind, plen, pstart = flat.path_geom, flat.path_kind, flat.path_len, flat.path_start
    pos_path = np.repeat(np.arange(P), plen)
    pos_geom = pgeom[pos_path]
    # before any rule: a snapped position may close a ring or end a duplicate
    _snap_to_bounds(flat, out, ok, pos_path, pos_geom, mk)
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
        what = path_name(flat, int(p))
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
        what = path_name(flat, int(p))
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
                hint = _aoi_hint(aoi, mn[k], mx[k], xy[gstart[gi]])
                out[gi].warnings.append(
                    mk(
                        gi,
                        f"geometry lies outside the area of interest {aoi}{hint}",
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
                _, _, d = geod().inv(a[cand, 0], a[cand, 1], b[cand, 0], b[cand, 1])
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
                            f"{path_name(flat, p)} are {_fmt_m(float(dk))} "
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
                out[gi].faults[:] = _not_repaired(fl)
    if repair:
        for gi in np.flatnonzero(keep_geom).tolist():
            if out[gi].faults:
                out[gi].faults.clear()
    if not keep_geom.any():
        return
    build_geometries(flat, out, keep_geom, swapped, dup, closed, pos_path, mk, repair)
