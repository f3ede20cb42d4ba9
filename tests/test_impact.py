"""The zonal engine (demine.geo.zonal): coverage-weighted raster sums checked against exact
references (analytic cases, brute-force cell-by-cell intersections), raster edges, nodata,
holes, bad grids; metric buffers, distances within reach, counts and overlaps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod

from demine.errors import ValidationError
from demine.geo.geodesy import geodesic_area
from demine.geo.zonal import (
    Raster,
    buffer_m,
    count_within,
    nearest_within,
    overlap_area,
    zonal_sums,
)

GEOD = Geod(ellps="WGS84")

# a small CRS84 grid: 0.01° cells, 40 columns from lon 37.0, 30 rows down from lat 48.3
RES = 0.01
X0, Y0 = 37.0, 48.3
W, H = 40, 30
T = (RES, 0.0, X0, 0.0, -RES, Y0)


def _grid(values: np.ndarray, nodata: float | None = None) -> Raster:
    return Raster.from_array(values, T, "OGC:CRS84", nodata)


def _brute_force(poly: shapely.Geometry, values: np.ndarray) -> float:
    """Σ value × (area of cell ∩ polygon) / (cell area), cell by cell with GEOS (planar in
    lon/lat, as the engine is)."""
    total = 0.0
    h, w = values.shape
    for r in range(h):
        for c in range(w):
            cell = shapely.box(X0 + c * RES, Y0 - (r + 1) * RES, X0 + (c + 1) * RES, Y0 - r * RES)
            a = shapely.area(shapely.intersection(cell, poly))
            if a:
                total += float(values[r, c]) * a / (RES * RES)
    return total


def test_exact_against_cell_by_cell_intersection() -> None:
    rng = np.random.default_rng(1)
    values = rng.gamma(1.0, 5.0, (H, W))
    polys = []
    for _ in range(12):
        cx, cy = rng.uniform(X0 + 0.05, X0 + 0.35), rng.uniform(Y0 - 0.25, Y0 - 0.05)
        k = 9
        ang = np.sort(rng.uniform(0, 2 * math.pi, k))
        rad = rng.uniform(0.01, 0.06, k)
        polys.append(
            shapely.Polygon(np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)]))
        )
    # a hole, a multipolygon, a clockwise ring, and shapes crossing each edge of the raster
    polys.append(
        shapely.box(37.1, 48.1, 37.2, 48.2).difference(shapely.box(37.13, 48.13, 37.17, 48.17))
    )
    polys.append(
        shapely.MultiPolygon(
            [shapely.box(37.01, 48.01, 37.03, 48.04), shapely.box(37.3, 48.2, 37.33, 48.27)]
        )
    )
    polys.append(shapely.Polygon([(37.2, 48.05), (37.2, 48.1), (37.25, 48.05)]))  # clockwise
    polys.append(shapely.Polygon([(36.95, 48.1), (37.05, 48.12), (37.03, 48.2)]))  # west edge
    polys.append(shapely.Polygon([(37.35, 48.1), (37.45, 48.12), (37.37, 48.2)]))  # east edge
    polys.append(shapely.Polygon([(37.1, 48.28), (37.2, 48.35), (37.25, 48.25)]))  # north edge
    polys.append(shapely.Polygon([(37.1, 48.05), (37.2, 47.95), (37.25, 48.02)]))  # south edge
    got = zonal_sums(polys, _grid(values)).sums
    want = np.array([_brute_force(p, values) for p in polys])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_bands_and_threads_do_not_change_the_sums() -> None:
    rng = np.random.default_rng(2)
    values = rng.random((H, W))
    pts = shapely.points(rng.uniform(37.0, 37.4, 50), rng.uniform(48.0, 48.3, 50))
    polys = shapely.buffer(pts, 0.03)
    ref = zonal_sums(polys, _grid(values), band_rows=512, threads=1)
    for band_rows, threads in ((1, 1), (3, 2), (7, 4)):
        r = zonal_sums(polys, _grid(values), band_rows=band_rows, threads=threads)
        np.testing.assert_allclose(r.sums, ref.sums, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r.coverage, ref.coverage, rtol=1e-12)


def test_a_hot_cell() -> None:
    values = np.zeros((H, W))
    values[10, 20] = 100.0  # the cell lon 37.20..37.21, lat 48.19..48.20
    half = shapely.box(37.205, 48.19, 37.21, 48.20)  # its eastern half
    whole = shapely.box(37.19, 48.18, 37.22, 48.21)
    away = shapely.box(37.0, 48.0, 37.1, 48.1)
    quarter = shapely.box(37.2, 48.195, 37.205, 48.20)  # its north-west quarter
    got = zonal_sums([half, whole, away, quarter], _grid(values)).sums
    np.testing.assert_allclose(got, [50.0, 100.0, 0.0, 25.0], atol=1e-9)


def test_partly_and_wholly_outside_the_raster() -> None:
    ones = np.ones((H, W))
    west = shapely.box(36.9, 48.1, 37.1, 48.2)  # half outside
    corner = shapely.box(37.35, 48.25, 37.45, 48.35)  # a quarter inside (north-east corner)
    outside = shapely.box(30.0, 40.0, 30.1, 40.1)
    inside = shapely.box(37.1, 48.1, 37.2, 48.2)
    r = zonal_sums([west, corner, outside, inside, None, shapely.Point(37.1, 48.1)], _grid(ones))
    np.testing.assert_allclose(r.sums, [100.0, 25.0, 0.0, 100.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(r.coverage, [0.5, 0.25, 0.0, 1.0, 0.0, 0.0], atol=1e-9)


def test_nodata_cells_lower_the_coverage_not_the_sum() -> None:
    values = np.full((H, W), 2.0)
    values[:, :10] = -9999.0  # west quarter: nodata
    values[0, 39] = np.nan  # NaN counts as nodata too
    poly = shapely.box(37.05, 48.1, 37.15, 48.2)  # half on nodata
    r = zonal_sums([poly], _grid(values, nodata=-9999.0))
    np.testing.assert_allclose(r.sums, [100.0], atol=1e-9)  # 50 cells × 2
    np.testing.assert_allclose(r.coverage, [0.5], atol=1e-9)


def test_constant_density_on_a_geographic_raster() -> None:
    """People spread at 1 per 100 m²: each cell holds density × its geodesic area, so a
    hazard's sum is density × its geodesic area (within 1e-3: cells are planar in lon/lat)."""
    res = 0.001
    h, w = 400, 400
    lat_edges = 48.4 - np.arange(h + 1) * res
    row_area = np.array(
        [
            abs(GEOD.polygon_area_perimeter([37.0, 37.0 + res, 37.0 + res, 37.0], [a, a, b, b])[0])
            for a, b in zip(lat_edges[1:], lat_edges[:-1], strict=True)
        ]
    )
    values = np.repeat((row_area / 100.0)[:, None], w, axis=1)
    raster = Raster.from_array(values, (res, 0, 37.0, 0, -res, 48.4), "EPSG:4326")
    hazard = shapely.Polygon([(37.1, 48.1), (37.25, 48.12), (37.3, 48.3), (37.15, 48.25)])
    polys = buffer_m([hazard, shapely.Point(37.2, 48.2)], 1000.0)
    r = zonal_sums(polys, raster)
    np.testing.assert_allclose(r.sums, geodesic_area(polys) / 100.0, rtol=1e-3)
    np.testing.assert_allclose(r.coverage, 1.0)


def test_constant_raster_in_an_equal_area_projection() -> None:
    """A raster in EPSG:3035 (Lambert azimuthal equal-area), 100 m cells of 1: the sum is the
    hazard's area in hectares, within 1e-3 (edges densified to 0.001° before projecting)."""
    from pyproj import Transformer

    tr = Transformer.from_crs("OGC:CRS84", "EPSG:3035", always_xy=True)
    x, y = tr.transform(37.5, 48.0)
    x0, y0 = math.floor(x / 100) * 100 - 5000, math.floor(y / 100) * 100 + 5000
    raster = Raster.from_array(
        np.ones((100, 100), np.float32), (100, 0, x0, 0, -100, y0), "EPSG:3035"
    )
    polys = buffer_m([shapely.Point(37.5, 48.0), shapely.box(37.49, 47.99, 37.51, 48.0)], 800.0)
    r = zonal_sums(polys, raster)
    np.testing.assert_allclose(r.sums, geodesic_area(polys) / 10_000, rtol=1e-3)


def test_bad_grids_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError) as e:
        Raster.from_array(np.ones((3, 3)), (0.01, 0.001, 37.0, 0.0, -0.01, 48.0))
    assert e.value.faults[0].field == "transform"
    assert "rotated" in e.value.message
    with pytest.raises(ValidationError) as e:
        Raster.from_array(np.ones((3, 3)), T, None)
    assert e.value.faults[0].field == "crs"
    with pytest.raises(ValidationError):
        Raster.from_array(np.ones((2, 3, 3)), T)


def test_a_geotiff_read_in_windows(tmp_path: Path) -> None:
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(3)
    values = rng.random((H, W)).astype(np.float32)
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=W,
        height=H,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        nodata=-1.0,
    ) as ds:
        ds.write(values, 1)
    polys = shapely.buffer(shapely.points([37.1, 37.3], [48.1, 48.2]), 0.04)
    from_file = zonal_sums(polys, Raster.open(path), band_rows=4)
    in_memory = zonal_sums(polys, _grid(values.astype(np.float64)))
    np.testing.assert_allclose(from_file.sums, in_memory.sums, rtol=1e-9)
    with pytest.raises(ValidationError):
        Raster.open(tmp_path / "missing.tif")


# --- vector measures ---------------------------------------------------------------------------


def test_buffer_m_is_metric() -> None:
    (circle,) = buffer_m([shapely.Point(37.8, 48.0)], 1000.0)
    xy = shapely.get_coordinates(circle)
    _, _, d = GEOD.inv(np.full(len(xy), 37.8), np.full(len(xy), 48.0), xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(d, 1000.0, atol=0.5)  # every vertex 1 km away (geodesic)
    n = 32  # quad_segs=8: a 32-gon inscribed in the circle
    assert geodesic_area([circle])[0] == pytest.approx(
        n / 2 * 1e6 * math.sin(2 * math.pi / n), rel=1e-3
    )
    assert buffer_m([None], 10.0)[0] is None


def test_nearest_within_and_counts() -> None:
    hazard = shapely.box(37.8, 48.0, 37.81, 48.01)
    lon_500 = GEOD.fwd(37.81, 48.005, 90, 500.0)[0]  # 500 m east of its east side
    school = shapely.Point(lon_500, 48.005)
    far = shapely.Point(38.5, 48.5)
    road = shapely.LineString([(37.0, 48.0 - 0.0027), (39.0, 48.0 - 0.0027)])  # ~300 m south
    d, which = nearest_within([hazard, far], [far, school], 2000.0)
    assert d[0] == pytest.approx(500.0, rel=2e-3) and which[0] == 1
    assert d[1] == 0.0 and which[1] == 0
    d, _ = nearest_within([hazard], [road], 1000.0)
    assert d[0] == pytest.approx(300.0, rel=0.01)
    d, which = nearest_within([hazard], [far], 1000.0)
    assert math.isinf(d[0]) and which[0] == -1
    counts = count_within([hazard, far], [lon_500, 37.805, 30.0], [48.005, 48.005, 40.0], 600.0)
    assert counts.tolist() == [2, 0]


def test_overlap_area_counts_overlapping_fields_once() -> None:
    hazard = shapely.box(37.8, 48.0, 37.82, 48.02)
    f1 = shapely.box(37.79, 47.99, 37.81, 48.02)  # the west half of the hazard
    f2 = shapely.box(37.80, 48.0, 37.805, 48.02)  # inside f1
    got = overlap_area([hazard, shapely.box(30, 40, 30.1, 40.1)], [f1, f2])
    want = geodesic_area([shapely.box(37.8, 48.0, 37.81, 48.02)])[0]
    assert got[0] == pytest.approx(want, rel=1e-6)
    assert got[1] == 0.0
