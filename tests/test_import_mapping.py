"""Real data in: a mapping (--mapping TOML, --set, --value, --date-format) turns a source's
fields and values into demine's; several files in one import are checked first, all or nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import ValidationError
from demine.services.register import ImportOptions, import_file, import_files, validate_file

MAPPING = """\
# the national database's hazard export
[rename]
"Hazard Type" = "hazard_type"
"Hazard Name" = "name"
"Date Reported" = "reported_on"
"Date Surveyed" = "surveyed_on"

[set]
status = "open"
organisation = "NMAC"

[values.hazard_type]
"Suspected Minefield" = "SHA"
"Confirmed Minefield" = "CHA"

[dates]
reported_on = "%d.%m.%Y"
surveyed_on = "%d.%m.%Y"
"""


def _poly(x: float, y: float, d: float = 0.01) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _feature(i: int, **props: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "Hazard Type": "Suspected Minefield",
        "Hazard Name": f"Field {i}",
        "Date Reported": f"0{1 + i % 9}.04.2023",
        "Date Surveyed": None,
    }
    p.update(props)
    return {
        "type": "Feature",
        "id": f"UA-{i:04d}",
        "properties": p,
        "geometry": {"type": "Polygon", "coordinates": _poly(37 + i * 0.02, 48)},
    }


def _write(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _real(path: Path, start: int = 0) -> Path:
    """A real-shaped export: values to translate, no status, dd.mm.yyyy dates."""
    return _write(
        path,
        [
            _feature(start),
            _feature(start + 1, **{"Hazard Type": "Confirmed Minefield"}),
            _feature(start + 2, **{"Date Surveyed": "15.05.2023"}),
            # a value in the file wins over [set]
            _feature(start + 3, organisation="HALO Trust", **{"Date Surveyed": "20.05.2023"}),
        ],
    )


def _mapping(tmp_path: Path, text: str = MAPPING, name: str = "national.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_real_shaped_file_imports_with_one_mapping_file(store: Any, tmp_path: Path) -> None:
    src, mapping = _real(tmp_path / "export.geojson"), _mapping(tmp_path)
    args = ["--db", store.location, "import", str(src), "--kind", "hazards"]
    r = _cli(*args, "--mapping", str(mapping), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["created"], out["updated"], out["unchanged"], out["rejected"]) == (4, 0, 0, [])
    recs = {x.source_id: x.properties for x in store.list("hazards")}
    assert [recs[f"UA-000{i}"]["hazard_type"] for i in range(4)] == ["SHA", "CHA", "SHA", "SHA"]
    assert {recs[f"UA-000{i}"]["status"] for i in range(4)} == {"open"}
    orgs = [recs[f"UA-000{i}"]["organisation"] for i in range(4)]
    assert orgs == ["NMAC", "NMAC", "NMAC", "HALO Trust"]
    assert recs["UA-0000"]["reported_on"] == "2023-04-01"
    assert recs["UA-0002"]["surveyed_on"] == "2023-05-15"
    assert recs["UA-0000"].get("surveyed_on") is None
    assert recs["UA-0001"]["name"] == "Field 1"
    again = json.loads(_cli(*args, "--mapping", str(mapping), "--json").stdout)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)
    assert store.count("hazards") == 4


def test_without_the_mapping_the_same_file_is_refused(store: Any, tmp_path: Path) -> None:
    src = _real(tmp_path / "export.geojson")
    with pytest.raises(ValidationError) as e:
        import_file(store, src, ImportOptions(kind="hazards"))
    assert store.count("hazards") == 0
    assert {(f.source, f.index, f.feature_id) for f in e.value.faults if f.field == "status"} == {
        ("export.geojson", i, f"UA-000{i}") for i in range(4)
    }


def test_command_line_adds_to_and_overrides_the_file(store: Any, tmp_path: Path) -> None:
    src = _real(tmp_path / "export.geojson")
    mapping = _mapping(tmp_path)
    rep = import_file(
        store,
        src,
        ImportOptions(
            kind="hazards",
            mapping_file=mapping,
            set_values={"organisation": "HALO", "notes": "from the 2023 export"},
            value_map={"hazard_type": {"Confirmed Minefield": "SHA"}},
        ),
    )
    assert rep.created == 4
    recs = list(store.list("hazards"))
    assert {r.properties["hazard_type"] for r in recs} == {"SHA"}
    orgs = sorted(r.properties["organisation"] for r in recs)
    assert orgs == ["HALO", "HALO", "HALO", "HALO Trust"]
    assert {r.properties["notes"] for r in recs} == {"from the 2023 export"}


def test_untranslated_value_and_bad_date_are_located_faults(store: Any, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "export.geojson",
        [
            _feature(0),
            _feature(1, **{"Hazard Type": "Battle Area"}),
            _feature(2, **{"Date Reported": "2023-04-03"}),
        ],
    )
    opts = ImportOptions(kind="hazards", mapping_file=_mapping(tmp_path))
    with pytest.raises(ValidationError) as e:
        import_file(store, src, opts)
    assert store.count("hazards") == 0
    # one fault each: a date the format cannot read is not also "expected YYYY-MM-DD"
    assert [f.index for f in e.value.faults] == [1, 2]
    by_index = {f.index: f for f in e.value.faults}
    unknown, date = by_index[1], by_index[2]
    assert (unknown.source, unknown.feature_id, unknown.field) == (
        "export.geojson",
        "UA-0001",
        "hazard_type",
    )
    assert "Battle Area" in unknown.reason
    assert (date.source, date.feature_id, date.field) == (
        "export.geojson",
        "UA-0002",
        "reported_on",
    )
    assert "2023-04-03" in date.reason and "%d.%m.%Y" in date.reason
    rep = validate_file(src, opts)
    assert [r["index"] for r in rep.rejected] == [1, 2]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[rename]\nTYPE = 'hazard_kind'\n", "[rename] TYPE"),
        ("[fields]\nTYPE = 'hazard_type'\n", "[fields]"),
        ("[rename\nTYPE = 'hazard_type'\n", None),
        ("[set]\nstatuss = 'open'\n", "[set] statuss"),
        ("[values.hazard_typ]\n'Suspected Minefield' = 'SHA'\n", "[values.hazard_typ]"),
        ("[values]\nhazard_type = 'SHA'\n", "[values.hazard_type]"),
        ("[dates]\nname = '%d.%m.%Y'\n", "[dates] name"),
        ("[set]\nstatus = ['open']\n", "[set] status"),
    ],
)
def test_bad_mapping_file_is_refused_before_reading(
    store: Any, tmp_path: Path, text: str, where: str | None
) -> None:
    mapping = _mapping(tmp_path, text, "bad.toml")
    missing = tmp_path / "not-read.geojson"  # never opened: the mapping is refused first
    with pytest.raises(ValidationError) as e:
        import_file(store, missing, ImportOptions(kind="hazards", mapping_file=mapping))
    assert "bad.toml" in e.value.message and "bad mapping file" in e.value.message
    (fault,) = e.value.faults
    assert fault.source == "bad.toml" and fault.field == where
    if where is None:
        assert "TOML" in fault.reason
    assert store.count("hazards") == 0
    r = _cli(
        "--db", store.location, "import", str(missing), "--kind", "hazards",
        "--mapping", str(mapping), "--json",
    )  # fmt: skip
    assert r.exit_code == 1
    assert "bad.toml" in r.stdout


def test_bad_mapping_options(store: Any, tmp_path: Path) -> None:
    src = _real(tmp_path / "export.geojson")
    db = ["--db", store.location, "import", str(src), "--kind", "hazards", "--json"]
    for args, option in (
        (["--set", "status"], "--set"),
        (["--set", "statuss=open"], "--set"),
        (["--value", "hazard_type=SHA"], "--value"),
        (["--value", "hazard_typ:Suspected Minefield=SHA"], "--value"),
        (["--date-format", "reported_on"], "--date-format"),
        (["--date-format", "name=%Y"], "--date-format"),
        (["--mapping", str(tmp_path / "missing.toml")], "--mapping"),
    ):
        r = _cli(*db, *args)
        assert r.exit_code == 1, (args, r.output)
        errors = json.loads(r.stdout)["error"]["errors"]
        assert [e["field"] for e in errors] == [option], args
    assert store.count("hazards") == 0


def test_options_alone_on_the_command_line(store: Any, tmp_path: Path) -> None:
    src = _real(tmp_path / "export.geojson")
    r = _cli(
        "--db", store.location, "import", str(src), "--kind", "hazards", "--json",
        "--map", "Hazard Type=hazard_type", "--map", "Date Reported=reported_on",
        "--map", "Date Surveyed=surveyed_on",
        "--value", "hazard_type:Suspected Minefield=SHA",
        "--value", "hazard_type:Confirmed Minefield=CHA",
        "--set", "status=open",
        "--date-format", "reported_on=%d.%m.%Y", "--date-format", "surveyed_on=%d.%m.%Y",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == 4
    recs = {x.source_id: x.properties for x in store.list("hazards")}
    assert recs["UA-0001"]["hazard_type"] == "CHA" and recs["UA-0003"]["status"] == "open"
    assert recs["UA-0003"]["surveyed_on"] == "2023-05-20"


def test_several_files_all_or_nothing(store: Any, tmp_path: Path) -> None:
    a, b = _real(tmp_path / "a.geojson"), _real(tmp_path / "b.geojson", start=4)
    bad = _write(tmp_path / "c.geojson", [_feature(8), _feature(9, **{"Hazard Type": "UXO"})])
    mapping = _mapping(tmp_path)
    db = ["--db", store.location, "import", "--kind", "hazards", "--mapping", str(mapping)]
    r = _cli(*db, str(a), str(bad), str(b), "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["stored"] is False
    assert [(x["source"], x["index"], x["feature_id"]) for x in out["rejected"]] == [
        ("c.geojson", 1, "UA-0009")
    ]
    assert "c.geojson: 1 of 2 features rejected" in out["error"]["detail"]
    assert store.count("hazards") == 0

    r = _cli(*db, str(a), str(bad), str(b), "--skip-invalid", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [
        (f["source"].rsplit("/", 1)[-1], f["created"], f["rejected_count"]) for f in out["files"]
    ] == [
        ("a.geojson", 4, 0),
        ("c.geojson", 1, 1),
        ("b.geojson", 4, 0),
    ]
    assert (out["created"], out["imported"], out["total"]) == (9, 9, 10)
    assert store.count("hazards") == 9

    reps = import_files(store, [a, b], ImportOptions(kind="hazards", mapping_file=mapping))
    assert [(r.created, r.updated, r.unchanged) for r in reps] == [(0, 0, 4), (0, 0, 4)]

    r = _cli(*db, str(a), str(b))  # the report names each file
    assert r.exit_code == 0
    assert "a.geojson: imported 4 of 4" in r.stdout and "b.geojson: imported 4 of 4" in r.stdout


def test_the_same_source_id_in_two_files_is_a_fault(store: Any, tmp_path: Path) -> None:
    a, b = _real(tmp_path / "a.geojson"), _real(tmp_path / "b.geojson", start=3)
    opts = ImportOptions(kind="hazards", mapping_file=_mapping(tmp_path))
    with pytest.raises(ValidationError) as e:
        import_files(store, [a, b], opts)
    (f,) = e.value.faults
    # one fault naming both files and indexes (issue 12, duplicates); neither is stored
    assert (f.source, f.index, f.feature_id, f.field) == ("a.geojson", 3, "UA-0003", "source_id")
    assert "a.geojson: feature 3; b.geojson: feature 0" in f.reason
    assert store.count("hazards") == 0


def test_validate_several_files_names_each(tmp_path: Path) -> None:
    a = _real(tmp_path / "a.geojson")
    bad = _write(tmp_path / "c.geojson", [_feature(8, **{"Date Reported": "April 2023"})])
    mapping = _mapping(tmp_path)
    r = _cli("validate", str(a), str(bad), "--kind", "hazards", "--mapping", str(mapping))
    assert r.exit_code == 1
    assert "a.geojson: 4 features, no faults" in r.stdout
    assert "c.geojson, feature 0, source id 'UA-0008'" in r.stdout and "April 2023" in r.stdout
    r = _cli("validate", str(a), "--kind", "hazards", "--mapping", str(mapping), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] is True


def test_csv_export_with_the_same_mapping(store: Any, tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text(
        "id,Hazard Type,Hazard Name,Date Reported,Date Surveyed,wkt\n"
        "UA-0100,Suspected Minefield,Field A,03.04.2023,,"
        '"POLYGON((37 48,37.01 48,37.01 48.01,37 48.01,37 48))"\n'
        "UA-0101,Confirmed Minefield,Field B,31.12.2022,13.01.2023,"
        '"POLYGON((37.1 48,37.11 48,37.11 48.01,37.1 48.01,37.1 48))"\n'
        "UA-0102,Confirmed Minefield,Field C,31.02.2023,,"
        '"POLYGON((37.2 48,37.21 48,37.21 48.01,37.2 48.01,37.2 48))"\n'
    )
    opts = ImportOptions(kind="hazards", mapping_file=_mapping(tmp_path), skip_invalid=True)
    rep = import_file(store, src, opts)
    assert (rep.created, rep.unchanged) == (2, 0)
    (group,) = rep.rejected
    (bad,) = group["faults"]
    assert (group["source"], group["index"], group["feature_id"], bad["field"]) == (
        "export.csv",
        2,
        "UA-0102",
        "reported_on",
    )
    assert "31.02.2023" in bad["reason"]
    recs = {r.source_id: r.properties for r in store.list("hazards")}
    assert recs["UA-0101"]["surveyed_on"] == "2023-01-13"
    assert recs["UA-0100"]["hazard_type"] == "SHA" and recs["UA-0101"]["status"] == "open"
    assert import_file(store, src, opts).unchanged == 2
