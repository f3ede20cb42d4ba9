"""Reference layers keep their source field names and types (issue 12): booleans, whole
numbers, dates and date-times stay what they are in both backends, in the OGC API (items,
queryables, CQL2) and in the GeoPackage GDAL reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import cql2
import pyogrio
import pytest
from fastapi.testclient import TestClient

from demine.errors import ValidationError
from demine.model.schema import FieldType
from demine.services.register import ImportOptions, import_file
from demine.services.setup import init_store
from demine.store.gpkg import GeoPackageStore
from gpkg_check import assert_gdal_valid


def _pt(i: int, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"p{i}",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [30.0 + i / 10, 50.0]},
    }


# five places: nulls in every typed field, "Only Some" in two features only, AreaKm2 mixes
# whole and decimal numbers (REAL), LastVisit is a date-time
PLACES: list[dict[str, Any]] = [
    {
        "Name": "Alpha",
        "isActive": True,
        "Population": 120,
        "AreaKm2": 3.5,
        "Surveyed": "2024-05-01",
        "LastVisit": "2024-05-01T08:30:00Z",
        "Only Some": "x",
    },
    {
        "Name": "Bravo",
        "isActive": False,
        "Population": 7,
        "AreaKm2": 2,
        "Surveyed": "2019-01-02",
        "LastVisit": None,
    },
    {
        "Name": "Charlie",
        "isActive": True,
        "Population": None,
        "AreaKm2": 0.25,
        "Surveyed": "2021-11-30",
        "LastVisit": "2023-02-03T10:00:00+02:00",
        "Only Some": "y",
    },
    {
        "Name": "Delta",
        "isActive": None,
        "Population": 0,
        "AreaKm2": None,
        "Surveyed": None,
    },
    {
        "Name": "Echo",
        "isActive": True,
        "Population": 35000,
        "AreaKm2": 12,
        "Surveyed": "2018-07-15",
    },
]
EXPECTED = {
    "Name": FieldType.TEXT,
    "isActive": FieldType.BOOLEAN,
    "Population": FieldType.INTEGER,
    "AreaKm2": FieldType.REAL,
    "Surveyed": FieldType.DATE,
    "LastVisit": FieldType.DATETIME,
    "Only_Some": FieldType.TEXT,
}


def _write(path: Path, props: list[dict[str, Any]]) -> Path:
    fc = {"type": "FeatureCollection", "features": [_pt(i, p) for i, p in enumerate(props)]}
    path.write_text(json.dumps(fc))
    return path


def _column_types(store: Any, table: str) -> dict[str, str]:
    if isinstance(store, GeoPackageStore):
        rows = store.conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        return {r[1]: r[2] for r in rows}
    rows = store.conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (store.schema, table),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


@pytest.fixture
def places(store: Any, tmp_path: Path) -> Any:
    rep = import_file(
        store, _write(tmp_path / "places.geojson", PLACES), ImportOptions("layer:places")
    )
    assert rep.created == 5
    # the one renamed field is named, with what it became
    assert [(w.field, w.reason) for w in rep.warnings] == [
        (
            "Only Some",
            "field 'Only Some' is kept as 'Only_Some' (characters other than letters, digits "
            "and _ become _)",
        )
    ]
    return store


def test_names_and_types_are_kept_in_both_backends(places: Any) -> None:
    store = places
    kind = store.kind("places")
    assert {f.name: f.type for f in kind.fields} == EXPECTED
    cols = _column_types(store, "places")
    if isinstance(store, GeoPackageStore):  # GeoPackage 1.4 §1.1.1.1.3 column types
        want = {
            "Name": "TEXT",
            "isActive": "BOOLEAN",
            "Population": "INTEGER",
            "AreaKm2": "REAL",
            "Surveyed": "DATE",
            "LastVisit": "DATETIME",
            "Only_Some": "TEXT",
        }
    else:
        want = {
            "Name": "text",
            "isActive": "boolean",
            "Population": "bigint",
            "AreaKm2": "double precision",
            "Surveyed": "date",
            "LastVisit": "timestamp with time zone",
            "Only_Some": "text",
        }
    assert {k: cols[k] for k in want} == want
    got = {r.source_id: r.properties for r in store.list("places")}
    assert got["p0"] == {
        "Name": "Alpha",
        "isActive": True,
        "Population": 120,
        "AreaKm2": 3.5,
        "Surveyed": "2024-05-01",
        "LastVisit": "2024-05-01T08:30:00Z",
        "Only_Some": "x",
    }
    assert got["p2"]["LastVisit"] == "2023-02-03T08:00:00Z"  # to UTC
    assert got["p3"] == {"Name": "Delta", "Population": 0}  # nulls stay missing
    assert type(got["p1"]["AreaKm2"]) is float and got["p1"]["AreaKm2"] == 2.0


def test_cql2_on_a_boolean_and_a_date_in_the_store(places: Any) -> None:
    def ids(text: str) -> set[str]:
        tree = cql2.parse_text(text).to_json()
        return {r.source_id for r in places.list("places", cql=tree)}

    assert ids("isActive = true") == {"p0", "p2", "p4"}
    assert ids("isActive = false") == {"p1"}
    assert ids("NOT isActive = true") == {"p1"}  # null is unknown, not false
    assert ids("Surveyed > DATE('2020-01-01')") == {"p0", "p2"}
    assert ids("Population >= 120 AND AreaKm2 < 10") == {"p0"}
    assert ids("LastVisit < TIMESTAMP('2024-01-01T00:00:00Z')") == {"p2"}


def test_ogc_items_queryables_and_filters(places: Any) -> None:
    from demine.api.app import create_app

    with TestClient(create_app(places.location)) as c:
        r = c.get("/ogc/collections/places/items", params={"limit": 10})
        assert r.status_code == 200, r.text
        props = {f["properties"]["Name"]: f["properties"] for f in r.json()["features"]}
        a = props["Alpha"]
        assert a["isActive"] is True and a["Population"] == 120
        assert type(a["Population"]) is int and a["Surveyed"] == "2024-05-01"
        assert props["Bravo"]["isActive"] is False
        # the raw text: true/false and 120, never 1.0 or 120.0
        assert '"isActive":true' in r.text.replace(" ", "")
        assert '"Population":120,' in r.text.replace(" ", "")
        q = c.get("/ogc/collections/places/queryables").json()["properties"]
        assert q["isActive"]["type"] == "boolean"
        assert q["Population"]["type"] == "integer"
        assert q["AreaKm2"]["type"] == "number"
        assert q["Surveyed"] == {"title": "Surveyed", "type": "string", "format": "date"}
        assert q["LastVisit"]["format"] == "date-time"
        assert q["Only_Some"]["type"] == "string"

        def names(flt: str) -> set[str]:
            r = c.get("/ogc/collections/places/items", params={"filter": flt})
            assert r.status_code == 200, r.text
            return {f["properties"]["Name"] for f in r.json()["features"]}

        assert names("isActive = true") == {"Alpha", "Charlie", "Echo"}
        assert names("Surveyed > DATE('2020-01-01')") == {"Alpha", "Charlie"}
        # the source's case is the name: the lower-cased one is not a queryable
        bad = c.get("/ogc/collections/places/items", params={"filter": "isactive = true"})
        assert bad.status_code == 400 and "isactive" in bad.json()["detail"]


def test_gdal_reads_the_types_and_the_validator_passes(gpkg_store: Any, tmp_path: Path) -> None:
    store = gpkg_store
    import_file(store, _write(tmp_path / "places.geojson", PLACES), ImportOptions("layer:places"))
    store.close()
    info = pyogrio.read_info(store.path, layer="places")
    ogr = dict(
        zip(info["fields"], zip(info["ogr_types"], info["ogr_subtypes"], strict=True), strict=True)
    )
    assert ogr["isActive"] == ("OFTInteger", "OFSTBoolean")
    assert ogr["Population"][0] in ("OFTInteger", "OFTInteger64")
    assert ogr["AreaKm2"][0] == "OFTReal"
    assert ogr["Surveyed"][0] == "OFTDate"
    assert ogr["LastVisit"][0] == "OFTDateTime"
    res = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", "-where", '"isActive" = 1', str(store.path), "places"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "Surveyed (Date) = 2024/05/01" in res.stdout and "Name (String) = Echo" in res.stdout
    assert "Bravo" not in res.stdout
    assert_gdal_valid(store.path)


def test_a_geopackage_source_gives_its_declared_types(store: Any, tmp_path: Path) -> None:
    """GDAL hands a boolean or integer column with nulls over as floats (1.0, nan): the
    declared type wins, and the values are booleans and whole numbers again."""
    src = _write(tmp_path / "src.geojson", PLACES)
    gpkg = tmp_path / "src.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(gpkg), str(src), "-nln", "pts"], check=True)
    import_file(store, gpkg, ImportOptions("layer:from_gpkg"))
    kind = store.kind("from_gpkg")
    types = {f.name: f.type for f in kind.fields}
    assert {k: types[k] for k in ("isActive", "Population", "AreaKm2", "Surveyed")} == {
        "isActive": FieldType.BOOLEAN,
        "Population": FieldType.INTEGER,
        "AreaKm2": FieldType.REAL,
        "Surveyed": FieldType.DATE,
    }
    got = {r.properties["Name"]: r.properties for r in store.list("from_gpkg")}
    assert got["Alpha"]["isActive"] is True and got["Bravo"]["isActive"] is False
    assert "isActive" not in got["Delta"] and got["Echo"]["Population"] == 35000
    assert type(got["Echo"]["Population"]) is int and got["Alpha"]["Surveyed"] == "2024-05-01"
    assert types["LastVisit"] is FieldType.DATETIME  # and its offset is kept, not dropped
    assert got["Charlie"]["LastVisit"] == "2023-02-03T08:00:00Z"
    assert got["Alpha"]["LastVisit"] == "2024-05-01T08:30:00Z"


def test_a_csv_source_is_typed_from_its_text(store: Any, tmp_path: Path) -> None:
    csv = tmp_path / "sites.csv"
    csv.write_text(
        "Name,Code,Count,Share,Open,Checked,Serial,lon,lat\n"
        "a,007,3,0.5,true,2024-01-31,123456789012345678901234,30.1,50.1\n"
        "b,010,,1,FALSE,,5,30.2,50.2\n"
    )
    import_file(store, csv, ImportOptions("layer:sites"))
    types = {f.name: f.type for f in store.kind("sites").fields}
    assert types == {
        "Name": FieldType.TEXT,
        "Code": FieldType.TEXT,  # leading zeros: an identifier, kept as text
        "Count": FieldType.INTEGER,
        "Share": FieldType.REAL,
        "Open": FieldType.BOOLEAN,
        "Checked": FieldType.DATE,
        "Serial": FieldType.TEXT,  # beyond 64 bits: no column holds it as a number
    }
    got = {r.properties["Name"]: r.properties for r in store.list("sites")}
    assert got["a"] == {
        "Name": "a",
        "Code": "007",
        "Count": 3,
        "Share": 0.5,
        "Open": True,
        "Checked": "2024-01-31",
        "Serial": "123456789012345678901234",
    }
    assert got["b"]["Open"] is False


def test_names_differing_only_by_case_are_a_located_fault(store: Any, tmp_path: Path) -> None:
    path = _write(tmp_path / "clash.geojson", [{"Name": "a"}, {"Name": "b", "NAME": "B"}])
    with pytest.raises(ValidationError) as e:
        import_file(store, path, ImportOptions("layer:clash"))
    (fault,) = e.value.faults
    assert (fault.source, fault.index, fault.field) == ("clash.geojson", 1, "NAME")
    assert "'Name' (feature 0) and 'NAME'" in fault.reason and "--map" in fault.reason
    assert "clash" not in {k.name for k in store.kinds()}  # nothing stored, no table
    # renaming one with --map imports it
    rep = import_file(store, path, ImportOptions("layer:clash", mapping={"NAME": "Name2"}))
    assert rep.created == 2
    assert [f.name for f in store.kind("clash").fields] == ["Name", "Name2"]


def test_unsafe_names_are_mapped_with_a_warning(store: Any, tmp_path: Path) -> None:
    props = {
        "Area (km²)": 1.5,
        "2019 count": 4,
        "Geom": "x",
        "fid": 3,
        "kind": "road",
        "ID": "k-1",
        "Назва": "Київ",
        "x" * 70: "long",
    }
    feature = _pt(0, props)
    del feature["id"]  # the feature's own id would be its source id
    path = tmp_path / "odd.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    rep = import_file(store, path, ImportOptions("layer:odd"))
    names = [f.name for f in store.kind("odd").fields]
    assert names == ["Area_km²", "f_2019_count", "src_Geom", "src_fid", "kind", "Назва", "x" * 63]
    warned = {w.field for w in rep.warnings}
    assert warned == {"Area (km²)", "2019 count", "Geom", "fid", "x" * 70}
    (rec,) = store.list("odd")
    assert rec.source_id == "k-1"  # ID (any case) is the source id, as for every kind
    assert rec.properties["Назва"] == "Київ" and rec.properties["kind"] == "road"


def test_a_layer_made_with_lower_case_names_keeps_its_columns(tmp_path: Path) -> None:
    """A layer imported before names were kept has lower-cased columns: a re-import of the
    same file finds them (and does not move every value to extra)."""
    from demine.model.kinds import layer_kind
    from demine.model.schema import FieldSpec

    s = GeoPackageStore(tmp_path / "old.gpkg")
    init_store(s)
    s.create_layer(
        layer_kind(
            "old",
            (FieldSpec("name", FieldType.TEXT), FieldSpec("isactive", FieldType.BOOLEAN)),
            "POINT",
        )
    )
    path = _write(tmp_path / "old.geojson", [{"Name": "a", "isActive": True}])
    import_file(s, path, ImportOptions("layer:old"))
    (rec,) = s.list("old")
    assert rec.properties == {"name": "a", "isactive": True} and rec.extra == {}
    s.close()


def test_what_stays_text(store: Any, tmp_path: Path) -> None:
    """Mixed values, impossible dates, dates mixed with date-times, nested values and
    all-null fields are text: nothing is changed to fit a type."""
    rows: list[dict[str, Any]] = [
        {
            "Mixed": 1,
            "BadDate": "2024-02-30",
            "DateAndTime": "2024-01-01",
            "Nested": {"a": 1},
            "AllNull": None,
            "Naive": "2024-01-01T10:00:00",
        },
        {
            "Mixed": "a",
            "BadDate": "2024-02-01",
            "DateAndTime": "2024-01-01T10:00:00Z",
            "AllNull": None,
            "Naive": "2024-01-02 11:30",
        },
    ]
    import_file(store, _write(tmp_path / "t.geojson", rows), ImportOptions("layer:texty"))
    types = {f.name: f.type for f in store.kind("texty").fields}
    assert types == {
        "Mixed": FieldType.TEXT,
        "BadDate": FieldType.TEXT,
        "DateAndTime": FieldType.TEXT,
        "Nested": FieldType.TEXT,
        "AllNull": FieldType.TEXT,
        "Naive": FieldType.DATETIME,  # no offset: read as UTC
    }
    got = {r.source_id: r.properties for r in store.list("texty")}
    assert got["p0"]["Nested"] == '{"a":1}'
    assert got["p0"]["DateAndTime"] == "2024-01-01" and got["p1"]["Mixed"] == "a"
    assert got["p0"]["Naive"] == "2024-01-01T10:00:00Z"
    assert got["p1"]["Naive"] == "2024-01-02T11:30:00Z"
