"""`demine check`'s quick path (demine.cli.quick, demine.geo.plain): the same answer as the full
command, byte for byte, or no answer at all (the full command then answers); and no typer,
numpy, shapely or pyproj loaded on its way."""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from demine.cli.app import app
from demine.cli.quick import ROLES, SCHEMA_VERSION, answer_check
from demine.geo.geodesy import distance_to_geometries
from demine.geo.plain import distance_to_polygons
from demine.ids import uuid7
from demine.model.schema import Record

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("numpy", "shapely", "pyproj", "typer", "pydantic")


def _star(rng: random.Random, lon: float, lat: float, r_deg: float, n: int) -> shapely.Polygon:
    """A star-shaped ring around (lon, lat), as surveyed hazards look (irregular, 5-40 sides)."""
    pts = []
    for k in range(n):
        a = 2 * math.pi * k / n
        rr = r_deg * rng.uniform(0.5, 1.0)
        pts.append((lon + rr * math.cos(a) / math.cos(math.radians(lat)), lat + rr * math.sin(a)))
    return shapely.Polygon(pts)


def _hazards(rng: random.Random) -> list[Record]:
    """Hazards shaped like a national register's: small irregular polygons, some with a hole,
    some in two parts, a few large ones with long edges, some closed or handed over, some by
    the antimeridian, with names, references and device categories."""
    out = []

    def add(geom: Any, status: str = "open", **props: Any) -> None:
        mp = geom if isinstance(geom, shapely.MultiPolygon) else shapely.MultiPolygon([geom])
        assert mp.is_valid, mp
        p = {"hazard_type": rng.choice(["SHA", "CHA"]), "status": status, **props}
        if status == "closed":
            p["closed_on"] = "2024-05-01"
        out.append(Record("hazards", uuid7(), p, mp))

    for i in range(60):
        lon, lat = 37.0 + rng.uniform(0, 0.3), 48.0 + rng.uniform(0, 0.2)
        poly = _star(rng, lon, lat, rng.uniform(0.0005, 0.004), rng.randint(5, 40))
        if i % 5 == 0:  # a hole (an area released inside the hazard)
            hole = _star(rng, lon, lat, 0.0002, 6)
            poly = shapely.Polygon(poly.exterior.coords, [hole.exterior.coords])
        if i % 7 == 0:  # two parts
            other = _star(rng, lon + 0.012, lat + 0.006, 0.0015, 8)
            poly = shapely.MultiPolygon([poly, other])
        status = ("open", "open", "open", "closed", "handed_over")[i % 5 if i % 3 else 0]
        add(
            poly,
            status,
            name=f"hazard {i}",
            reference=f"UA-{i:04d}" if i % 2 else None,
            device_categories="AP,AT" if i % 4 == 0 else None,
        )
    # large polygons with edges much longer than 0.01° (densified before projecting)
    add(shapely.Polygon([(37.4, 48.3), (37.7, 48.31), (37.69, 48.45), (37.41, 48.44)]))
    add(shapely.Polygon([(37.75, 48.0), (37.9, 48.2), (37.76, 48.21)]), name="triangle")
    # by the antimeridian, on both sides (Fiji-like), and one south of the equator
    add(_star(rng, 179.985, -17.0, 0.004, 12), name="east of 180")
    add(_star(rng, -179.985, -17.0, 0.004, 12), name="west of 180")
    add(_star(rng, 30.0, -0.0005, 0.003, 10), name="at the equator")
    return out


def _points(rng: random.Random, hazards: list[Record]) -> list[tuple[float, float, float]]:
    """(lat, lon, radius): random places, places inside hazards, in and by their holes, on
    vertices, by the antimeridian."""
    pts = []
    for _ in range(40):
        pts.append((48.0 + rng.uniform(-0.02, 0.22), 37.0 + rng.uniform(-0.02, 0.32), 500.0))
    for h in hazards:
        g = h.geometry
        c = g.representative_point()
        pts.append((c.y, c.x, 300.0))  # inside
        part = g.geoms[0]
        x, y = part.exterior.coords[1]
        pts.append((y, x, 100.0))  # on a vertex
        pts.append((y + rng.uniform(-0.003, 0.003), x + rng.uniform(-0.003, 0.003), 1000.0))
        if part.interiors:
            hole = shapely.Polygon(part.interiors[0])
            pts.append((hole.centroid.y, hole.centroid.x, 500.0))  # in the hole
            hx, hy = part.interiors[0].coords[0]
            pts.append((hy + 1e-5, hx + 1e-5, 50.0))  # by the hole's edge
    pts += [(-17.0, 180.0, 2000.0), (-17.0, -180.0, 2000.0), (-17.001, 179.999, 600.0)]
    pts += [(-0.0005, 30.0, 200.0), (0.0, 30.0, 2000.0)]
    return pts


@pytest.fixture
def register(store: Any) -> Any:
    rng = random.Random(16)
    hazards = _hazards(rng)
    store.upsert("hazards", hazards, actor="t")
    if store.location.endswith(".gpkg"):  # a hazard whose geometry was lost (no distance)
        lost = Record(
            "hazards", uuid7(), {"hazard_type": "SHA", "status": "open"}, hazards[0].geometry
        )
        store.upsert("hazards", [lost], actor="t")
        store.conn.execute("UPDATE hazards SET geom = NULL WHERE id = ?", (lost.id,))
    store.close()
    return store.location, _points(rng, hazards)


def _quick(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[bool, str, str]:
    capsys.readouterr()
    done = answer_check(argv)
    out = capsys.readouterr()
    return done, out.out, out.err


def test_the_quick_path_answers_as_the_full_command(register: Any, capsys: Any) -> None:
    """The same answer as the full command's service (every place) and byte for byte as the
    full command's output (every sixth place, JSON and text): places inside hazards, in holes,
    on vertices, by the antimeridian, closed hazards left out or listed. On PostGIS the full
    command answers."""
    from demine.services.safety import answer, check_point
    from demine.store.open import open_store

    db, points = register
    gpkg = db.endswith(".gpkg")
    runner = CliRunner()
    seen_inside = seen_near = 0
    with open_store(db) as store:
        for i, (lat, lon, radius) in enumerate(points):
            argv = ["--db", db, "check", f"{lat!r}", f"{lon!r}", "--radius", f"{radius:g}"]
            if i % 3 == 0:
                argv = ["--db", db, "check", f"{lat!r},{lon!r}", "--radius", f"{radius:g}"]
            closed = i % 4 == 0
            if closed:
                argv.append("--include-closed")
            done, out, err = _quick(capsys, [*argv, "--json"])
            if not gpkg:
                assert (done, out, err) == (False, "", "")
                continue
            assert done, argv
            hits = check_point(store, lat, lon, radius, include_closed=closed)
            told = answer([h.to_dict() for h in hits], radius, False, {"lat": lat, "lon": lon})
            assert json.loads(out) == told, argv
            seen_inside += any(h["inside"] for h in told["hazards"])
            seen_near += bool(told["hazards"])
            if i % 6 == 0:
                assert out == runner.invoke(app, [*argv, "--json"]).stdout
                done, out, err = _quick(capsys, argv)
                assert done and out == runner.invoke(app, argv).stdout, argv
    if gpkg:
        assert seen_inside > 30 and seen_near > 60  # the comparison saw many hazards
    else:  # the full command answers through the entry point, as before
        argv = ["--db", db, "check", f"{points[0][0]!r}", f"{points[0][1]!r}", "--json"]
        assert runner.invoke(app, argv).exit_code == 0


def test_argument_forms_and_options_as_the_full_command(register: Any, capsys: Any) -> None:
    db, _ = register
    if not db.endswith(".gpkg"):
        assert answer_check(["--db", db, "check", "48.1", "37.1", "--json"]) is False
        return
    runner = CliRunner()
    forms = [
        ["--db", db, "check", "48.1", "37.1", "--json"],
        ["check", "--lat", "48.1", "--lon=37.1", "--db", db, "--json"],
        [f"--db={db}", "check", "48.1, 37.1", "--radius=2500", "--json", "--include-closed"],
        ["--role", "public", "--db", db, "check", "--json", "48.1", "37.1", "--radius", "1e3"],
        ["--db", "nowhere.gpkg", "check", "48.1", "37.1", "--json", "--db", db],
    ]
    for argv in forms:
        done, out, _ = _quick(capsys, argv)
        assert done, argv
        assert out == runner.invoke(app, argv).stdout, argv


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "48.1", "37.1", "--include", "eo_reports"],  # needs the role's view
        ["check", "--help"],
        ["--help"],
        [],
        ["list", "hazards"],
        ["check", "91", "37"],  # every fault named by the full command
        ["check", "137.5", "48"],  # swapped
        ["check", "48.1"],
        ["check", "48.1", "37.1", "--radius", "-5"],
        ["check", "48.1", "37.1", "--radius", "abc"],
        ["check", "48.1", "37.1", "--radius"],
        ["check", "48.1", "37.1", "--bogus"],
        ["check", "48.1", "37.1", "--json=yes"],
        ["--role", "nobody", "check", "48.1", "37.1"],
        ["check", "48.1", "37.1", "--lat", "48.1"],
    ],
)
def test_what_the_quick_path_leaves_to_the_full_command(
    gpkg_store: Any, capsys: Any, argv: list[str]
) -> None:
    """Nothing is printed: the full command answers (help, errors, --include)."""
    gpkg_store.close()
    assert _quick(capsys, ["--db", gpkg_store.location, *argv]) == (False, "", "")


def test_stores_the_quick_path_leaves_to_the_full_command(
    gpkg_store: Any, tmp_path: Path, capsys: Any
) -> None:
    gpkg_store.close()
    check = ["check", "48.1", "37.1", "--json"]
    not_demine = tmp_path / "other.gpkg"
    sqlite3.connect(not_demine).execute("CREATE TABLE t (x)").connection.close()
    older = tmp_path / "older.gpkg"
    older.write_bytes(Path(gpkg_store.location).read_bytes())
    with sqlite3.connect(older) as c:
        c.execute("UPDATE demine_settings SET value = '7' WHERE key = 'schema_version'")
    text = tmp_path / "notes.txt"
    text.write_text("not a store")
    for db in (
        str(tmp_path / "missing.gpkg"),
        str(not_demine),
        str(older),
        str(text),
        "postgresql://u@127.0.0.1:1/none",
        "https://example.org/store.gpkg",
    ):
        assert _quick(capsys, ["--db", db, *check]) == (False, "", ""), db
    assert not (tmp_path / "missing.gpkg").exists()  # not made by looking


def test_a_polygon_with_too_many_candidates_is_left_to_the_full_command(
    gpkg_store: Any, capsys: Any
) -> None:
    rng = random.Random(3)
    many = [
        Record(
            "hazards",
            uuid7(),
            {"hazard_type": "SHA", "status": "open"},
            shapely.MultiPolygon([_star(rng, 37.0 + i * 0.001, 48.0, 0.0003, 6)]),
        )
        for i in range(250)
    ]
    gpkg_store.upsert("hazards", many, actor="t")
    gpkg_store.close()
    argv = ["--db", gpkg_store.location, "check", "48.0", "37.1", "--radius", "20000", "--json"]
    assert _quick(capsys, argv) == (False, "", "")
    assert len(json.loads(CliRunner().invoke(app, argv).stdout)["hazards"]) == 250


def _one_box(store: Any) -> None:
    """One open hazard, a box about 1.5 km by 1.3 km near 48.006 N 37.51 E; the store closed."""
    store.upsert(
        "hazards",
        [
            Record(
                "hazards",
                uuid7(),
                {"hazard_type": "CHA", "status": "open", "name": "box"},
                shapely.MultiPolygon([shapely.box(37.5, 48.0, 37.52, 48.012)]),
            )
        ],
        actor="t",
    )
    store.close()


def test_the_entry_point_loads_no_heavy_library_for_a_check(store: Any) -> None:
    """`demine check` through the console script's entry point (demine.cli.app:main), as a
    process: on a GeoPackage no typer, numpy, shapely, pyproj or pydantic is loaded; the answer
    is the full command's. On PostGIS (and for --include) the full command answers."""
    _one_box(store)
    code = (
        "import sys; from demine.cli.app import main; sys.argv[0] = 'demine'\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("DEMINE_ROLE", None)
    argv = ["--db", store.location, "check", "48.006", "37.525", "--radius", "1000", "--json"]
    for extra, quick in (
        ([], store.location.endswith(".gpkg")),
        (["--include", "eo_reports"], False),
    ):
        p = subprocess.run(
            [sys.executable, "-c", code, *argv, *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert p.returncode == 0, p.stderr
        loaded = json.loads(p.stderr.strip().splitlines()[-1].replace("'", '"'))
        assert (loaded == []) is quick, (extra, loaded)
        assert p.stdout == CliRunner().invoke(app, argv + extra).stdout


def test_plain_distances_equal_the_full_paths() -> None:
    """demine.geo.plain against demine.geo.geodesy over random polygons with holes, at
    latitudes up to 80°, by the antimeridian: within 0.1 mm, and 0 (inside) in the same
    places."""
    rng = random.Random(5)
    n = 0
    while n < 600:
        lat0 = rng.uniform(-80, 80)
        lon0 = rng.choice([rng.uniform(-179.5, 179.5), rng.uniform(179.6, 179.75)])
        r = rng.choice([0.001, 0.01, 0.1, 0.3])
        outer = _star(rng, lon0, lat0, r, rng.randint(4, 30))
        hole = _star(rng, lon0, lat0, 0.15 * r, 5)
        poly = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
        if not poly.is_valid or poly.bounds[2] >= 180:
            continue
        n += 1
        lon = lon0 + rng.uniform(-3 * r, 3 * r)
        lat = lat0 + rng.uniform(-2 * r, 2 * r)
        if n % 4 == 0:
            lon, lat = lon0 + rng.uniform(-0.1, 0.1) * r, lat0 + rng.uniform(-0.1, 0.1) * r
        lat = max(-80.0, min(80.0, lat))
        full = float(distance_to_geometries(lon, lat, [poly])[0])
        rings = [list(poly.exterior.coords), list(poly.interiors[0].coords)]
        plain = distance_to_polygons(lon, lat, [rings])
        assert plain == pytest.approx(full, abs=1e-4), (lon, lat, r)
        assert (plain == 0.0) == (full == 0.0), (lon, lat, r)


def test_the_quick_paths_constants_are_the_stores() -> None:
    from demine.services.access import ROLES as ACCESS_ROLES
    from demine.store.gpkg import SCHEMA_VERSION as STORE_VERSION

    assert SCHEMA_VERSION == STORE_VERSION
    assert ROLES == ACCESS_ROLES


def test_a_synthetic_store_is_said_so_on_both_paths(gpkg_store: Any, capsys: Any) -> None:
    """The banner on stderr (text) and ``synthetic: true`` (JSON), as the full command gives
    them."""
    gpkg_store.set_setting("synthetic", True)
    _one_box(gpkg_store)
    argv = ["--db", gpkg_store.location, "check", "48.006", "37.525", "--radius", "1000"]
    for fmt in (["--json"], []):
        done, out, err = _quick(capsys, argv + fmt)
        full = CliRunner().invoke(app, argv + fmt)
        assert done and (out, err) == (full.stdout, full.stderr), fmt
    assert "SYNTHETIC" in err.upper()  # the text run's banner
    assert json.loads(_quick(capsys, [*argv, "--json"])[1])["synthetic"] is True
