"""Polygons split among the admin polygons of a layer together (services/stats/cutting.py)
give exactly the parts, in whole m², of the polygon-by-polygon cut (the reference below: the
rule of services/stats/areas.py before issue 16's batch): shapes well inside one area, touching
or crossing an area's edge, lying along one, with holes, multipolygons of one and of several
parts, outside every area, on and off the 1e-9 degree grid, with and without a precision grid;
and admin polygons that overlap or have holes. The ones made without an overlay (rounded
rings) are the overlay's rings, coordinate for coordinate."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
import shapely

from demine.geo.geodesy import geodesic_area
from demine.geo.release import DENSIFY_DEG, GRID, polygonal
from demine.services.stats import cutting
from demine.services.stats.areas import Areas, whole_m2

X0, Y0 = 36.0, 48.0
STEP = 0.05


def _admin() -> Areas:
    """A 3 x 2 tiling, an area with a hole (a lake) and one overlapping two tiles."""
    names, geoms = [], []
    for i in range(3):
        for j in range(2):
            names.append(f"t{i}{j}")
            geoms.append(
                shapely.box(X0 + i * STEP, Y0 + j * STEP, X0 + (i + 1) * STEP, Y0 + (j + 1) * STEP)
            )
    geoms[4] = shapely.Polygon(
        shapely.get_coordinates(geoms[4].exterior),
        [shapely.get_coordinates(shapely.box(X0 + 0.11, Y0 + 0.01, X0 + 0.14, Y0 + 0.04).exterior)],
    )
    names.append("over")
    geoms.append(shapely.box(X0 + 0.04, Y0 + 0.06, X0 + 0.07, Y0 + 0.08))
    return Areas(names, geoms, "admin")


def _reference(areas: Areas, g: Any, centre: tuple[float, float]) -> list[tuple[int, int]]:
    """The polygon-by-polygon rule."""
    if g is None or shapely.is_empty(g):
        return []
    if areas.layer is None:
        return [
            (
                -1,
                whole_m2(
                    float(geodesic_area(shapely.segmentize(g, DENSIFY_DEG), centre=centre)[0])
                ),
            )
        ]
    parts: list[tuple[int, Any]] = []
    rest = g
    hits = sorted(int(i) for i in areas.tree.query(g)) if areas.tree is not None else []
    x0, y0, x1, y1 = (float(v) for v in shapely.bounds(g))
    pad = 1e-3
    for i in hits:
        if shapely.is_empty(rest):
            break
        near = shapely.clip_by_rect(areas.geoms[i], x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        near = polygonal(shapely.segmentize(near, DENSIFY_DEG))
        part = polygonal(shapely.intersection(rest, near, grid_size=GRID))
        if shapely.is_empty(part):
            continue
        parts.append((i, part))
        rest = polygonal(shapely.difference(rest, near, grid_size=GRID))
    if not shapely.is_empty(rest):
        parts.append((-1, rest))
    out = []
    for i, p in parts:
        a = geodesic_area(shapely.segmentize(p, DENSIFY_DEG), centre=centre)[0]
        out.append((i, whole_m2(float(a))))
    return out


def _star(rng: random.Random, x: float, y: float, r: float, n: int = 0) -> Any:
    n = n or rng.randint(5, 40)
    radii = [r * rng.uniform(0.4, 1) for _ in range(n)]
    pts = [
        (x + q * math.cos(2 * math.pi * k / n), y + q * math.sin(2 * math.pi * k / n))
        for k, q in enumerate(radii)
    ]
    return shapely.Polygon(pts)


def _shapes(rng: random.Random, n: int) -> list[Any]:
    out: list[Any] = []
    for k in range(n):
        x = rng.uniform(X0 - 0.01, X0 + 3 * STEP + 0.01)
        y = rng.uniform(Y0 - 0.01, Y0 + 2 * STEP + 0.01)
        g = _star(rng, x, y, rng.uniform(0.0005, 0.006))
        kind = k % 8
        if kind == 1:  # with a hole
            g = g.difference(g.centroid.buffer(g.length / 80))
        elif kind == 2:  # a multipolygon of one part
            g = shapely.MultiPolygon([g])
        elif kind == 3:  # of two parts
            g = shapely.MultiPolygon([g, _star(rng, x + 0.02, y, 0.002)])
        elif kind == 4:  # on the grid, with its precision
            g = shapely.set_precision(g, GRID)
        elif kind == 5:  # cut as an account cuts it: edges segmentized, off the grid
            g = shapely.segmentize(g, DENSIFY_DEG)
        elif kind == 6:  # a precision grid, its multipolygon of one part
            g = shapely.set_precision(shapely.MultiPolygon([g]), GRID)
        out.append(g)
    return out


def _edges() -> list[Any]:
    """Shapes on, along and across the areas' edges, and outside every one."""
    e = X0 + STEP  # the edge between t0* and t1*
    return [
        shapely.box(e - 0.001, Y0 + 0.01, e, Y0 + 0.02),  # touches the edge from inside
        shapely.box(e - 1e-7, Y0 + 0.01, e - 1e-8, Y0 + 0.02),  # nearer than the margin
        shapely.box(e - 0.001, Y0 + 0.01, e + 0.001, Y0 + 0.02),  # crosses it
        shapely.box(e - 0.001, Y0 + STEP - 0.001, e + 0.001, Y0 + STEP + 0.001),  # a corner
        shapely.box(X0 + 0.1, Y0 + 0.02, X0 + 0.12, Y0 + 0.03),  # over the lake's shore
        shapely.box(X0 + 0.12, Y0 + 0.02, X0 + 0.13, Y0 + 0.03),  # in the lake
        shapely.box(X0 + 0.045, Y0 + 0.065, X0 + 0.05, Y0 + 0.07),  # in two overlapping areas
        shapely.box(X0 - 0.5, Y0 - 0.5, X0 - 0.4, Y0 - 0.4),  # outside every area
        shapely.box(X0 - 0.01, Y0 + 0.01, X0 + 0.01, Y0 + 0.02),  # half outside
        shapely.MultiPolygon(
            [
                shapely.box(X0 + 0.01, Y0 + 0.01, X0 + 0.02, Y0 + 0.02),
                shapely.box(X0 - 0.3, Y0 + 0.01, X0 - 0.2, Y0 + 0.02),  # a part outside
            ]
        ),
        shapely.MultiPolygon(  # two parts sharing an edge: the overlay makes one polygon
            [
                shapely.box(X0 + 0.01, Y0 + 0.01, X0 + 0.02, Y0 + 0.02),
                shapely.box(X0 + 0.02, Y0 + 0.01, X0 + 0.03, Y0 + 0.02),
            ]
        ),
        shapely.Polygon(  # a repeated vertex
            [(X0 + 0.01, Y0 + 0.01), (X0 + 0.02, Y0 + 0.01), (X0 + 0.02, Y0 + 0.01)]
            + [(X0 + 0.02, Y0 + 0.02)]
        ),
        shapely.Polygon(),
        None,
    ]


def test_batch_gives_the_parts_of_the_polygon_by_polygon_cut() -> None:
    areas = _admin()
    rng = random.Random(16)
    geoms = _shapes(rng, 400) + _edges()
    centres = []
    for g in geoms:
        b = shapely.bounds(g) if g is not None and not g.is_empty else (X0, Y0, X0, Y0)
        centres.append(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
    got = areas.parts_many(geoms, centres)
    want = [_reference(areas, g, c) for g, c in zip(geoms, centres, strict=True)]
    assert got == want
    assert [areas.parts_of(g, c) for g, c in zip(geoms, centres, strict=True)] == want
    # the batch took the short way for most of them
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    deep = cutting.deep_inside(areas, arr)
    assert (deep >= 0).sum() > len(geoms) / 3
    # and none of the shapes on an edge, in two areas or outside
    assert (deep[-len(_edges()) :] >= 0).sum() <= 3  # only the three well inside one


def test_rounded_rings_are_the_overlays() -> None:
    areas = _admin()
    rng = random.Random(7)
    geoms = [g for g in _shapes(rng, 300) if shapely.get_num_interior_rings(g) == 0]
    geoms = [g for g in geoms if shapely.get_num_geometries(g) == 1]
    geoms += [g.reverse() for g in geoms]  # both ways round
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    deep = cutting.deep_inside(areas, arr)
    k, base = cutting.one_ring(arr, deep)
    # the anticlockwise ones are left to the overlay
    assert len(k) == (deep >= 0).sum() / 2
    assert not shapely.is_ccw(shapely.get_exterior_ring(base)).any()
    rounded = cutting._rounded(base, arr[k])
    assert sum(r is not None for r in rounded) > len(k) * 0.9
    for j, r in zip(k, rounded, strict=True):
        if r is None:
            continue
        near = cutting._near(areas.geoms[deep[j]], arr[j])
        exact = polygonal(shapely.intersection(arr[j], near, grid_size=GRID))
        assert cutting.same_rings(exact, r)


def test_no_layer_and_empty_layer() -> None:
    rng = random.Random(3)
    geoms = [*_shapes(rng, 20), None, shapely.Polygon()]
    centres = [(X0, Y0)] * len(geoms)
    one = Areas([], [], None)
    empty = Areas([], [], "admin")
    for areas in (one, empty):
        want = [_reference(areas, g, c) for g, c in zip(geoms, centres, strict=True)]
        assert areas.parts_many(geoms, centres) == want
        assert [p[0][0] for p in want[:20]] == [-1] * 20


@pytest.mark.parametrize("sample_fails", [False, True])
def test_a_sample_that_disagrees_sends_every_polygon_to_the_overlay(
    monkeypatch: pytest.MonkeyPatch, sample_fails: bool
) -> None:
    areas = _admin()
    geoms = _shapes(random.Random(11), 120)
    centres = [tuple(shapely.centroid(g).coords[0]) for g in geoms]
    want = [_reference(areas, g, c) for g, c in zip(geoms, centres, strict=True)]
    if sample_fails:
        monkeypatch.setattr(cutting, "same_rings", lambda a, b: False)
    assert areas.parts_many(geoms, centres) == want


def test_near_a_boundary_as_the_whole_boundaries_say() -> None:
    """The boundary tree holds the admin boundaries segment by segment: the polygons within
    the margin of a boundary are those within it of a whole boundary."""
    areas = _admin()
    rng = random.Random(17)
    geoms = [g for g in _shapes(rng, 400) + _edges() if g is not None and not g.is_empty]
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    whole = shapely.boundary(np.asarray(areas.geoms, dtype=object))
    want = np.zeros(len(arr), bool)
    for k, g in enumerate(arr):
        want[k] = bool(shapely.dwithin(g, whole, cutting.MARGIN_DEG).any())
    got = np.zeros(len(arr), bool)
    got[areas.boundary_tree.query(arr, predicate="dwithin", distance=cutting.MARGIN_DEG)[0]] = True
    assert want.any() and not want.all()
    assert (got == want).all()


def test_cut_together_in_rounds_is_the_cut_one_by_one() -> None:
    """:func:`cutting.cut_many` (round k: every polygon by its k-th admin polygon, together)
    gives each polygon's parts as :func:`cutting.cut` does, coordinate for coordinate."""
    areas = _admin()
    rng = random.Random(18)
    geoms = [g for g in _shapes(rng, 300) + _edges() if g is not None and not g.is_empty]
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    got = cutting.cut_many(areas, arr)
    want = [cutting.cut(areas, g) for g in geoms]
    assert sum(len(w) > 1 for w in want) > 10  # some are cut in several parts
    assert [[i for i, _ in ps] for ps in got] == [[i for i, _ in ps] for ps in want]
    for ps, ws in zip(got, want, strict=True):
        assert all(cutting.same_rings(p, w) for (_, p), (_, w) in zip(ps, ws, strict=True))
    assert cutting.cut_many(Areas([], [], "empty"), arr[:3]) == [[(-1, g)] for g in arr[:3]]
