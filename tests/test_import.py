"""Import: atomic by default, --skip-invalid, --repair, re-import updates, every format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import ValidationError
from demine.services.records import WriteContext
from demine.services.register import ImportOptions, export_file, import_file, validate_file


def _poly(x: float, y: float, d: float = 0.01) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _fc(features: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _hz(i: int, **props: Any) -> dict[str, Any]:
    p = {"hazard_type": "SHA", "status": "open", "name": f"H{i}"}
    p.update(props)
    return {
        "type": "Feature",
        "id": f"src-{i}",
        "properties": p,
        "geometry": {"type": "Polygon", "coordinates": _poly(37 + i * 0.02, 48)},
    }


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    unclosed = _hz(2)
    unclosed["geometry"]["coordinates"][0].pop()  # ring no longer closed
    f = tmp_path / "mixed.geojson"
    f.write_bytes(_fc([_hz(0), _hz(1, hazard_type="maybe"), unclosed, _hz(3)]))
    return f


def test_default_import_is_atomic(store: Any, bad_file: Path) -> None:
    with pytest.raises(ValidationError) as e:
        import_file(store, bad_file, ImportOptions(kind="hazards"))
    faults = e.value.faults
    assert {(f.index, f.field) for f in faults} >= {(1, "hazard_type")}
    assert any(f.index == 2 and "closed" in f.reason for f in faults)
    assert all(f.source == "mixed.geojson" for f in faults)
    assert store.count("hazards") == 0


def test_skip_invalid_stores_the_good_ones(store: Any, bad_file: Path) -> None:
    rep = import_file(store, bad_file, ImportOptions(kind="hazards", skip_invalid=True))
    assert rep.imported == 2 and store.count("hazards") == 2
    assert [r["index"] for r in rep.rejected] == [1, 2]
    assert [x["field"] for x in rep.rejected[0]["faults"]] == ["hazard_type"]


def test_repair_closes_the_ring_and_says_so(store: Any, bad_file: Path) -> None:
    rep = import_file(
        store, bad_file, ImportOptions(kind="hazards", repair=True, skip_invalid=True)
    )
    assert rep.imported == 3
    assert any(r.index == 2 and "clos" in r.reason for r in rep.repairs)


def test_reimport_updates_instead_of_duplicating(store: Any, tmp_path: Path) -> None:
    f = tmp_path / "h.geojson"
    f.write_bytes(_fc([_hz(0), _hz(1)]))
    first = import_file(store, f, ImportOptions(kind="hazards"))
    assert first.created == 2
    again = import_file(store, f, ImportOptions(kind="hazards"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    f.write_bytes(_fc([_hz(0, name="renamed"), _hz(1), _hz(2)]))
    third = import_file(store, f, ImportOptions(kind="hazards"))
    assert (third.created, third.updated, third.unchanged) == (1, 1, 1)
    assert store.count("hazards") == 3
    names = sorted(r.properties["name"] for r in store.list("hazards"))
    assert names == ["H1", "H2", "renamed"]
    assert {r.source_id for r in store.list("hazards")} == {"src-0", "src-1", "src-2"}


def test_area_is_derived_not_typed_in(store: Any, tmp_path: Path) -> None:
    f = tmp_path / "h.geojson"
    f.write_bytes(_fc([_hz(0, area_m2=1.0)]))
    import_file(store, f, ImportOptions(kind="hazards"))
    (rec,) = list(store.list("hazards"))
    assert rec.properties["area_m2"] == pytest.approx(1.1e6, rel=0.25)  # 0.01° x 0.01° at 48°N
    assert rec.geometry.geom_type == "MultiPolygon"


def test_mapping_and_csv_with_wkt(store: Any, tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text(
        "id,TYPE,state,label,wkt\n"
        'A1,CHA,open,north,"POLYGON ((37 48, 37.01 48, 37.01 48.01, 37 48))"\n'
        'A2,SHA,open,south,"POLYGON ((37.1 48, 37.11 48, 37.11 48.01, 37.1 48))"\n'
    )
    rep = import_file(
        store,
        f,
        ImportOptions(
            kind="hazards", mapping={"TYPE": "hazard_type", "state": "status", "label": "name"}
        ),
    )
    assert rep.created == 2
    recs = {r.source_id: r for r in store.list("hazards")}
    assert recs["A1"].properties["hazard_type"] == "CHA"
    assert recs["A2"].properties["name"] == "south"


def test_csv_lon_lat_points(store: Any, tmp_path: Path) -> None:
    f = tmp_path / "finds.csv"
    f.write_text(
        "id,longitude,latitude,device_type,state,found_at\n"
        "F1,37.5,48.2,uxo,live,2025-02-01T10:00:00Z\n"
        "F2,37.6,48.3,nosuch,live,2025-02-01T10:00:00Z\n"
        "F3,abc,48.3,uxo,live,2025-02-01T10:00:00Z\n"
    )
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="finds"))
    where = {(f.index, f.field): f.reason for f in e.value.faults}
    assert "unknown device type" in where[(1, "device_type")]
    assert "not numbers" in where[(2, "longitude/latitude")]
    assert store.count("finds") == 0
    rep = import_file(store, f, ImportOptions(kind="finds", skip_invalid=True))
    assert rep.created == 1
    (rec,) = list(store.list("finds"))
    assert (rec.geometry.x, rec.geometry.y) == (37.5, 48.2)


def test_swapped_coordinates_detected_and_repaired(store: Any, tmp_path: Path) -> None:
    feat = {
        "type": "Feature",
        "id": "p1",
        "properties": {"device_type": "uxo", "state": "live", "found_at": "2025-02-01T10:00:00Z"},
        "geometry": {"type": "Point", "coordinates": [48.2, 137.5]},
    }
    f = tmp_path / "p.geojson"
    f.write_bytes(_fc([feat]))
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="finds"))
    assert "swapped" in str(e.value)
    rep = import_file(store, f, ImportOptions(kind="finds", repair=True))
    assert rep.created == 1 and any("swap" in r.reason for r in rep.repairs)
    (rec,) = list(store.list("finds"))
    assert (rec.geometry.x, rec.geometry.y) == (137.5, 48.2)


def test_emplacements_link_to_hazards_by_source_id(store: Any, tmp_path: Path) -> None:
    h = tmp_path / "h.geojson"
    h.write_bytes(_fc([_hz(0)]))
    import_file(store, h, ImportOptions(kind="hazards"))
    e = tmp_path / "e.geojson"
    e.write_bytes(
        _fc(
            [
                {
                    "type": "Feature",
                    "id": "e1",
                    "geometry": {"type": "Point", "coordinates": [37.005, 48.005]},
                    "properties": {
                        "device_type": "apii-limit",
                        "quantity": 300,
                        "quantity_min": 200,
                        "quantity_max": 400,
                        "laid_at": "2025-03-01T06:00:00Z",
                        "hazard_source_id": "src-0",
                    },
                }
            ]
        )
    )
    import_file(store, e, ImportOptions(kind="emplacements"))
    (hz,) = list(store.list("hazards"))
    (em,) = list(store.list("emplacements"))
    assert em.properties["hazard_id"] == hz.id


def test_gpkg_source_and_layer(store: Any, tmp_path: Path) -> None:
    src = tmp_path / "h.geojson"
    src.write_bytes(_fc([_hz(i) for i in range(3)]))
    import_file(store, src, ImportOptions(kind="hazards"))
    out = tmp_path / "export.gpkg"
    assert export_file(store, "hazards", out) == 3
    rep = import_file(store, out, ImportOptions(kind="layer:old_hazards"))
    assert rep.created == 3
    assert store.count("old_hazards") == 3
    k = store.kind("old_hazards")
    assert "hazard_type" in k.field_names and k.geometry_type == "MULTIPOLYGON"


def test_validate_stores_nothing(tmp_path: Path, bad_file: Path) -> None:
    rep = validate_file(bad_file, ImportOptions(kind="hazards"))
    assert [r["index"] for r in rep.rejected] == [1, 2]


def test_cli_import_json_and_exit_codes(tmp_path: Path, bad_file: Path) -> None:
    db = str(tmp_path / "cli.gpkg")
    run = CliRunner().invoke
    assert run(app, ["--db", db, "init"]).exit_code == 0
    r = run(app, ["--db", db, "import", str(bad_file), "--kind", "hazards", "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["imported"] == 0 and [x["index"] for x in out["rejected"]] == [1, 2]
    errors = out["error"]["errors"]  # the faults, once: in the problem, as on every face
    assert {e["index"] for e in errors} == {1, 2} and all("reason" in e for e in errors)
    r = run(
        app, ["--db", db, "import", str(bad_file), "--kind", "hazards", "--skip-invalid", "--json"]
    )
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["imported"] == 2 and len(out["rejected"]) == 2
    r = run(app, ["--db", db, "list", "hazards", "--json"])
    assert json.loads(r.stdout)["count"] == 2
    r = run(app, ["validate", str(bad_file), "--kind", "hazards", "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["valid"] is False


def test_export_formats_round_trip(store: Any, tmp_path: Path) -> None:
    src = tmp_path / "h.geojson"
    src.write_bytes(_fc([_hz(i, reported_on="2024-01-0" + str(i + 1)) for i in range(3)]))
    import_file(store, src, ImportOptions(kind="hazards"))
    before = {r.id: r for r in store.list("hazards")}
    for suffix in ("geojson", "gpkg", "csv"):
        out = tmp_path / f"out.{suffix}"
        assert export_file(store, "hazards", out) == 3
        from demine.services.setup import init_store
        from demine.store.gpkg import GeoPackageStore

        fresh = GeoPackageStore(tmp_path / f"fresh-{suffix}.gpkg")
        init_store(fresh)
        import_file(fresh, out, ImportOptions(kind="hazards"))
        after = {r.id: r for r in fresh.list("hazards")}
        assert after.keys() == before.keys(), suffix
        for rid, r in before.items():
            assert after[rid].properties == r.properties, suffix
            assert after[rid].source_id == r.source_id, suffix
            assert shapely.equals_exact(after[rid].geometry, r.geometry, 0.0), suffix
        fresh.close()


def test_layer_with_a_fid_field(store: Any) -> None:
    """Ukraine's regions carry a `fid` property, which is also a GeoPackage column: kept as
    src_fid."""
    from importlib import resources

    path = Path(str(resources.files("demine") / "data" / "ukraine_regions.geojson"))
    rep = import_file(store, path, ImportOptions(kind="layer:regions"))
    assert rep.created == 26
    k = store.kind("regions")
    assert "src_fid" in k.field_names and "region" in k.field_names


def test_update_recomputes_the_area(store: Any, tmp_path: Path) -> None:
    from demine.services.register import update_record

    f = tmp_path / "h.geojson"
    f.write_bytes(_fc([_hz(0)]))
    import_file(store, f, ImportOptions(kind="hazards"))
    (rec,) = list(store.list("hazards"))
    bigger = shapely.box(37.0, 48.0, 37.02, 48.01)  # twice as wide
    after = update_record(store, rec.id, {}, geometry=bigger, ctx=WriteContext(actor="t"))
    assert after.geometry.geom_type == "MultiPolygon"
    assert after.properties["area_m2"] == pytest.approx(2 * rec.properties["area_m2"], rel=0.01)
