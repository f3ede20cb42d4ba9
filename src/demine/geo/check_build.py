"""Building the checked geometries (shapely, from the flattened positions) and repairing them.

:func:`build_geometries` turns the positions of the geometries the rules let through into
shapely geometries, all at once: under ``repair`` it swaps latitude and longitude back, drops
duplicate consecutive vertices and closes unclosed rings; it always orients rings as RFC 7946
asks (exterior counter-clockwise, holes clockwise), then checks the polygons' OGC validity
(repaired with ``make_valid`` under ``repair``). Every change is reported as a repair.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

from demine.geo.check_result import GeometryCheck, MakeFault, path_name
from demine.geo.geodesy import geodesic_area
from demine.geo.structure import LINE, MULTIPOINT, POINT, RING, Flat

__all__ = ["build_geometries"]


def _ordinal(n: int) -> str:
    return "1 vertex" if n == 1 else f"{n} vertices"


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


def build_geometries(
    flat: Flat,
    out: list[GeometryCheck],
    keep_geom: npt.NDArray[np.bool_],
    swapped: npt.NDArray[np.bool_],
    dup: npt.NDArray[np.bool_],
    closed: npt.NDArray[np.bool_],
    pos_path: npt.NDArray[np.int64],
    mk: MakeFault,
    repair: bool,
) -> None:
    """Set ``out[gi].geometry`` for each geometry in ``keep_geom``, from its positions in
    ``flat``; record each repair, and as a fault a polygon that stays invalid."""
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
                    f"one before, from {path_name(flat, int(p))}",
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
                    f"{path_name(flat, p)} closed by repeating its first vertex",
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
                f"{path_name(flat, p)} reoriented counter-clockwise (RFC 7946 §3.1.6); "
                "no point moved"
            )
        else:
            msg = f"{path_name(flat, p)} reoriented clockwise (RFC 7946 §3.1.6); no point moved"
        out[gi].repairs.append(mk(gi, msg, flat.path_field(p)))
    if reverse.any():
        idx, _ = _gather(len2, start2, len2, reverse)
        xy2 = xy2[idx]

    geoms = np.full(len(out), None, dtype=object)
    gtype = np.asarray(flat.gtype, dtype=object)  # per geometry: its GeoJSON type, or None
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
        multi = gtype[poly_geom] == "MultiPolygon"
        geoms[poly_geom[~multi]] = polys[~multi]
        if multi.any():
            mg = poly_geom[multi]
            newm = np.ones(len(mg), bool)
            newm[1:] = mg[1:] != mg[:-1]
            geoms[mg[newm]] = shapely.multipolygons(polys[multi], indices=np.cumsum(newm) - 1)
    lk = np.flatnonzero(kind == LINE)
    if len(lk):
        lines = shapely.linestrings(
            xy2[_ranges(start2[lk], len2[lk])], indices=np.repeat(np.arange(len(lk)), len2[lk])
        )
        lg = sg[lk]
        single = gtype[lg] == "LineString"
        geoms[lg[single]] = lines[single]
        if (~single).any():
            mg = lg[~single]
            newm = np.ones(len(mg), bool)
            newm[1:] = mg[1:] != mg[:-1]
            geoms[mg[newm]] = shapely.multilinestrings(lines[~single], indices=np.cumsum(newm) - 1)
    for k in np.flatnonzero(kind == POINT).tolist():
        geoms[int(sg[k])] = shapely.points(xy2[start2[k]])
    for k in np.flatnonzero(kind == MULTIPOINT).tolist():
        geoms[int(sg[k])] = shapely.multipoints(xy2[start2[k] : start2[k] + len2[k]])

    # OGC validity of the polygonal geometries.
    gidx = np.flatnonzero(~shapely.is_missing(geoms))
    garr = geoms[gidx]
    polygonal = (gtype[gidx] == "Polygon") | (gtype[gidx] == "MultiPolygon")
    valid = np.ones(len(gidx), bool)
    if polygonal.any():
        valid[polygonal] = shapely.is_valid(garr[polygonal])
    for k in np.flatnonzero(~valid).tolist():
        gi = int(gidx[k])
        g = garr[k]
        reason = str(shapely.is_valid_reason(g))
        fixed = _polygonal_part(shapely.make_valid(g))
        if not repair:  # repairable only if make_valid would leave an area
            why = f"invalid polygon (OGC simple features): {reason}"
            if fixed is None:
                why += "; --repair cannot repair it: make_valid would leave no area (the rings "
                why += "enclose none)"
            out[gi].faults.append(
                mk(
                    gi,
                    why,
                    f"{flat.field}.coordinates",
                    fixed is not None,
                )
            )
            out[gi].repairs.clear()  # rejected: none of its repairs was made
            garr[k] = None
            continue
        if fixed is None:
            out[gi].faults.append(
                mk(
                    gi,
                    f"invalid polygon (OGC simple features): {reason}; --repair could not "
                    "repair it: make_valid left no area (the rings enclose none)",
                    f"{flat.field}.coordinates",
                )
            )
            out[gi].repairs.clear()  # rejected: none of its repairs was made
            garr[k] = None
            continue
        n0 = shapely.get_num_geometries(g)
        n1 = shapely.get_num_geometries(fixed)
        a0, a1 = geodesic_area([g, fixed]).tolist()
        out[gi].repairs.append(
            mk(
                gi,
                f"{reason} repaired with make_valid: {n0} polygon"
                f"{'s' if n0 != 1 else ''} became {n1}, area {a0:,.1f} → {a1:,.1f} m²",
                f"{flat.field}.coordinates",
            )
        )
        garr[k] = fixed
    for gi, g in zip(gidx.tolist(), garr.tolist(), strict=True):
        out[gi].geometry = g


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
