"""Candidate matches of a submission among stored records (issue 13), on both backends
(services.candidates)."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from demine.errors import ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.candidates import MAX_SCAN, candidates, distance_m

FULL_HAZARD: dict[str, Any] = {"hazard_type": "CHA", "status": "open", "name": "field"}


def square(x: float, y: float, d: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]],
    }


def put(store: Any, kind: str, props: dict[str, Any], geom: Any, sid: str | None = None) -> str:
    rid = uuid7()
    g = shapely.geometry.shape(geom)
    if g.geom_type == "Polygon":
        g = shapely.MultiPolygon([g])
    store.upsert(kind, [Record(kind, rid, props, g, source_id=sid)], actor="test")
    return rid


def pt(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


FIND = {"device_type": "uxo", "state": "live", "found_at": "2024-05-01T10:00:00Z"}


def test_a_duplicate_hazard_is_the_first_candidate(store: Any) -> None:
    same = put(store, "hazards", FULL_HAZARD, square(37.0, 48.0))
    half = put(store, "hazards", {**FULL_HAZARD, "status": "open"}, square(37.005, 48.0))
    far = put(store, "hazards", FULL_HAZARD, square(38.0, 49.0))
    got = candidates(store, "hazards", FULL_HAZARD, square(37.0, 48.0))
    ids = [c.id for c in got]
    assert ids[:2] == [same, half] and far not in ids
    first = got[0]
    assert "overlap" in first.matches and "duplicate" in first.matches
    assert first.overlap_share == pytest.approx(1.0)
    assert any("exact duplicate" in r for r in first.reasons)
    assert got[1].overlap_share == pytest.approx(0.5, abs=0.01)
    assert "100% of the submission" in " ".join(first.reasons)
    d = first.to_dict()
    assert d["id"] == same and d["rank"] > got[1].to_dict()["rank"]


def test_same_source_id_ranks_first(store: Any) -> None:
    overlap = put(store, "hazards", FULL_HAZARD, square(37.0, 48.0))
    mine = put(store, "hazards", FULL_HAZARD, square(37.5, 48.5), sid="LEGACY-7")
    got = candidates(store, "hazards", FULL_HAZARD, square(37.0, 48.0), source_id="LEGACY-7")
    assert [c.id for c in got] == [mine, overlap]
    assert got[0].matches == ["source_id"] and "'LEGACY-7'" in got[0].reasons[0]
    # the record the submission is (exclude_id) is never its own candidate
    got = candidates(
        store, "hazards", FULL_HAZARD, square(37.0, 48.0), source_id="LEGACY-7", exclude_id=mine
    )
    assert [c.id for c in got] == [overlap]


def test_near_points_and_far_points(store: Any) -> None:
    near = put(store, "finds", {**FIND, "device_type": "ied"}, pt(37.0005, 48.0))  # ~37 m
    far = put(store, "finds", {**FIND, "device_type": "ied"}, pt(37.01, 48.0))  # ~745 m
    got = candidates(store, "finds", FIND, pt(37.0, 48.0))
    assert [c.id for c in got] == [near]
    assert got[0].matches == ["near"] and got[0].distance_m == pytest.approx(37.2, abs=1)
    assert far not in [c.id for c in got]
    # with a wider near_m the far one comes too, after the near one
    got = candidates(store, "finds", FIND, pt(37.0, 48.0), near_m=1000)
    assert [c.id for c in got] == [near, far]


def test_same_type_and_date_nearby(store: Any) -> None:
    # 745 m away: not near, but the same device type and day within 1 km
    same = put(store, "finds", {**FIND, "found_at": "2024-05-01T15:00:00Z"}, pt(37.01, 48.0))
    other_day = put(store, "finds", {**FIND, "found_at": "2024-05-02T10:00:00Z"}, pt(37.01, 48.0))
    got = candidates(store, "finds", FIND, pt(37.0, 48.0))
    assert [c.id for c in got] == [same]
    assert got[0].matches == ["same_identity"]
    assert "same device_type, found_at" in got[0].reasons[0]
    assert other_day not in [c.id for c in got]
    # beyond nearby_m: no candidate
    assert candidates(store, "finds", FIND, pt(37.0, 48.0), nearby_m=500) == []


def test_near_duplicate_point_outranks_a_near_one(store: Any) -> None:
    dup = put(store, "finds", FIND, pt(37.00001, 48.0))  # under 1 m, same identity
    other = put(store, "finds", {**FIND, "device_type": "ied"}, pt(37.000005, 48.0))
    got = candidates(store, "finds", FIND, pt(37.0, 48.0))
    assert [c.id for c in got] == [dup, other]
    assert "duplicate" in got[0].matches


def test_bad_parameters_and_no_geometry(store: Any) -> None:
    with pytest.raises(ValidationError) as e:
        candidates(store, "finds", FIND, pt(37.0, 48.0), near_m=0, limit=0)
    assert {f.field for f in e.value.faults} == {"near_m", "limit"}
    # no geometry, no source id: nothing to match on; an unreadable geometry matches nothing
    assert candidates(store, "finds", FIND, None) == []
    put(store, "finds", FIND, pt(37.0, 48.0))
    bad = {"type": "Polygon", "coordinates": [[[37.0, 48.0], [37.1, 48.0]]]}
    assert candidates(store, "finds", FIND, bad) == []
    assert MAX_SCAN >= 1000


def test_distance_m() -> None:
    a, b = shapely.Point(37.0, 48.0), shapely.Point(37.0, 48.001)
    assert distance_m(a, b) == pytest.approx(111.2, abs=0.5)
