"""ODK Central and KoboToolbox exports (issue 14, io/odk.py) through `demine submit` and
`demine import`, on both backends: hand-written fixtures shaped like the real exports
(tests/data/odk: ODK Central 2024 CSV; tests/data/kobo: KoboToolbox "XLS/CSV legacy" CSV with
";" and GeoJSON): geopoint split columns and strings, geoshape strings, group prefixes,
instance ids as source ids, submission times, attachment names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from demine.cli.app import app as cli_app
from demine.io import odk

DATA = Path(__file__).parent / "data"
FIXTURES = [  # file, kind, features
    ("odk/finds.csv", "finds", 3),
    ("odk/hazards.csv", "hazards", 2),
    ("kobo/finds.csv", "finds", 2),
    ("kobo/hazards.geojson", "hazards", 2),
]


def _cli(store: Any, role: str, *args: str, user: str = "u1") -> Any:
    return CliRunner().invoke(
        cli_app, ["--db", store.location, "--role", role, *args], env={"DEMINE_USER": user}
    )


def _world(store: Any) -> None:
    store.add_organisation("HALO", "The HALO Trust", "operator")
    store.add_user("op", "operator", "HALO")
    store.add_user("team", "field", "HALO")


@pytest.mark.parametrize(("path", "kind", "n"), FIXTURES)
def test_an_operator_submits_an_export_as_one_batch(
    store: Any, path: str, kind: str, n: int
) -> None:
    _world(store)
    r = _cli(store, "operator", "submit", str(DATA / path), "--kind", kind, "--json", user="op")
    assert r.exit_code == 0, r.output
    sid = json.loads(r.stdout)["submission"]["id"]
    (sub,) = store.submissions(sid=sid)
    assert sub["action"] == "batch" and sub["state"] == "submitted" and sub["kind"] == kind
    assert sub["organisation"] == "HALO"
    feats = sub["payload"]["features"]
    assert len(feats) == n
    assert store.count(kind) == 0  # nothing is a record until approved
    want = "Point" if kind == "finds" else "Polygon"
    for f in feats:
        assert f["geometry"]["type"] in (want, "Multi" + want)
        assert f["source_id"]  # the instance id
        assert f["extra"]["submitted_at"].startswith("2024-05-0")
        assert not any("/" in k or "-" in k for k in f["properties"])  # no group prefixes
    first = feats[0]
    if path.startswith("odk"):
        assert first["source_id"].startswith("uuid:")
        assert first["extra"]["submitted_by"].startswith("Team ")
    else:
        assert first["extra"]["submitted_by"].startswith("team_")
    if kind == "finds":
        assert first["extra"]["position_accuracy_m"] == pytest.approx(4.5 if "odk" in path else 4.2)
        assert first["extra"]["attachments"] == [
            "1714544000123.jpg" if "odk" in path else "1715000000111.jpg"
        ]
        lon, lat = first["geometry"]["coordinates"][:2]
        assert (lat, lon) == ((50.0021, 30.0032) if "odk" in path else (50.0031, 30.0041))
    else:
        cats = first["properties"]["device_categories"]
        assert cats == ("at,uxo" if "odk" in path else "ap_blast,at")  # space-separated in
    if path == "odk/hazards.csv":
        # the second shape's ring is not closed in the export: it is closed on import
        ring = feats[1]["geometry"]["coordinates"]
        ring = ring[0][0] if feats[1]["geometry"]["type"] == "MultiPolygon" else ring[0]
        assert ring[0] == ring[-1] and len(ring) == 5
        assert feats[0]["extra"]["position_accuracy_m"] == pytest.approx(6.0)  # the largest


def test_a_field_teams_import_is_a_submission(store: Any) -> None:
    _world(store)
    r = _cli(store, "field", "import", str(DATA / "odk/finds.csv"), "--kind", "finds", user="team")
    assert r.exit_code == 0, r.output
    assert "submitted for review" in r.output
    (sub,) = store.submissions()
    assert sub["action"] == "batch" and len(sub["payload"]["features"]) == 3
    assert store.count("finds") == 0


def test_an_analysts_import_is_records_and_again_changes_nothing(store: Any) -> None:
    path = str(DATA / "kobo/finds.csv")
    r = _cli(store, "analyst", "import", path, "--kind", "finds", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == 2
    recs = {r.source_id: r for r in store.list("finds")}
    rec = recs["2c5e7a91-4b3d-4f6e-8a2c-9d1e0f3a4b01"]
    assert rec.properties["device_type"] == "at-persistent"
    assert rec.properties["found_at"] == "2024-05-06T06:03:00Z"
    assert rec.extra["photo"] == "1715000000111.jpg"  # the question's own column is kept
    assert rec.extra["photo_URL"].startswith("https://")
    assert "_id" not in rec.extra and "_tags" not in rec.extra and "start" not in rec.extra
    r = _cli(store, "analyst", "import", path, "--kind", "finds", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["created"] == 0 and out["unchanged"] == 2 and store.count("finds") == 2


def test_bad_rows_are_named_by_file_row_and_field(store: Any) -> None:
    _world(store)
    bad = str(DATA / "odk/finds_bad.csv")
    r = _cli(store, "field", "import", bad, "--kind", "finds", "--json", user="team")
    assert r.exit_code == 1, r.output
    faults = json.loads(r.stdout)["error"]["errors"]
    where = {(f["source"], f["index"], f["field"]) for f in faults}
    assert ("finds_bad.csv", 1, "state") in where
    assert ("finds_bad.csv", 2, "geometry-Latitude/geometry-Longitude") in where
    assert any("not numbers" in f["reason"] for f in faults)
    assert store.submissions() == [] and store.count("finds") == 0  # nothing half-stored
    # an operator's batch with faults is kept, returned for correction, every fault located
    r = _cli(store, "operator", "submit", bad, "--kind", "finds", "--json", user="op")
    assert r.exit_code == 1, r.output
    (sub,) = store.submissions()
    assert sub["state"] == "returned"
    assert {(f["index"], f["field"]) for f in sub["faults"]} >= {(1, "state")}


# --- the reading itself -----------------------------------------------------------------------


def test_geopoint_and_geoshape_strings() -> None:
    g, acc = odk.parse_geo("50.1 30.2 100 4")
    assert g == {"type": "Point", "coordinates": [30.2, 50.1]} and acc == 4
    g, acc = odk.parse_geo("50 30;50 30.1;50.1 30.1;")
    assert g["type"] == "Polygon" and g["coordinates"][0][0] == g["coordinates"][0][-1]
    assert acc is None
    for text, words in (
        ("50 30;50 30.1", "at least 3"),
        ("north 30", "not numbers"),
        ("95 30", "out of range"),
        ("50", "expected 'latitude longitude"),
    ):
        with pytest.raises(ValueError, match=words):
            odk.parse_geo(text)


def test_headers_groups_and_split_columns(tmp_path: Path) -> None:
    assert odk.flavour(["SubmissionDate", "x", "KEY"]) == "odk"
    assert odk.flavour(["_uuid", "_submission_time", "x"]) == "kobo"
    assert odk.flavour(["id", "lon", "lat", "uuid"]) is None
    assert odk.flavour(["KEY", "lon", "lat"]) is None and odk.flavour(["_uuid", "wkt"]) is None
    assert odk.flavour(["_uuid", "_index", "x"]) == "kobo"
    cols = ["g1/state", "device_categories", "device_categories/at", "_geolocation", "_uuid"]
    shape = odk.Shape([*cols, "_submission_time"], "kobo")
    row = {
        "g1/state": "live",
        "device_categories": "at uxo",
        "device_categories/at": "1",
        "_geolocation": "[50.5, 30.5]",
        "_uuid": "abc",
        "_submission_time": "2024-01-01T00:00:00",
    }
    f = shape.feature(0, row, "x.csv")
    assert f.geometry == {"type": "Point", "coordinates": [30.5, 50.5]}
    assert f.properties == {
        "state": "live",
        "device_categories": "at uxo",
        "source_id": "abc",
        "submitted_at": "2024-01-01T00:00:00",
    }
    clash = tmp_path / "clash.csv"
    clash.write_text("a/state,b/state,geometry,_uuid,_submission_time\nx,y,50 30,u,t\n")
    from demine.io.sources import read_source

    parsed = read_source(clash)
    assert [f.reason for f in parsed.faults] == ["columns a/state and b/state both give state"]
    none = tmp_path / "none.csv"
    none.write_text("state,_uuid,_submission_time\nlive,u,t\n")
    assert "has no location" in read_source(none).faults[0].reason


def test_a_geojson_export_with_nested_groups_is_read_as_one() -> None:
    """ODK's OData shape: groups as nested objects, ``__system`` with the submission date.
    Plain properties take the quick way (no value is an object); nested ones are flattened
    to group/field names, whichever feature has them first."""
    from demine.io.geojson import ParsedFeature, ParsedFile

    def parsed(props: list[dict[str, Any]]) -> ParsedFile:
        feats = [
            ParsedFeature(index=i, id=None, properties=p, geometry=None)
            for i, p in enumerate(props)
        ]
        return ParsedFile(features=feats, faults=[], warnings=[], crs=None)

    plain = [{"name": "a", "n": 1, "ok": True, "tags": ["x"]}, {"name": "b", "z": None}]
    same = parsed([dict(p) for p in plain])
    assert odk.from_geojson(same, "f.geojson").export is None  # not an export: unchanged
    assert [f.properties for f in same.features] == plain
    nested = [
        {"name": "a", "grp": {"status": "suspected"}},
        {
            "__system": {"submissionDate": "2024-05-01T10:00:00Z"},
            "grp": {"status": "x", "sub": {"k": 2}},
        },
    ]
    out = odk.from_geojson(parsed(nested), "f.geojson")
    assert out.export == odk.ODK  # seen only in a nested group of the second feature
    assert [f.properties.get("status") for f in out.features] == ["suspected", "x"]
