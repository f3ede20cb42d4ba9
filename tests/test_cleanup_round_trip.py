"""Round trip of the cleanup records: activities, releases, accidents, victims and EORE sessions
exported to GeoJSON, GeoPackage and CSV and imported into a fresh store give identical records
(ids, source ids, fields, extras, geometry), on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely

from demine.services.register import ImportOptions, export_file, import_file
from demine.services.setup import init_store
from demine.store.base import Store
from demine.store.open import open_store

# in the order references need: an activity names its hazard, a release its activity, a victim
# its accident
ORDER = ("hazards", "activities", "releases", "accidents", "victims", "eore_sessions")
CLEANUP = ORDER[1:]

X0, Y0 = 37.60, 48.10  # a 2 km x 2 km hazard in Donetsk oblast


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    }


def _fc(features: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def _feature(fid: str, props: dict[str, Any], geom: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": geom}


def _import(store: Store, tmp: Path, kind: str, feats: list[dict[str, Any]]) -> list[str]:
    path = tmp / f"src-{kind}.geojson"
    path.write_text(_fc(feats), encoding="utf-8")
    return import_file(store, path, ImportOptions(kind=kind, actor="test")).ids


def build(store: Store, tmp: Path) -> None:
    """A hazard worked on by survey and clearance, land released, accidents, victims, EORE."""
    (hz,) = _import(
        store,
        tmp,
        "hazards",
        [
            _feature(
                "H-1",
                {
                    "hazard_type": "CHA",
                    "status": "open",
                    "name": "Поле біля ставка",
                    "reported_on": "2023-01-10",
                },
                _box(X0, Y0, X0 + 0.027, Y0 + 0.018),
            )
        ],
    )
    nts, ts, clr, qa = _import(
        store,
        tmp,
        "activities",
        [
            _feature(
                "ACT-NTS",
                {
                    "hazard_id": hz,
                    "activity_type": "non_technical_survey",
                    "status": "completed",
                    "organisation": "Operator A",
                    "team": "NTS team 1",
                    "started_on": "2023-02-01",
                    "completed_on": "2023-02-10",
                    "reference": "TO-2023-001",
                },
                _box(X0, Y0, X0 + 0.027, Y0 + 0.018),
            ),
            _feature(
                "ACT-TS",
                {
                    "hazard_id": hz,
                    "activity_type": "technical_survey",
                    "status": "completed",
                    "organisation": "Operator A",
                    "method": "manual,mechanical",
                    "depth_cm": 13.0,
                    "started_on": "2023-04-01",
                    "completed_on": "2023-05-15",
                    "local_code": "ТС-7",  # not a demine field: kept as extra
                },
                _box(X0 + 0.009, Y0, X0 + 0.027, Y0 + 0.018),
            ),
            _feature(
                "ACT-CLR",
                {
                    "hazard_id": hz,
                    "activity_type": "clearance",
                    "status": "completed",
                    "organisation": "Operator B",
                    "method": "manual,animal_detection",
                    "depth_cm": 20.0,
                    "planned_start": "2023-06-01",
                    "started_on": "2023-06-03",
                    "completed_on": "2023-09-30",
                    "notes": 'line 1\nline 2, with a comma; and "quotes"',
                },
                _box(X0 + 0.018, Y0, X0 + 0.027, Y0 + 0.018),
            ),
            _feature(
                "ACT-QA",
                {
                    "hazard_id": hz,
                    "activity_type": "qa_qc",
                    "status": "planned",
                    "organisation": "National authority",
                    "planned_start": "2026-03-01",
                },
                _box(X0 + 0.018, Y0, X0 + 0.027, Y0 + 0.009),
            ),
        ],
    )
    _import(
        store,
        tmp,
        "releases",
        [
            _feature(
                "REL-C",
                {
                    "activity_id": nts,
                    "release_type": "cancelled",
                    "released_on": "2023-02-10",
                    "organisation": "Operator A",
                    "reference": "CR-1",
                },
                _box(X0, Y0, X0 + 0.009, Y0 + 0.018),
            ),
            _feature(
                "REL-R",
                {
                    "activity_id": ts,
                    "release_type": "reduced",
                    "released_on": "2023-05-15",
                },
                _box(X0 + 0.009, Y0, X0 + 0.018, Y0 + 0.018),
            ),
            _feature(
                "REL-CL",
                {
                    "activity_id": clr,
                    "release_type": "cleared",
                    "released_on": "2023-09-30",
                    "notes": "Розчищено повністю",
                },
                _box(X0 + 0.018, Y0, X0 + 0.027, Y0 + 0.009),
            ),
        ],
    )
    a1, a2 = _import(
        store,
        tmp,
        "accidents",
        [
            _feature(
                "ACC-1",
                {
                    "occurred_at": "2023-07-14T09:30:00Z",
                    "accident_type": "demining",
                    "device_category": "ap_blast",
                    "device_type": "ap-blast-persistent",
                    "hazard_id": hz,
                    "activity_id": clr,
                    "organisation": "Operator B",
                    "admin_area": "Донецька область",
                    "description": "Initiation during excavation",
                    "investigation": "Procedure not followed",
                },
                {"type": "Point", "coordinates": [X0 + 0.02, Y0 + 0.004]},
            ),
            _feature(
                "ACC-2",
                {
                    "occurred_at": "2022-11-02T15:05:30.250Z",
                    "accident_type": "civilian",
                    "device_category": "uxo",
                    "admin_area": "Донецька область",
                    "source_ref": "police-123",  # extra
                },
                {"type": "Point", "coordinates": [X0 - 0.01, Y0 + 0.01]},
            ),
        ],
    )
    _import(
        store,
        tmp,
        "victims",
        [
            _feature(
                "VIC-1",
                {
                    "accident_id": a1,
                    "name": "Test Deminer One",
                    "sex": "male",
                    "age": 41,
                    "outcome": "injured",
                    "victim_type": "deminer",
                    "activity_at_time": "demining",
                    "injuries": "lower limb",
                    "contact": "+380 00 000 0000",
                    "assistance": "prosthesis",
                },
                None,
            ),
            _feature(
                "VIC-2",
                {
                    "accident_id": a2,
                    "name": "Тестова Особа",
                    "sex": "female",
                    "outcome": "killed",
                    "victim_type": "civilian",
                    "activity_at_time": "farming",
                },
                None,
            ),
            _feature(
                "VIC-3",
                {"accident_id": a2, "sex": "unknown", "age": 9, "outcome": "injured"},
                None,
            ),
        ],
    )
    _import(
        store,
        tmp,
        "eore_sessions",
        [
            _feature(
                "EORE-1",
                {
                    "held_on": "2024-09-02",
                    "organisation": "EORE partner",
                    "place": "School 3, Краматорськ",
                    "delivery": "in_person",
                    "girls": 14,
                    "boys": 17,
                    "women": 2,
                    "men": 0,
                    "admin_area": "Донецька область",
                },
                {"type": "Point", "coordinates": [37.55, 48.72]},
            ),
            _feature(
                "EORE-2",
                {
                    "held_on": "2025-01-20",
                    "organisation": "EORE partner",
                    "delivery": "online",
                    "women": 55,
                    "men": 31,
                },
                {"type": "Point", "coordinates": [36.23, 49.99]},
            ),
        ],
    )


def _snapshot(store: Store, kind: str) -> dict[str, Any]:
    return {
        r.id: (
            r.source_id,
            r.properties,
            r.extra,
            None if r.geometry is None else shapely.normalize(r.geometry).wkt,
        )
        for r in store.list(kind)
    }


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv"])
def test_cleanup_records_round_trip(store: Store, tmp_path: Path, suffix: str) -> None:
    build(store, tmp_path)
    counts = {k: store.count(k) for k in CLEANUP}
    assert counts == {
        "activities": 4,
        "releases": 3,
        "accidents": 2,
        "victims": 3,
        "eore_sessions": 2,
    }
    for kind in ORDER:
        export_file(store, kind, tmp_path / f"{kind}{suffix}")

    fresh = open_store(str(tmp_path / "fresh.gpkg"))
    init_store(fresh)
    try:
        for kind in ORDER:
            rep = import_file(
                fresh, tmp_path / f"{kind}{suffix}", ImportOptions(kind=kind, actor="test")
            )
            assert rep.created == store.count(kind), (kind, rep.to_dict())
        for kind in ORDER:
            a, b = _snapshot(store, kind), _snapshot(fresh, kind)
            assert a == b, kind
        # a second import of the same files changes nothing
        for kind in ORDER:
            rep = import_file(
                fresh, tmp_path / f"{kind}{suffix}", ImportOptions(kind=kind, actor="test")
            )
            assert rep.unchanged == store.count(kind) and not rep.created and not rep.updated
    finally:
        fresh.close()
