"""Zonal statistics of hazards: population sums from a raster, and vector measures around them.

Raster sums (:func:`zonal_sums`)
    The sum of a raster's values weighted by the fraction of each cell a polygon covers (the
    definition exactextract uses), computed exactly for the polygon's straight edges in the
    raster's own coordinates. Every polygon of the batch is done at once in numpy, with no
    per-polygon Python step:

    1. Each ring edge is split where it crosses a column line, then where it crosses a row
       line, so every piece lies inside one cell.
    2. Inside a row, the coverage of cell ``c`` is the integral over the cell of the winding
       "cover" left by the pieces to its left (the accumulation used by font rasterisers). A
       piece with vertical extent ``dv`` and mean column ``um`` in cell ``(r, c)`` covers
       ``dv * (c + 1 - um)`` of its own cell and ``dv`` of every cell to its right.
    3. So the polygon's weighted sum over row ``r`` is ``Σ dv * (S[r, c] + (c + 1 - um) *
       V[r, c])`` over its pieces, where ``V`` is the raster and ``S[r, c]`` the sum of the
       row strictly right of ``c``. Work is proportional to the number of pieces (the
       polygon's perimeter in cells), not to its area.

    Rows are read in bands, so a raster larger than memory streams. Parts of a polygon outside
    the raster count as no data; cells equal to the raster's nodata value (or NaN) count as
    no data; :attr:`ZonalResult.coverage` is the fraction of each polygon's area that has
    data, so a caller can say when a figure is partial.

Metric buffers and distances within reach (:func:`buffer_m`, :func:`nearest_within`,
:func:`count_within`, :func:`overlap_area`) are :mod:`demine.geo.proximity`'s, re-exported here.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from demine.errors import Fault, ValidationError
from demine.geo.proximity import buffer_m, count_within, nearest_within, overlap_area

__all__ = [
    "Raster",
    "ZonalResult",
    "buffer_m",
    "count_within",
    "nearest_within",
    "overlap_area",
    "zonal_sums",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


# --- rasters --------------------------------------------------------------------------------


@dataclass
class Raster:
    """A single-band, north-up (axis-aligned) grid: where its cells are and how to read rows.

    ``transform`` is the GDAL/affine ``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``,
    ``y = d*col + e*row + f``; ``b`` and ``d`` must be 0. ``crs`` is anything pyproj takes.
    """

    width: int
    height: int
    transform: tuple[float, float, float, float, float, float]
    crs: Any
    nodata: float | None
    # band 1, rows [r0, r1) and columns [c0, c1)
    read_rows: Callable[[int, int, int, int], npt.NDArray[Any]]
    source: str = "array"
    description: str = ""

    def __post_init__(self) -> None:
        a, b, _, d, e, _ = self.transform
        where = self.source
        if b != 0 or d != 0:
            raise ValidationError(
                f"{where}: the raster grid is rotated or sheared",
                [
                    Fault(
                        f"transform {self.transform} has rotation terms; warp it to a north-up "
                        "grid first (gdalwarp)",
                        field="transform",
                        source=where,
                    )
                ],
            )
        if not (a and e) or not all(math.isfinite(v) for v in self.transform):
            raise ValidationError(
                f"{where}: the raster has no usable cell size",
                [Fault(f"transform {self.transform}", field="transform", source=where)],
            )
        if self.crs is None:
            raise ValidationError(
                f"{where}: the raster has no coordinate reference system",
                [Fault("set one (gdal_edit.py -a_srs EPSG:4326)", field="crs", source=where)],
            )
        if self.width <= 0 or self.height <= 0:
            raise ValidationError(
                f"{where}: the raster is empty", [Fault("no cells", source=where)]
            )

    @classmethod
    def from_array(
        cls,
        array: npt.NDArray[Any],
        transform: Any,
        crs: Any = "OGC:CRS84",
        nodata: float | None = None,
        *,
        description: str = "",
    ) -> Raster:
        """A raster held in memory. ``transform``: an ``affine.Affine`` or a 6-tuple."""
        arr = np.asarray(array)
        if arr.ndim != 2:
            raise ValidationError(
                "the raster must have one band", [Fault(f"shape {arr.shape}", field="array")]
            )
        t = tuple(float(v) for v in tuple(transform)[:6])
        return cls(
            width=int(arr.shape[1]),
            height=int(arr.shape[0]),
            transform=(t[0], t[1], t[2], t[3], t[4], t[5]),
            crs=crs,
            nodata=nodata,
            read_rows=lambda r0, r1, c0, c1: arr[r0:r1, c0:c1],
            description=description,
        )

    @classmethod
    def open(cls, path: str | Path) -> Raster:
        """A GeoTIFF (or any GDAL raster) read band 1 a band of rows at a time with rasterio."""
        import rasterio
        from rasterio.errors import RasterioIOError
        from rasterio.windows import Window

        where = str(path)
        try:
            ds = rasterio.open(path)
        except RasterioIOError as e:
            raise ValidationError(
                f"cannot read the raster {where}", [Fault(str(e), source=where)]
            ) from None
        t = ds.transform

        lock = threading.Lock()  # a GDAL dataset is not to be read from two threads at once

        def read(r0: int, r1: int, c0: int, c1: int) -> npt.NDArray[Any]:
            with lock:
                out: npt.NDArray[Any] = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
            return out

        return cls(
            width=int(ds.width),
            height=int(ds.height),
            transform=(t.a, t.b, t.c, t.d, t.e, t.f),
            crs=None if ds.crs is None else ds.crs.to_wkt(),
            nodata=None if ds.nodata is None else float(ds.nodata),
            read_rows=read,
            source=where,
            description=" ".join(
                str(v) for v in (ds.descriptions[0] or "", ds.tags().get("DESCRIPTION", "")) if v
            ),
        )

    def is_geographic_wgs84(self) -> bool:
        from pyproj import CRS

        crs = CRS.from_user_input(self.crs)
        return bool(crs.is_geographic and crs.equals("OGC:CRS84", ignore_axis_order=True))


@dataclass
class ZonalResult:
    """Per polygon: the coverage-weighted sum of the cells with data, and the fraction of the
    polygon's area that fell on cells with data (1: whole; 0: outside the raster or all
    nodata). ``area_cells``: the polygon's area in cells."""

    sums: F64
    coverage: F64
    area_cells: F64


def _to_raster_crs(geoms: npt.NDArray[np.object_], raster: Raster) -> npt.NDArray[np.object_]:
    if raster.is_geographic_wgs84():
        return geoms
    from pyproj import Transformer

    tr = Transformer.from_crs("OGC:CRS84", raster.crs, always_xy=True)

    def fwd(c: F64) -> F64:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    # edges stay straight in the raster's plane only if short: densify to ~100 m first
    out: npt.NDArray[np.object_] = shapely.transform(shapely.segmentize(geoms, 0.001), fwd)
    return out


def _split(
    u0: F64, v0: F64, u1: F64, v1: F64, tag: I64, lo: float, hi: float, along_u: bool
) -> tuple[F64, F64, F64, F64, I64]:
    """Cut segments where they cross the integer lines ``u = k`` (``along_u``) or ``v = k``,
    for ``lo <= k <= hi``. Returns the pieces in order with the tag of the segment each came
    from. A cut point is computed once (the same formula for the piece that ends there and the
    one that starts there), so the pieces join exactly."""
    a0, a1, b0, b1 = (u0, u1, v0, v1) if along_u else (v0, v1, u0, u1)
    asc = a1 >= a0
    amin = np.where(asc, a0, a1)
    amax = np.where(asc, a1, a0)
    k_first = np.maximum(np.floor(amin) + 1, lo)
    k_last = np.minimum(np.ceil(amax) - 1, hi)
    n = np.maximum(k_last - k_first + 1, 0).astype(np.int64)
    if not n.any():
        return u0, v0, u1, v1, tag
    step = np.where(asc, 1.0, -1.0)
    base = np.where(asc, k_first - 1, k_last + 1)  # the k of piece p's start is base + step * p
    span = a1 - a0
    slope = (b1 - b0) / np.where(span == 0, 1.0, span)
    count = n + 1
    total = int(count.sum())
    starts = np.cumsum(count) - count
    # one index from each piece to its segment; gathering with it (``x.take(of)``) is some
    # twice as fast as repeating every array on its own
    of = np.repeat(np.arange(len(count)), count)
    p = np.arange(total, dtype=np.float64) - starts.take(of)
    r_n = n.take(of)
    r_a0 = a0.take(of)
    r_b0 = b0.take(of)
    r_base = base.take(of)
    r_step = step.take(of)
    r_slope = slope.take(of)
    first = p == 0
    last = p == r_n
    sa = np.where(first, r_a0, r_base + r_step * p)
    ea = np.where(last, a1.take(of), r_base + r_step * (p + 1))
    sb = np.where(first, r_b0, r_b0 + (sa - r_a0) * r_slope)
    eb = np.where(last, b1.take(of), r_b0 + (ea - r_a0) * r_slope)
    t = tag.take(of)
    if along_u:
        return sa, sb, ea, eb, t
    return sb, sa, eb, ea, t


def _rows(
    u0: F64, v0: F64, u1: F64, v1: F64, weight: F64, geom: I64, r0: int, r1: int
) -> tuple[I64, F64, F64, I64]:
    """Cut pieces (each inside one column) at the row lines of the band [r0, r1) and return
    per final piece: its row, its weighted vertical extent (0 outside the band), its mean
    column position, and its polygon. Each piece is first turned to run downwards (v
    increasing), its weight negated when turned, so that the cut points are simply
    ``max(v0, k)`` and ``min(v1, k + 1)``: pieces above or below the band, which may come
    out wrong here, are dropped."""
    keep = np.flatnonzero(v0 != v1)  # level pieces add nothing
    u0, v0, u1, v1, weight, geom = u0[keep], v0[keep], u1[keep], v1[keep], weight[keep], geom[keep]
    flip = v1 < v0
    a0 = np.where(flip, v1, v0)
    a1 = np.where(flip, v0, v1)
    b0 = np.where(flip, u1, u0)
    slope = (np.where(flip, u0, u1) - b0) / (a1 - a0)
    w = np.where(flip, -weight, weight)
    k_first = np.maximum(np.floor(a0) + 1, r0)
    k_last = np.minimum(np.ceil(a1) - 1, r1)
    count = np.maximum(k_last - k_first + 1, 0).astype(np.int64) + 1
    total = int(count.sum())
    starts = np.cumsum(count) - count
    of = np.repeat(np.arange(len(count)), count)  # piece -> segment (see _split)
    # the row of piece p of a segment is k = (k_first - 1) + p
    k = np.arange(total, dtype=np.float64) + (k_first - 1 - starts).take(of)
    ra0 = a0.take(of)
    sa = np.maximum(ra0, k)
    ea = np.minimum(a1.take(of), k + 1)
    row = k.astype(np.int64)
    inside = (row >= r0) & (row < r1)
    dv = np.where(inside, (ea - sa) * w.take(of), 0.0)
    um = b0.take(of) + ((sa + ea) * 0.5 - ra0) * slope.take(of)
    return np.clip(row, r0, r1 - 1), dv, um, geom.take(of)


def zonal_sums(
    geoms: Any, raster: Raster, *, band_rows: int = 512, threads: int | None = None
) -> ZonalResult:
    """Coverage-weighted sums of ``raster`` over each polygon of ``geoms`` (CRS84 lon/lat;
    MultiPolygons and holes allowed; None, empty and non-polygons give 0 with coverage 0)."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    n = len(arr)
    sums = np.zeros(n)
    nodata_area = np.zeros(n)
    area = np.zeros(n)
    if n == 0:
        return ZonalResult(sums, area.copy(), area)
    ids = shapely.get_type_id(arr)
    poly = np.flatnonzero((ids == 3) | (ids == 6))
    if not len(poly):
        return ZonalResult(sums, area.copy(), area)
    geo = _to_raster_crs(arr[poly], raster)
    parts, part_geom = shapely.get_parts(geo, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    if not len(rings):
        return ZonalResult(sums, area.copy(), area)
    exterior = np.ones(len(rings), bool)
    exterior[1:] = ring_part[1:] != ring_part[:-1]
    ring_geom = poly[part_geom[ring_part]]
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    a, _, c, _, e, f = raster.transform
    u = (xy[:, 0] - c) / a
    v = (xy[:, 1] - f) / e
    same = np.flatnonzero(ring_of[1:] == ring_of[:-1])
    u0, v0, u1, v1 = u[same], v[same], u[same + 1], v[same + 1]
    edge_ring = ring_of[same]
    # each ring counts +1 (exterior) or -1 (hole) whatever its orientation; a ring with a
    # positive shoelace area in (u, v) leaves a cover of -1 inside it, hence the minus sign
    shoelace = np.bincount(edge_ring, weights=u0 * v1 - u1 * v0, minlength=len(rings)) / 2
    hole_sign = np.where(exterior, 1.0, -1.0)
    ring_w = -np.sign(shoelace) * hole_sign
    np.add.at(area, ring_geom, hole_sign * np.abs(shoelace))
    W, H = raster.width, raster.height
    # only edges that move vertically and touch the raster's rows matter (those right of the
    # raster too: their cover closes the rows' sums)
    vmin, vmax = np.minimum(v0, v1), np.maximum(v0, v1)
    useful = (v0 != v1) & (vmax > 0) & (vmin < H)
    edges = np.flatnonzero(useful)
    u0, v0, u1, v1 = u0[edges], v0[edges], u1[edges], v1[edges]
    vmin, vmax = vmin[edges], vmax[edges]
    weight_of_edge = ring_w[edge_ring[edges]]
    geom_of_edge = ring_geom[edge_ring[edges]]
    nodata = raster.nodata

    def band(r0: int, r1: int) -> tuple[F64, F64 | None] | None:
        sel = np.flatnonzero((vmax > r0) & (vmin < r1))
        if not len(sel):
            return None
        # cut at column lines inside the raster, then at row lines inside this band
        pu0, pv0, pu1, pv1, tag = _split(
            u0[sel], v0[sel], u1[sel], v1[sel], sel, 0.0, float(W), True
        )
        row, dv, um, g = _rows(pu0, pv0, pu1, pv1, weight_of_edge[tag], geom_of_edge[tag], r0, r1)
        col = np.clip(np.floor(um), -1, W).astype(np.int64)
        row -= r0
        # read only the columns the pieces reach; the window runs to the raster's edge when a
        # piece lies beyond it, so every polygon's row sums stay consistent
        c_lo, c_hi = max(0, int(col.min())), min(W - 1, int(col.max()))
        if c_hi < c_lo:
            return None
        ww = c_hi - c_lo + 1
        lc = col - c_lo  # -1 .. ww
        block = np.asarray(raster.read_rows(r0, r1, c_lo, c_hi + 1))
        bad: npt.NDArray[np.bool_] | None = None
        if block.dtype.kind == "f":
            bad = np.isnan(block)
        if nodata is not None:
            bad = (block == nodata) if bad is None else (bad | (block == nodata))
        if bad is not None and bad.any():
            block = np.where(bad, 0.0, block)
        else:
            bad = None
        # Only differences of the cover matter within a row (a closed ring's pieces in a row
        # have dv summing to 0), so the sum right of a cell can be taken as minus the sum up
        # to and including it: left[:, k] = the row's sum over window columns < k.
        left = np.empty((r1 - r0, ww + 1))
        left[:, 0] = 0.0
        np.cumsum(block, axis=1, dtype=np.float64, out=left[:, 1:])
        inside = (lc >= 0) & (lc < ww)
        frac = np.where(inside, lc + 1 - (um - c_lo), 0.0)
        at = row * ww + np.clip(lc, 0, ww - 1)
        after = np.clip(lc + 1, 0, ww)
        contrib = dv * (frac * block.ravel()[at] - left.ravel()[row * (ww + 1) + after])
        sums: F64 = np.bincount(g, weights=contrib, minlength=n).astype(np.float64)
        nodata_area: F64 | None = None
        if bad is not None:  # the area on nodata cells, by the same sums over the mask
            nd = bad.astype(np.float64)
            nd_left = np.empty((r1 - r0, ww + 1))
            nd_left[:, 0] = 0.0
            np.cumsum(nd, axis=1, out=nd_left[:, 1:])
            ncontrib = dv * (frac * nd.ravel()[at] - nd_left.ravel()[row * (ww + 1) + after])
            nodata_area = np.bincount(g, weights=ncontrib, minlength=n).astype(np.float64)
        return sums, nodata_area

    band_rows = max(1, int(band_rows))
    spans = [(r0, min(H, r0 + band_rows)) for r0 in range(0, H, band_rows)]
    # bands are independent; numpy releases the GIL in the heavy steps, so threads use the
    # machine's cores. Results are added in band order: the same sums whatever the timing.
    workers = max(1, min(threads or os.cpu_count() or 1, len(spans)))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda sp: band(*sp), spans))
    else:
        results = [band(*sp) for sp in spans]
    for res in results:
        if res is None:
            continue
        sums += res[0]
        if res[1] is not None:
            nodata_area += res[1]
    # the area on the raster: the whole polygon when its bounds are inside the raster, else
    # its intersection with the raster's rectangle (in cells)
    on_raster = area.copy()
    if len(poly):
        gb = shapely.bounds(geo)
        xs = (gb[:, [0, 2]] - c) / a
        ys = (gb[:, [1, 3]] - f) / e
        out_of = (xs.min(1) < 0) | (xs.max(1) > W) | (ys.min(1) < 0) | (ys.max(1) > H)
        if out_of.any():
            k = np.flatnonzero(out_of)
            box = shapely.box(
                min(c, c + a * W), min(f, f + e * H), max(c, c + a * W), max(f, f + e * H)
            )
            cell = abs(a * e)
            on_raster[poly[k]] = shapely.area(shapely.intersection(geo[k], box)) / cell
    valid = on_raster - nodata_area
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(area > 0, np.clip(valid / np.where(area > 0, area, 1.0), 0, 1), 0.0)
    return ZonalResult(sums, coverage, area)
