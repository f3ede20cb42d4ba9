"""Geometry rules: each rule's fault, its location, and what repair does."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from demine.geo.checks import POLYGONAL, check_geometries, check_geometry

SQ = [[30.0, 50.0], [30.01, 50.0], [30.01, 50.01], [30.0, 50.01], [30.0, 50.0]]


def poly(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [list(r) for r in rings]}


def test_valid_square_passes_unchanged() -> None:
    r = check_geometry(poly(SQ))
    assert r.ok and not r.repairs and not r.warnings
    assert r.geometry is not None
    assert shapely.equals_exact(r.geometry, shapely.Polygon(SQ), 0)


def test_unclosed_ring_is_a_repairable_fault_and_repair_closes_it() -> None:
    r = check_geometry(poly(SQ[:-1]))
    assert r.geometry is None
    (f,) = r.faults
    assert "not closed" in f.reason and f.field == "geometry.coordinates[0]" and f.repairable
    r2 = check_geometry(poly(SQ[:-1]), repair=True)
    assert r2.ok and r2.geometry is not None
    assert any("closed by repeating its first vertex" in x.reason for x in r2.repairs)
    assert shapely.equals(r2.geometry, shapely.Polygon(SQ))


def test_too_few_distinct_vertices() -> None:
    r = check_geometry(poly([[0, 0], [1, 1], [0, 0]]), max_jump_m=None)
    assert any("2 distinct vertices" in f.reason for f in r.faults)
    assert not check_geometry(poly([[0, 0], [1, 1], [0, 0]]), repair=True, max_jump_m=None).ok


def test_line_needs_two_distinct_positions() -> None:
    r = check_geometry({"type": "LineString", "coordinates": [[1, 2], [1, 2], [1, 2]]})
    assert any("no length" in f.reason for f in r.faults)


def test_out_of_range_that_is_not_a_swap() -> None:
    ring = [[200.0, 10.0], [200.01, 10.0], [200.01, 10.01], [200.0, 10.0]]
    r = check_geometry(poly(ring))
    (f,) = r.faults
    assert "out of range" in f.reason and "antimeridian" in f.reason
    assert f.field == "geometry.coordinates[0][0]" and not f.repairable
    assert not check_geometry(poly(ring), repair=True).ok


def test_swapped_lat_lon_detected_and_repaired() -> None:
    ring = [[30.0, 95.0], [30.01, 95.0], [30.01, 95.01], [30.0, 95.0]]  # [lat, lon]
    swapped = [[y, x] for x, y in ring]
    r = check_geometry(poly(ring))
    assert any(
        "latitude and longitude appear swapped" in f.reason and f.repairable for f in r.faults
    )
    r2 = check_geometry(poly(ring), repair=True)
    assert r2.ok and r2.geometry is not None
    assert any("swapped back" in x.reason for x in r2.repairs)
    assert shapely.equals(r2.geometry, shapely.Polygon(swapped))


def test_swap_detected_through_area_of_interest() -> None:
    ukraine = (22.0, 44.0, 40.5, 52.5)
    ring = [[50.0, 30.0], [50.0, 30.01], [50.01, 30.01], [50.0, 30.0]]  # lat, lon
    assert check_geometry(poly(ring)).ok  # in range: only the AOI reveals it
    r = check_geometry(poly(ring), aoi=ukraine)
    assert any("appear swapped" in f.reason for f in r.faults)
    r2 = check_geometry(poly(ring), aoi=ukraine, repair=True)
    assert r2.geometry is not None
    assert r2.geometry.bounds[0] >= 30.0 and r2.geometry.bounds[3] <= 50.01


def test_vertex_jump_names_ring_and_vertex() -> None:
    ring = [[30.0, 50.0], [30.01, 50.0], [30.5, 50.01], [30.0, 50.01], [30.0, 50.0]]
    r = check_geometry(poly(ring))
    jumps = [f for f in r.faults if "vertex jump" in f.reason]
    assert len(jumps) == 2
    assert jumps[0].field == "geometry.coordinates[0][2]"
    assert "vertices 1 and 2 of exterior ring" in jumps[0].reason
    assert not check_geometry(poly(ring), repair=True).ok  # cannot be repaired
    assert check_geometry(poly(ring), max_jump_m=50_000).ok


def test_self_intersection_reported_and_repaired_with_make_valid() -> None:
    bowtie = [[30.0, 50.0], [30.01, 50.01], [30.01, 50.0], [30.0, 50.01], [30.0, 50.0]]
    r = check_geometry(poly(bowtie))
    (f,) = r.faults
    assert "Self-intersection" in f.reason and f.repairable
    r2 = check_geometry(poly(bowtie), repair=True)
    assert r2.ok and r2.geometry is not None and r2.geometry.is_valid
    assert r2.geometry.geom_type == "MultiPolygon"
    assert any("1 polygon became 2" in x.reason for x in r2.repairs)


def test_hole_outside_shell_is_invalid() -> None:
    hole = [[31.0, 51.0], [31.0, 51.001], [31.001, 51.001], [31.0, 51.0]]
    r = check_geometry(poly(SQ, hole), max_jump_m=None)
    assert any("Hole lies outside shell" in f.reason for f in r.faults)


def test_duplicate_vertices_warn_and_repair_removes_them() -> None:
    ring = [SQ[0], SQ[1], SQ[1], SQ[2], SQ[3], SQ[4]]
    r = check_geometry(poly(ring))
    assert r.ok
    (w,) = r.warnings
    assert "1 duplicate consecutive vertex" in w.reason and w.field == "geometry.coordinates[0][2]"
    assert r.geometry is not None and shapely.get_num_coordinates(r.geometry) == 6
    r2 = check_geometry(poly(ring), repair=True)
    assert r2.geometry is not None and shapely.get_num_coordinates(r2.geometry) == 5
    assert any("removed 1 vertex" in x.reason for x in r2.repairs)


def test_orientation_is_normalised_without_a_fault() -> None:
    cw = SQ[::-1]
    hole_ccw = [[30.002, 50.002], [30.004, 50.002], [30.004, 50.004], [30.002, 50.002]]
    r = check_geometry(poly(cw, hole_ccw))
    assert r.ok
    reasons = [x.reason for x in r.repairs]
    assert any("exterior ring reoriented counter-clockwise (RFC 7946" in s for s in reasons)
    assert any("reoriented clockwise" in s for s in reasons)
    assert r.geometry is not None
    assert shapely.is_ccw(r.geometry.exterior)
    assert not shapely.is_ccw(r.geometry.interiors[0])


def test_z_dropped_with_warning() -> None:
    r = check_geometry(poly([p + [100.0] for p in SQ]))
    assert r.ok and r.geometry is not None and not r.geometry.has_z
    assert any("Z" in w.reason for w in r.warnings)


def test_allowed_types() -> None:
    r = check_geometry(
        {"type": "LineString", "coordinates": [[30, 50], [30.01, 50]]}, allowed=POLYGONAL
    )
    (f,) = r.faults
    assert f.reason == "a MultiPolygon or Polygon geometry is required, got LineString"
    assert not check_geometry(None, allowed=POLYGONAL).ok
    assert check_geometry(None).ok and check_geometry(None).geometry is None


def test_multipolygon_fields_name_part_ring_and_vertex() -> None:
    mp = {"type": "MultiPolygon", "coordinates": [[SQ], [[[31, 51], [31.01, 51], "x"]]]}
    r = check_geometry(mp)
    (f,) = r.faults
    assert f.field == "geometry.coordinates[1][0][2]"


def test_batch_matches_single_and_keeps_index() -> None:
    raws: list[dict[str, Any] | None] = [
        poly(SQ),
        None,
        poly(SQ[:-1]),
        {"type": "Point", "coordinates": [30, 50, 1]},
        {
            "type": "MultiPolygon",
            "coordinates": [[SQ], [[[31, 51], [31.01, 51], [31.01, 51.01], [31, 51]]]],
        },
        {
            "type": "GeometryCollection",
            "geometries": [poly(SQ), {"type": "Point", "coordinates": [1, 2]}],
        },
    ]
    batch = check_geometries(raws, feature_ids=["a", "b", "c", "d", "e", "f"])
    for i, raw in enumerate(raws):
        single = check_geometry(raw)
        assert [f.reason for f in batch[i].faults] == [f.reason for f in single.faults]
        assert (batch[i].geometry is None) == (single.geometry is None)
        if single.geometry is not None:
            assert shapely.equals_exact(batch[i].geometry, single.geometry, 0)
    assert batch[2].faults[0].index == 2 and batch[2].faults[0].feature_id == "c"
    assert batch[4].geometry is not None and batch[4].geometry.geom_type == "MultiPolygon"
    assert batch[5].geometry is not None and batch[5].geometry.geom_type == "GeometryCollection"


def test_many_random_polygons_round_trip() -> None:
    rng = np.random.default_rng(3)
    raws: list[dict[str, Any] | None] = []
    for _ in range(500):
        lon, lat = rng.uniform(-170, 170), rng.uniform(-70, 70)
        ang = np.linspace(0, 2 * np.pi, 12)[:-1]
        ring = np.column_stack([lon + 0.01 * np.cos(ang), lat + 0.01 * np.sin(ang)])
        ring = np.vstack([ring, ring[:1]])
        raws.append(poly(ring.tolist()))
    res = check_geometries(raws)
    assert all(r.ok and not r.repairs for r in res)
    for raw, r in zip(raws, res, strict=True):
        assert raw is not None and r.geometry is not None
        assert np.array_equal(shapely.get_coordinates(r.geometry), np.array(raw["coordinates"][0]))


def test_positions_as_lists_or_tuples_and_what_is_not_a_position() -> None:
    """A geometry built in Python may hold its positions as tuples: read as lists are. A
    boolean, a string or a nested array in a position is a located fault."""
    ring = [[30.0, 50.0], [30.01, 50.0], [30.01, 50.01], [30.0, 50.0]]
    as_lists = check_geometry({"type": "Polygon", "coordinates": [ring]})
    as_tuples = check_geometry({"type": "Polygon", "coordinates": [[tuple(p) for p in ring]]})
    assert as_lists.ok and as_tuples.ok and as_lists.geometry.equals(as_tuples.geometry)
    for bad, why in (
        (True, "must be a number"),
        ("30.01", "must be a number"),
        ([30.01], "nested too deeply"),
    ):
        r = [list(p) for p in ring]
        r[1][0] = bad
        chk = check_geometry({"type": "Polygon", "coordinates": [r]})
        assert not chk.ok and chk.geometry is None
        assert any(
            why in f.reason and f.field == "geometry.coordinates[0][1]" for f in chk.faults
        ), [(f.reason, f.field) for f in chk.faults]
