"""Kinds whose geometry is optional (activities) or absent (victims, device types) import
without one, from GeoJSON and from CSV files with no geometry column; required ones don't."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from demine.errors import ValidationError
from demine.services.register import ImportOptions, import_file

HAZARD = {
    "type": "Feature",
    "id": "H-1",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[37.0, 48.0], [37.01, 48.0], [37.01, 48.01], [37.0, 48.01], [37.0, 48.0]]],
    },
    "properties": {"hazard_type": "CHA", "status": "open"},
}


def _fc(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_null_geometry_where_optional(store: Any, tmp_path: Path) -> None:
    import_file(store, _fc(tmp_path / "h.geojson", [HAZARD]), ImportOptions(kind="hazards"))
    act = {
        "type": "Feature",
        "id": "A-1",
        "geometry": None,
        "properties": {
            "hazard_source_id": "H-1",
            "activity_type": "non_technical_survey",
            "status": "planned",
            "organisation": "Op",
        },
    }
    rep = import_file(store, _fc(tmp_path / "a.geojson", [act]), ImportOptions(kind="activities"))
    assert rep.created == 1
    (rec,) = store.list("activities")
    assert rec.geometry is None and rec.properties["activity_type"] == "non_technical_survey"
    # a hazard still needs its polygon, and says so
    bad = dict(HAZARD, id="H-2", geometry=None)
    with pytest.raises(ValidationError) as e:
        import_file(store, _fc(tmp_path / "h2.geojson", [bad]), ImportOptions(kind="hazards"))
    assert e.value.faults[0].field == "geometry"
    assert e.value.faults[0].reason.startswith("no geometry (null): a MultiPolygon or Polygon")


def test_csv_without_geometry_for_kinds_without_one(store: Any, tmp_path: Path) -> None:
    acc = {
        "type": "Feature",
        "id": "ACC-1",
        "geometry": {"type": "Point", "coordinates": [37.005, 48.005]},
        "properties": {"occurred_at": "2024-05-01T10:00:00Z", "accident_type": "civilian"},
    }
    import_file(store, _fc(tmp_path / "acc.geojson", [acc]), ImportOptions(kind="accidents"))
    csv = tmp_path / "victims.csv"
    csv.write_text(
        "source_id,accident_source_id,sex,age,outcome\nV-1,ACC-1,female,34,injured\n",
        encoding="utf-8",
    )
    rep = import_file(store, csv, ImportOptions(kind="victims"))
    assert rep.created == 1
    (v,) = store.list("victims")
    assert v.properties["accident_id"] == next(iter(store.list("accidents"))).id
    assert v.properties["age"] == 34 and v.geometry is None
    # a kind with geometry still needs a geometry column in CSV
    pts = tmp_path / "eore.csv"
    pts.write_text("held_on,organisation\n2024-01-01,Org\n", encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        import_file(store, pts, ImportOptions(kind="eore_sessions"))
    assert "no geometry" in e.value.faults[0].reason
