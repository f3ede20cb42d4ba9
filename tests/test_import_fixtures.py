"""Every GeoJSON fixture, imported into a real store: handled as docs/geometry.md documents it
(tests/data/geojson-fixtures/expected.csv), faults named, and nothing partial stored."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from demine.errors import ValidationError
from demine.services.register import ImportOptions, import_file

FIXTURES = Path(__file__).parent / "data" / "geojson-fixtures"
ROWS = list(csv.DictReader((FIXTURES / "expected.csv").open(encoding="utf-8")))


def _state(store: Any) -> tuple[Any, ...]:
    n_hist = store.conn.execute("SELECT count(*) FROM demine_history").fetchone()[0]
    return (tuple(k.name for k in store.kinds()), n_hist)


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
@pytest.mark.parametrize("repair", [False, True], ids=["default", "repair"])
def test_fixture_import(store: Any, row: dict[str, str], repair: bool) -> None:
    path = FIXTURES / row["file"]
    outcome = row["with_repair"] if repair else row["outcome"]
    before = _state(store)
    opts = ImportOptions(kind="layer:fixture", repair=repair)
    if outcome == "reject":
        with pytest.raises(ValidationError) as e:
            import_file(store, path, opts)
        faults = e.value.faults
        assert faults, row["file"]
        for f in faults:
            assert f.reason and f.source == path.name
        if not repair:
            assert any(row["reason"].lower() in f.reason.lower() for f in faults), [
                str(f) for f in faults
            ]
        assert _state(store) == before  # nothing partial stored, no layer table made
        return
    rep = import_file(store, path, opts)
    assert rep.stored
    n = store.count("fixture")
    assert n == rep.created == rep.total
    if outcome == "repair":
        assert rep.repairs, row["file"]
        if not repair:
            assert any(row["reason"].lower() in r.reason.lower() for r in rep.repairs)
        assert all(r.index is not None for r in rep.repairs)


def test_every_fixture_file_is_in_the_table() -> None:
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.geojson")}
    assert on_disk == {r["file"] for r in ROWS}


def test_hazard_import_rejects_non_polygons(store: Any) -> None:
    path = FIXTURES / "geojson-validator" / "valid" / "valid_geometry_point.geojson"
    with pytest.raises(ValidationError) as e:
        import_file(store, path, ImportOptions(kind="hazards"))
    assert any("Polygon" in f.reason for f in e.value.faults)
    assert store.count("hazards") == 0
