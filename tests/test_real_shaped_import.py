"""Issue 12's acceptance: a real-shaped legacy export imports with one mapping file.

The file is written here to look like what national databases export: values to translate
(``Suspected Minefield``), a field the file lacks (``status``, given by the mapping), dates in
``dd.mm.yyyy`` and legacy dates known only by their year or not at all, a source id carried by two
features, an exact duplicate under another id, a null and an empty geometry, a self-intersecting
polygon, and a longitude of ``180.00000000000006`` (the rounding artefact of a widely used world
dataset). It imports with the expected counts, re-imports as unchanged, and every fault and
warning names its file, feature index and id. On both backends, through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from demine.cli.app import app

MAPPING = """\
# the legacy national database's hazard export
[rename]
"Hazard Type" = "hazard_type"
"Hazard Name" = "name"
"Date Reported" = "reported_on"

[set]
status = "open"

[values.hazard_type]
"Suspected Minefield" = "SHA"
"Confirmed Minefield" = "CHA"

[dates]
reported_on = "%d.%m.%Y"
"""

FILE = "legacy_hazards.geojson"


def _square(x: float, y: float, d: float = 0.01) -> dict[str, Any]:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def _f(sid: str, geometry: Any, kind: str = "Suspected Minefield", date: Any = None) -> Any:
    return {
        "type": "Feature",
        "id": sid,
        "properties": {"Hazard Type": kind, "Hazard Name": f"Area {sid}", "Date Reported": date},
        "geometry": geometry,
    }


def _legacy_export(path: Path) -> Path:
    features = [
        _f("UA-0001", _square(37.00, 48.0), date="12.03.2019"),  # 0
        _f("UA-0002", _square(37.05, 48.0), "Confirmed Minefield", "unknown"),  # 1: unknown date
        _f("UA-0003", _square(37.10, 48.0), date="2018"),  # 2: only the year known
        _f("UA-0004", _square(37.15, 48.0), date="01.02.2020"),  # 3: id repeated ...
        _f("UA-0004", _square(37.20, 48.0), date="02.02.2020"),  # 4: ... here
        _f("UA-0005", None, date="03.02.2020"),  # 5: null geometry
        _f("UA-0006", {"type": "MultiPolygon", "coordinates": []}, date="04.02.2020"),  # 6
        _f(  # 7: a bow tie (self-intersection), repaired with --repair
            "UA-0007",
            {
                "type": "Polygon",
                "coordinates": [
                    [[37.3, 48.0], [37.31, 48.01], [37.31, 48.0], [37.3, 48.01], [37.3, 48.0]]
                ],
            },
            date="05.02.2020",
        ),
        _f(  # 8: 180.00000000000006, snapped to 180 with a warning
            "UA-0008",
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [179.99, 10.0],
                        [180.00000000000006, 10.0],
                        [180.00000000000006, 10.01],
                        [179.99, 10.01],
                        [179.99, 10.0],
                    ]
                ],
            },
            date="06.02.2020",
        ),
        _f("UA-0009", _square(37.00, 48.0), date="12.03.2019"),  # 9: exact duplicate of 0
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _import(store: Any, src: Path, mapping: Path) -> Any:
    r = CliRunner().invoke(
        app,
        [
            "--db",
            store.location,
            "import",
            str(src),
            "--kind",
            "hazards",
            "--mapping",
            str(mapping),
            "--repair",
            "--skip-invalid",
            "--skip-duplicates",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_legacy_export_imports_with_one_mapping_file(store: Any, tmp_path: Path) -> None:
    src = _legacy_export(tmp_path / FILE)
    mapping = tmp_path / "legacy.toml"
    mapping.write_text(MAPPING)

    out = _import(store, src, mapping)
    # 10 features: 2 carry one id, 1 null and 1 empty geometry, 1 duplicate skipped
    assert (out["created"], out["updated"], out["unchanged"]) == (5, 0, 0)
    assert out["skipped_duplicates"] == 1
    rejected = {r["index"]: r for r in out["rejected"]}
    assert set(rejected) >= {3, 5, 6}
    for r in out["rejected"]:  # every fault names its file, index and id
        assert r["source"] == FILE and r["index"] is not None, r
        assert r["feature_id"] or r["source_id"], r
    repeated = " ".join(f["reason"] for f in rejected[3]["faults"])
    assert "UA-0004" in repeated and "3" in repeated and "4" in repeated
    assert 4 not in rejected or rejected[4]["feature_id"] == "UA-0004"
    assert "no geometry (null)" in " ".join(f["reason"] for f in rejected[5]["faults"])
    assert "empty geometry" in " ".join(f["reason"] for f in rejected[6]["faults"])
    for w in out["warnings"]:  # so does every warning
        assert w.get("source") == FILE and w.get("index") is not None, w
        assert w.get("feature_id") or w.get("source_id"), w
    by_index = {w["index"]: w["reason"] for w in out["warnings"]}
    assert "180" in by_index[8]  # the snapped longitude is said
    assert "duplicate" in by_index[9] and "UA-0001" in by_index[9] or "feature 0" in by_index[9]

    stored = {r.source_id: r for r in store.list("hazards")}
    assert set(stored) == {"UA-0001", "UA-0002", "UA-0003", "UA-0007", "UA-0008"}
    props = {k: v.properties for k, v in stored.items()}
    assert props["UA-0001"]["hazard_type"] == "SHA" and props["UA-0002"]["hazard_type"] == "CHA"
    assert {p["status"] for p in props.values()} == {"open"}
    assert props["UA-0001"]["reported_on"] == "2019-03-12"
    assert props["UA-0002"]["reported_on"] == "unknown"
    assert props["UA-0003"]["reported_on"] == "2018"
    assert stored["UA-0008"].geometry.bounds[2] == 180.0
    assert props["UA-0007"]["area_m2"] > 0
    history = store.history(stored["UA-0007"].id)
    assert "repaired on import" in history[-1].reason

    again = _import(store, src, mapping)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)
    assert again["skipped_duplicates"] == 1
    assert store.count("hazards") == 5
