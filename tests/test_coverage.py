"""The coverage grid of GeometryIndex: the same answers as the exact lookup, and conservative
cells (a cell without entries has nothing within the radius; an "inside" cell is inside)."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

from demine.geo.coverage import CAP, LAT_MAX, _keys
from demine.geo.geodesy import GeometryIndex, distance_to_geometries

GEOD = Geod(ellps="WGS84")
R = 100.0


def star(
    lon: float, lat: float, size_m: float, n: int, rng: np.random.Generator
) -> shapely.Polygon:
    az = np.sort(rng.uniform(0, 360, n))
    dist = size_m * rng.uniform(0.5, 1.0, n)
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, dist)
    return shapely.Polygon(np.column_stack([lons, lats]))


def hazards() -> list[shapely.Geometry]:
    """Real-world shapes: fields and tree lines, tiny and huge polygons, holes, multipolygons,
    hazards across ±180° (as coordinates past 180 and as two parts), far north and south."""
    rng = np.random.default_rng(16)
    out: list[shapely.Geometry] = []
    for _ in range(40):  # a dense cluster, as in eastern Ukraine
        out.append(
            star(rng.uniform(37.0, 37.05), rng.uniform(48.0, 48.04), rng.uniform(50, 600), 24, rng)
        )
    out.append(star(37.02, 48.02, 0.5, 5, rng))  # tiny
    out.append(star(36.5, 47.5, 30_000, 60, rng))  # huge
    ring = star(37.2, 48.2, 800, 30, rng)
    hole = star(37.2, 48.2, 300, 12, rng)
    out.append(shapely.Polygon(ring.exterior.coords, [hole.exterior.coords]))
    out.append(
        shapely.MultiPolygon([star(37.3, 48.3, 200, 10, rng), star(37.31, 48.3, 150, 10, rng)])
    )
    out.append(shapely.box(179.998, -17.0, 180.002, -16.996))  # across 180 as coordinates past it
    out.append(
        shapely.MultiPolygon(
            [
                shapely.box(179.997, -16.9, 180.0, -16.897),
                shapely.box(-180.0, -16.9, -179.997, -16.897),
            ]
        )
    )
    for lat in (62.0, 71.5, 78.9, 79.99, 80.0005, 84.0, -79.999, -89.5):  # thin cells, polar
        out.append(star(15.0, lat, 400, 16, rng))
    out.append(shapely.LineString([(37.1, 48.1), (37.11, 48.105)]))  # a road
    out.append(shapely.Point(37.12, 48.12))
    return out


def points(geoms: list[shapely.Geometry]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(17)
    lon, lat = [], []
    for g in geoms:  # around each hazard, up to 2 km away
        c = g.centroid if g.geom_type != "MultiPolygon" else g.geoms[0].centroid
        k = 150
        lo, la, _ = GEOD.fwd(
            np.full(k, c.x), np.full(k, c.y), rng.uniform(0, 360, k), rng.uniform(0, 2000, k) ** 1.0
        )
        lon += list(lo)
        lat += list(la)
        xy = shapely.get_coordinates(g)  # on vertices
        lon += list(xy[:20, 0])
        lat += list(xy[:20, 1])
    side = 2.0**-10  # exactly on cell edges and corners of the finest levels
    for k in range(400):
        lon.append(round(rng.uniform(36.99, 37.06) / side) * side)
        lat.append(
            round(rng.uniform(47.99, 48.05) / side) * side * (k % 2)
            + rng.uniform(47.99, 48.05) * (1 - k % 2)
        )
    lon += [180.0, -180.0, 179.9995, -179.9995, 180.0005, 15.0, 15.0, 0.0]
    lat += [-16.998, -16.8985, -16.8985, -16.8985, -16.998, 80.0, 80.0001, -90.0]
    return np.asarray(lon), np.asarray(lat)


def test_grid_answers_as_the_exact_lookup() -> None:
    geoms = hazards()
    idx = GeometryIndex(geoms, grid_radius_m=R)
    assert idx.grid is not None and idx.grid.entries <= CAP * len(geoms)
    lon, lat = points(geoms)
    for r in (R, 37.5, 0.0, 250.0):  # 250 m: above the grid's radius, measured exactly
        got = idx.within(lon, lat, r)
        exact = idx.within(lon, lat, r, exact=True)
        for a, b in zip(got, exact, strict=True):
            assert np.array_equal(a, b)
        if r == R:
            assert len(got[0]) > 1000 and (got[2] == 0).sum() > 100
            assert set(got[1].tolist()) >= {42, 43, 44, 45}  # hole, multipolygon, across 180
    # points far from every hazard: nothing, with or without the grid
    pi, _, _ = idx.within(np.array([0.0, 100.0]), np.array([0.0, 10.0]), R)
    assert len(pi) == 0


def test_cells_are_conservative() -> None:
    """Brute force on a sample: a point in a cell with no entry for a geometry is farther than
    the radius from it; a point in an "inside" cell is inside."""
    geoms = hazards()
    idx = GeometryIndex(geoms, grid_radius_m=R)
    assert idx.grid is not None
    rng = np.random.default_rng(18)
    lon, lat = points(geoms)
    keep = np.isfinite(lat) & (np.abs(lat) <= LAT_MAX)
    sample = rng.choice(np.flatnonzero(keep), 300, replace=False)
    for i in sample:
        listed: set[int] = set()
        for lv in idx.grid.levels:
            key = _keys(
                np.floor(lon[i : i + 1] / lv.side).astype(np.int64),
                np.floor(lat[i : i + 1] / lv.side).astype(np.int64),
            )
            cell = int(lv.find(key)[0])
            if cell >= 0:
                listed |= set(lv.geom[lv.start[cell] : lv.start[cell + 1]].tolist())
        d = distance_to_geometries(float(lon[i]), float(lat[i]), geoms)
        for g in np.flatnonzero(d <= R * 1.01):
            if abs(float(lon[i]) - geoms[g].centroid.x) < 180:  # not across 180
                assert int(g) in listed, (i, g, d[g])
    checked = 0
    for lv in idx.grid.levels:
        cells = np.repeat(np.arange(lv.cells), np.diff(lv.start))
        for e in np.flatnonzero(lv.inside)[:50]:
            slot = np.flatnonzero(lv.table_cell == cells[e])
            slot = slot[lv.table_key[slot] >= 0][0]
            key = int(lv.table_key[slot])
            ix, iy = (key >> 31) - (1 << 30), (key & ((1 << 31) - 1)) - (1 << 30)
            px = (ix + rng.uniform(0, 1, 20)) * lv.side
            py = (iy + rng.uniform(0, 1, 20)) * lv.side
            inside = shapely.contains_xy(geoms[int(lv.geom[e])], px, py)
            assert inside.all()
            checked += 1
    assert checked >= 1


def test_beyond_lat_max_and_no_grid() -> None:
    rng = np.random.default_rng(3)
    geoms = [star(10.0, 85.0, 500, 12, rng), star(10.0, 48.0, 500, 12, rng)]
    with_grid = GeometryIndex(geoms, grid_radius_m=R)
    plain = GeometryIndex(geoms)
    lo, la, _ = GEOD.fwd(
        np.full(200, 10.0),
        np.r_[np.full(100, 85.0), np.full(100, 48.0)],
        rng.uniform(0, 360, 200),
        rng.uniform(0, 700, 200),
    )
    for a, b in zip(with_grid.within(lo, la, R), plain.within(lo, la, R), strict=True):
        assert np.array_equal(a, b)
    assert (with_grid.within(lo, la, R)[1] == 0).any()


def test_grid_at_other_radii_and_dense_data() -> None:
    """Grids for 5 m and 2 km over a dense random register: the same answers as the exact
    lookup at the grid's radius and below it."""
    rng = np.random.default_rng(21)
    geoms: list[shapely.Geometry] = [
        star(rng.uniform(30.0, 30.2), rng.uniform(50.0, 50.1), rng.uniform(3, 900), 12, rng)
        for _ in range(300)
    ]
    lon = rng.uniform(29.99, 30.21, 8_000)
    lat = rng.uniform(49.99, 50.11, 8_000)
    for grid_r, radii in ((5.0, (5.0, 1.0)), (2000.0, (2000.0, 300.0))):
        idx = GeometryIndex(geoms, grid_radius_m=grid_r)
        assert idx.grid is not None and idx.grid.entries <= CAP * len(geoms)
        for r in radii:
            got = idx.within(lon, lat, r)
            exact = idx.within(lon, lat, r, exact=True)
            assert len(got[0]) > 50
            for a, b in zip(got, exact, strict=True):
                assert np.array_equal(a, b)
