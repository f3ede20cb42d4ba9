"""Duplicates (issue 12): repeated ids in import files are located faults, exact and near
duplicates are reported (and skipped on request) by import and validate, ``demine duplicates``
lists them among stored records, and statistics count overlapping open hazards once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Geod
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import ValidationError
from demine.services.register import ImportOptions, import_file, import_files, validate_file


def _fc(features: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _find(
    fid: str | None, lon: float, lat: float, device: str = "uxo", at: str = "2025-02-01T10:00:00Z"
) -> dict[str, Any]:
    f: dict[str, Any] = {
        "type": "Feature",
        "properties": {"device_type": device, "state": "live", "found_at": at},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }
    if fid is not None:
        f["id"] = fid
    return f


def _square(x: float, y: float, d: float) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _hz(fid: str | None, x: float, y: float, d: float = 0.01, **props: Any) -> dict[str, Any]:
    p = {"hazard_type": "SHA", "status": "open", "name": fid or "h"}
    p.update(props)
    f: dict[str, Any] = {
        "type": "Feature",
        "properties": p,
        "geometry": {"type": "Polygon", "coordinates": _square(x, y, d)},
    }
    if fid is not None:
        f["id"] = fid
    return f


def _write(tmp_path: Path, name: str, features: list[dict[str, Any]]) -> Path:
    p = tmp_path / name
    p.write_bytes(_fc(features))
    return p


# --- repeated ids -------------------------------------------------------------------------------


def _repeated_file(tmp_path: Path) -> Path:
    return _write(
        tmp_path,
        "rep.geojson",
        [
            _find("A", 37.0, 48.0),
            _find("B", 37.1, 48.0),
            _find("A", 37.2, 48.0),
            _find("C", 37.3, 48.0),
            _find("A", 37.4, 48.0),
        ],
    )


def test_repeated_source_id_is_one_located_fault(store: Any, tmp_path: Path) -> None:
    f = _repeated_file(tmp_path)
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="finds"))
    rep = [x for x in e.value.faults if x.field == "source_id"]
    assert len(rep) == 1
    assert rep[0].feature_id == "A" and rep[0].source == "rep.geojson" and rep[0].index == 0
    assert "rep.geojson: features 0, 2, 4" in rep[0].reason
    assert store.count("finds") == 0


def test_repeated_ids_skip_invalid_stores_the_others_and_reimports(
    store: Any, tmp_path: Path
) -> None:
    f = _repeated_file(tmp_path)
    opts = ImportOptions(kind="finds", skip_invalid=True)
    rep = import_file(store, f, opts)
    assert rep.imported == 2 and store.count("finds") == 2
    assert sorted(r.source_id for r in store.list("finds")) == ["B", "C"]
    assert [r["index"] for r in rep.rejected] == [0]
    # a re-import: the same located fault, never "record <uuid> appears twice in one batch"
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="finds"))
    assert "appears twice" not in str(e.value)
    assert any("features 0, 2, 4" in x.reason for x in e.value.faults)
    rep = import_file(store, f, opts)
    assert rep.unchanged == 2 and rep.created == 0


def test_repeated_uuid_id_is_a_located_fault(store: Any, tmp_path: Path) -> None:
    u = "0191c3a4-0000-7000-8000-000000000001"
    f = _write(tmp_path, "u.geojson", [_find(u, 37.0, 48.0), _find(u, 37.5, 48.0)])
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="finds"))
    (fault,) = e.value.faults
    assert fault.field == "id" and "u.geojson: features 0, 1" in fault.reason


def test_repeated_source_id_across_files_names_both(store: Any, tmp_path: Path) -> None:
    a = _write(tmp_path, "a.geojson", [_find("X", 37.0, 48.0), _find("Y", 37.1, 48.0)])
    b = _write(tmp_path, "b.geojson", [_find("Z", 37.2, 48.0), _find("X", 37.3, 48.0)])
    with pytest.raises(ValidationError) as e:
        import_files(store, [a, b], ImportOptions(kind="finds"))
    (fault,) = e.value.faults
    assert fault.feature_id == "X"
    assert "a.geojson: feature 0; b.geojson: feature 1" in fault.reason
    reps = import_files(store, [a, b], ImportOptions(kind="finds", skip_invalid=True))
    assert sorted(r.source_id for r in store.list("finds")) == ["Y", "Z"]
    assert [x.imported for x in reps] == [1, 1]


def test_cli_reimport_of_repeated_ids_gives_the_located_fault(store: Any, tmp_path: Path) -> None:
    f = _repeated_file(tmp_path)
    run = CliRunner().invoke
    args = ["--db", store.location, "import", str(f), "--kind", "finds"]
    r = run(app, [*args, "--skip-invalid"])
    assert r.exit_code == 0, r.output
    r = run(app, [*args, "--json"])
    assert r.exit_code == 1, r.output
    assert "appears twice" not in r.output
    out = json.loads(r.stdout)
    (rej,) = out["rejected"]
    assert rej["feature_id"] == "A" and rej["source_id"] == "A"
    (err,) = out["error"]["errors"]
    assert err["field"] == "source_id" and "rep.geojson: features 0, 2, 4" in err["reason"]
    r = run(app, ["validate", str(f), "--kind", "finds"])
    assert r.exit_code == 1 and "features 0, 2, 4" in r.output


# --- exact and near duplicates at import -------------------------------------------------------


def _dups_file(tmp_path: Path, name: str = "d.geojson") -> Path:
    return _write(
        tmp_path,
        name,
        [
            _find(None, 37.0, 48.0),
            _find(None, 37.0, 48.0),  # exact duplicate of 0
            _find(None, 37.000005, 48.0),  # 0.37 m east of 0: near
            _find(None, 37.0, 48.0, device="ied"),  # another type: not a duplicate
            _find(None, 37.0, 48.0, at="2025-03-01T10:00:00Z"),  # another day
            _find(None, 37.0001, 48.0),  # 7.4 m away: not near
        ],
    )


def test_duplicates_are_warned_and_stored_by_default(store: Any, tmp_path: Path) -> None:
    rep = import_file(store, _dups_file(tmp_path), ImportOptions(kind="finds"))
    assert rep.imported == 6 and rep.duplicates == 2 and rep.skipped_duplicates == 0
    dup = {w.index: w.reason for w in rep.warnings if "duplicate" in w.reason}
    assert set(dup) == {1, 2}
    assert dup[1].startswith("exact duplicate of d.geojson feature 0")
    assert "device_type, found_at" in dup[1]
    assert dup[2].startswith("near duplicate of d.geojson feature 0")


def test_duplicates_worked_out_beside_the_write_undo_it_when_they_fail(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default the duplicates are found on a second thread while the records are written:
    their warnings are in the report all the same, and a failure there stores nothing."""
    import demine.services.duplicates as dups

    path = _dups_file(tmp_path)
    real = dups.flag_duplicates
    threads: list[str] = []

    def watched(*a: Any, **kw: Any) -> None:
        import threading

        threads.append(threading.current_thread().name)
        real(*a, **kw)

    monkeypatch.setattr(dups, "flag_duplicates", watched)
    rep = import_file(store, path, ImportOptions(kind="finds"))
    assert threads == ["demine-duplicates"]
    assert rep.duplicates == 2 and {w.index for w in rep.warnings if "duplicate" in w.reason} == {
        1,
        2,
    }
    assert store.count("finds") == 6

    def broken(*a: Any, **kw: Any) -> None:
        raise RuntimeError("duplicates failed")

    monkeypatch.setattr(dups, "flag_duplicates", broken)
    other = _write(tmp_path, "e.geojson", [_find(None, 30.0, 50.0), _find(None, 30.1, 50.1)])
    with pytest.raises(RuntimeError, match="duplicates failed"):
        import_file(store, other, ImportOptions(kind="finds"))
    assert store.count("finds") == 6  # nothing of e.geojson was stored


def test_skip_duplicates_keeps_the_first(store: Any, tmp_path: Path) -> None:
    rep = import_file(
        store, _dups_file(tmp_path), ImportOptions(kind="finds", skip_duplicates=True)
    )
    assert rep.imported == 4 and rep.skipped_duplicates == 2 and store.count("finds") == 4


def test_exact_only_with_tolerance_zero(store: Any, tmp_path: Path) -> None:
    opts = ImportOptions(kind="finds", duplicate_tolerance_m=0)
    rep = import_file(store, _dups_file(tmp_path), opts)
    assert rep.duplicates == 1
    # 10 m: the point 7.4 m away joins the group of feature 0
    rep = validate_file(
        _dups_file(tmp_path, "e.geojson"), ImportOptions(kind="finds", duplicate_tolerance_m=10)
    )
    assert rep.duplicates == 3
    # against the 6 stored: every feature is an exact copy of a stored record
    opts = ImportOptions(kind="finds", duplicate_tolerance_m=0, skip_duplicates=True)
    rep = import_file(store, _dups_file(tmp_path, "f.geojson"), opts)
    assert rep.skipped_duplicates == 6 and store.count("finds") == 6


def test_reimport_without_ids_names_the_stored_record(store: Any, tmp_path: Path) -> None:
    f = _write(tmp_path, "n.geojson", [_find(None, 37.0, 48.0), _find(None, 37.5, 48.0)])
    import_file(store, f, ImportOptions(kind="finds"))
    stored = {r.geometry.x: r.id for r in store.list("finds")}
    rep = import_file(store, f, ImportOptions(kind="finds", skip_duplicates=True))
    assert rep.imported == 0 and rep.skipped_duplicates == 2 and store.count("finds") == 2
    w = {x.index: x.reason for x in rep.warnings}
    assert w[0].startswith(f"exact duplicate of stored record {stored[37.0]}")
    assert w[1].startswith(f"exact duplicate of stored record {stored[37.5]}")
    # without --skip-duplicates it is stored, and said so on the command line
    r = CliRunner().invoke(app, ["--db", store.location, "import", str(f), "--kind", "finds"])
    assert r.exit_code == 0, r.output
    assert "2 duplicate features" in r.output and "exact duplicate of stored record" in r.output
    assert "NOTE: 2 features duplicate records already stored" in r.output
    assert store.count("finds") == 4


def test_duplicates_across_files_and_json_totals(store: Any, tmp_path: Path) -> None:
    a = _write(tmp_path, "a.geojson", [_find(None, 37.0, 48.0), _find(None, 37.2, 48.0)])
    b = _write(tmp_path, "b.geojson", [_find(None, 37.3, 48.0), _find(None, 37.0, 48.0)])
    run = CliRunner().invoke
    args = ["--db", store.location, "import", str(a), str(b), "--kind", "finds", "--json"]
    r = run(app, [*args, "--skip-duplicates"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["imported"], out["duplicates"], out["skipped_duplicates"]) == (3, 1, 1)
    (w,) = [x for x in out["warnings"] if "duplicate" in x["reason"]]
    assert w["index"] == 1 and w["source"] == "b.geojson"
    assert w["reason"].startswith("exact duplicate of a.geojson feature 0")
    assert store.count("finds") == 3


def test_reimport_with_ids_is_not_a_duplicate(store: Any, tmp_path: Path) -> None:
    f = _write(tmp_path, "i.geojson", [_find("a", 37.0, 48.0), _find("b", 37.5, 48.0)])
    import_file(store, f, ImportOptions(kind="finds"))
    rep = import_file(store, f, ImportOptions(kind="finds", skip_duplicates=True))
    assert rep.unchanged == 2 and rep.duplicates == 0


def test_near_polygons_and_validate(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "h.geojson",
        [
            _hz("h1", 37.0, 48.0),
            _hz("h2", 37.0, 48.0, d=0.01002),  # 0.4 % larger: near
            _hz("h3", 37.0, 48.0, d=0.0105),  # 10 % larger: not near
            _hz("h4", 37.0, 48.0, hazard_type="CHA"),  # another type
        ],
    )
    rep = validate_file(f, ImportOptions(kind="hazards"))
    assert not rep.rejected and rep.duplicates == 1
    (w,) = [x for x in rep.warnings if "duplicate" in x.reason]
    assert (
        w.index == 1
        and w.feature_id == "h2"
        and "near duplicate of h.geojson feature 0" in (w.reason)
    )
    r = CliRunner().invoke(app, ["validate", str(f), "--kind", "hazards", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["duplicates"] == 1


def test_thousands_of_exact_duplicates_are_each_one_group(tmp_path: Path) -> None:
    """36,000 points, each twice (the shape of a real landmine-event file); its time is
    measured in bench/duplicates.py, never asserted here."""
    from demine.services.duplicates import find_groups

    n = 36_000
    geoms = shapely.points([(30 + (i % 3000) * 0.001, 48 + (i // 3000) * 0.001) for i in range(n)])
    props = [{"device_type": "uxo", "found_at": "2025-01-01"} for _ in range(n)]
    groups = find_groups("finds", list(geoms) * 2, props * 2)
    assert len(groups) == n and all(g.exact and len(g.members) == 2 for g in groups)


# --- demine duplicates KIND --------------------------------------------------------------------


def test_duplicates_command_lists_groups_and_overlaps(store: Any, tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "s.geojson",
        [
            _find("a", 37.0, 48.0),
            _find("b", 37.0, 48.0),  # exact duplicate of a
            _find("c", 37.000005, 48.0),  # near a
            _find("d", 37.5, 48.0),
        ],
    )
    import_file(store, f, ImportOptions(kind="finds"))
    ids = {r.source_id: r.id for r in store.list("finds")}
    run = CliRunner().invoke
    r = run(app, ["--db", store.location, "duplicates", "finds", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    (g,) = out["groups"]
    assert g["match"] == "near" and g["values"] == {"device_type": "uxo", "found_at": "2025-02-01"}
    assert [(x["source_id"], x["id"], x["match"]) for x in g["records"]] == [
        ("a", ids["a"], "exact"),
        ("b", ids["b"], "exact"),
        ("c", ids["c"], "near"),
    ]
    r = run(
        app, ["--db", store.location, "duplicates", "finds", "--duplicate-tolerance", "0", "--json"]
    )
    (g,) = json.loads(r.stdout)["groups"]
    assert g["match"] == "exact" and [x["source_id"] for x in g["records"]] == ["a", "b"]
    r = run(app, ["--db", store.location, "duplicates", "finds"])
    assert r.exit_code == 0 and ids["c"] in r.output and "1 duplicate groups" in r.output
    r = run(app, ["--db", store.location, "duplicates", "victims"])
    assert r.exit_code == 1 and "no duplicate rule" in r.output


def test_duplicates_command_lists_overlapping_open_hazards(store: Any, tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "o.geojson",
        [
            _hz("p", 37.0, 48.0, d=0.02),
            _hz("q", 37.01, 48.01, d=0.02),  # overlaps p on a 0.01° square
            _hz("r", 37.5, 48.0),
            _hz("s", 37.0, 48.0, d=0.02, status="closed", closed_on="2025-01-01"),
        ],
    )
    import_file(store, f, ImportOptions(kind="hazards"))
    r = CliRunner().invoke(app, ["--db", store.location, "duplicates", "hazards", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["groups"] == []  # s is closed: another status, not a duplicate of p
    (pair,) = out["overlapping_open_hazards"]
    assert {pair["first"]["source_id"], pair["second"]["source_id"]} == {"p", "q"}
    lon, lat = [37.01, 37.02, 37.02, 37.01], [48.01, 48.01, 48.02, 48.02]
    expected = abs(Geod(ellps="WGS84").polygon_area_perimeter(lon, lat)[0])
    assert pair["overlap_m2"] == pytest.approx(expected, rel=1e-3)
    r = CliRunner().invoke(app, ["--db", store.location, "duplicates", "hazards"])
    assert "1 pairs of open hazards overlap" in r.output


# --- statistics: overlapping open hazards counted once ------------------------------------------


def _geodesic_m2(poly: Any) -> float:
    """Area of a lon/lat polygon with edges straight in lon/lat, by pyproj's Geod (the edges
    densified to 1e-4°, so geodesic edges follow the straight ones)."""
    dense = shapely.segmentize(poly, 1e-4)
    lon, lat = dense.exterior.coords.xy
    return abs(Geod(ellps="WGS84").polygon_area_perimeter(list(lon), list(lat))[0])


def test_stats_count_overlapping_open_hazards_once(store: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from demine.api.app import create_app
    from demine.services.report.data import annual_data, km2
    from demine.services.report.text import TEXT
    from demine.services.stats import compute

    f = _write(
        tmp_path,
        "ov.geojson",
        [
            _hz("p", 37.0, 48.0, d=0.02, reported_on="2025-01-01"),
            _hz("q", 37.01, 48.01, d=0.02, reported_on="2025-01-01"),
            _hz("r", 37.5, 48.0, d=0.01, reported_on="2025-01-01"),
        ],
    )
    import_file(store, f, ImportOptions(kind="hazards"))
    p = _geodesic_m2(shapely.box(37.0, 48.0, 37.02, 48.02))
    q = _geodesic_m2(shapely.box(37.01, 48.01, 37.03, 48.03))
    r = _geodesic_m2(shapely.box(37.5, 48.0, 37.51, 48.01))
    # the union of p and q, worked out by hand: an octagon-like outline of both squares
    pq = shapely.Polygon(
        [
            (37.0, 48.0),
            (37.02, 48.0),
            (37.02, 48.01),
            (37.03, 48.01),
            (37.03, 48.03),
            (37.01, 48.03),
            (37.01, 48.02),
            (37.0, 48.02),
        ]
    )
    union = _geodesic_m2(pq) + r
    hz = compute(store)["hazards"]
    assert hz["open"] == 3 and hz["overlapping"] == 2
    assert hz["remaining_sum_m2"] == pytest.approx(p + q + r, abs=5)
    assert hz["remaining_m2"] == pytest.approx(union, abs=5)
    assert hz["remaining_sum_m2"] - hz["remaining_m2"] == pytest.approx(p + q + r - union, abs=5)
    assert hz["overlap_note"].startswith("2 overlapping hazards: area counted once (sum ")
    # the same figures on the command line, the HTTP API and the annual report
    out = CliRunner().invoke(app, ["--db", store.location, "stats", "--json"])
    assert json.loads(out.stdout)["hazards"]["remaining_m2"] == hz["remaining_m2"]
    out = CliRunner().invoke(app, ["--db", store.location, "stats"])
    assert "2 overlapping hazards: area counted once" in out.output
    with TestClient(create_app(store.location)) as c:
        body = c.get("/api/v1/stats").json()
    assert body["hazards"]["remaining_m2"] == hz["remaining_m2"]
    assert body["hazards"]["remaining_sum_m2"] == hz["remaining_sum_m2"]
    data = annual_data(store, 2025)
    assert "2 open hazards overlap another" in data["form_c"]["note"]
    figure = dict(data["figures"])[TEXT["en"]["fig_remaining"]]
    assert figure.startswith(km2(hz["remaining_m2"]) + " ")


def test_stats_without_overlap_is_the_sum(store: Any, tmp_path: Path) -> None:
    from demine.services.stats import compute

    f = _write(tmp_path, "no.geojson", [_hz("a", 37.0, 48.0), _hz("b", 37.5, 48.0)])
    import_file(store, f, ImportOptions(kind="hazards"))
    hz = compute(store)["hazards"]
    assert hz["overlapping"] == 0 and hz["overlap_note"] is None
    assert hz["remaining_m2"] == hz["remaining_sum_m2"] > 0


def test_union_of_16000_hazards_counts_the_overlaps_once() -> None:
    import random

    from demine.geo.geodesy import geodesic_area
    from demine.services.stats.land import overlap_union

    # 16,000 round hazards 200 m to 1.6 km across, scattered over 3° x 3°: some 6,000 overlap
    rnd = random.Random(1)
    geoms = [
        shapely.Point(rnd.uniform(35, 38), rnd.uniform(47, 50)).buffer(rnd.uniform(0.001, 0.008))
        for _ in range(16_000)
    ]
    m2 = [round(x) for x in geodesic_area(geoms)]
    out = overlap_union(geoms, m2)
    assert 5000 < out["overlapping"] < 7000
    assert out["remaining_sum_m2"] == sum(m2)
    assert 0.5 * sum(m2) < out["remaining_m2"] < sum(m2)


def test_tolerance_is_bounded(tmp_path: Path) -> None:
    from demine.services.duplicates import find_groups

    with pytest.raises(ValidationError) as e:
        find_groups("finds", [], [], tolerance_m=5000)
    assert e.value.faults[0].field == "tolerance_m"
    f = _write(tmp_path, "t.geojson", [_find(None, 37.0, 48.0)])
    r = CliRunner().invoke(
        app, ["validate", str(f), "--kind", "finds", "--duplicate-tolerance", "5000"]
    )
    assert r.exit_code == 2 and "--duplicate-tolerance" in r.output
