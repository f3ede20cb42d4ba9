"""``demine stats --json``/``--csv``'s quick path (demine.cli.quick_stats): the same output as
the full command, byte for byte (the time of generation aside), or no answer at all (the full
command then answers); no typer, pydantic, numpy, shapely or pyproj loaded on its way with one
area once the memo is kept. And the places of records' points in a layer's areas kept in the
memo (demine.services.stats.placing): a point moved, by demine or another program, is placed
again. Both backends."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

import stats_data
from demine.cli.app import app
from demine.cli.quick_stats import answer_stats
from demine.services.stats import compute, load_areas

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("numpy", "shapely", "pyproj", "typer", "pydantic")
STAMP = re.compile(r'"generated_at": "[^"]*"')


@pytest.fixture
def year(store: Any) -> stats_data.Year:
    return stats_data.build(store)


def _same(a: str, b: str) -> bool:
    return STAMP.sub("", a) == STAMP.sub("", b)


def test_the_quick_path_answers_as_the_full_command(
    store: Any, year: stats_data.Year, capsys: Any
) -> None:
    db = store.location
    runner = CliRunner()
    forms = [
        ["--db", db, "stats", "--json"],
        ["--db", db, "stats", "--json"],  # again: from the memo
        ["stats", "--db", db, "--by", "oblasts", "--json"],
        [f"--db={db}", "stats", "--by=oblasts", "--period", "2025", "--json"],
        ["--db", db, "--role", "victim_assistance", "stats", "--period=2024-2025", "--json"],
        ["--role", "public", "--db", db, "stats", "--json", "--by", "oblasts"],
        ["--db", db, "stats", "--by", "oblasts", "--name-field", "code", "--json"],
        ["--db", db, "stats", "--by", "oblasts", "--period", "2024-2025", "--csv"],
        ["--db", "nowhere.gpkg", "stats", "--csv", "--db", db],
    ]
    for argv in forms:
        capsys.readouterr()
        assert answer_stats(argv), argv
        quick = capsys.readouterr().out
        full = runner.invoke(app, argv)
        assert full.exit_code == 0, full.output
        assert _same(quick, full.stdout), argv


@pytest.mark.parametrize(
    "argv",
    [
        ["stats"],  # the table: the full command
        ["stats", "--by", "oblasts"],
        ["stats", "--json", "--help"],
        ["stats", "--json", "--period", "nope"],  # every fault named by the full command
        ["stats", "--json", "--by", "no_such_layer"],
        ["stats", "--json", "--by", "oblasts", "--name-field", "nope"],
        ["stats", "--json", "--period", "2024", "--period", "2025"],
        ["stats", "--json", "--unknown"],
        ["stats", "--json", "--csv"],  # both: the JSON, then the CSV
        ["stats", "--json", "--by"],
        ["--role", "nobody", "stats", "--json"],
        ["chart", "released", "--json"],
    ],
)
def test_what_the_quick_path_leaves_to_the_full_command(
    store: Any, year: stats_data.Year, capsys: Any, argv: list[str]
) -> None:
    capsys.readouterr()
    assert answer_stats(["--db", store.location, *argv]) is False
    assert capsys.readouterr() == ("", "")


def test_no_heavy_modules_on_the_quick_path(store: Any, year: stats_data.Year) -> None:
    """`demine stats --json` as a user runs it: the second time (the memo kept), with one area,
    neither typer, pydantic nor pyproj are loaded (nor numpy and shapely on GeoPackage)."""
    code = (
        "import sys; from demine.cli.app import main; sys.argv[0] = 'demine'; main(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-c", code, "--db", store.location, "stats", "--json"]
    first = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    again = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    assert _same(first.stdout, again.stdout)
    assert json.loads(again.stdout)["hazards"]["open"] > 0
    loaded = again.stderr.strip().splitlines()[-1]
    if store.location.endswith(".gpkg"):
        assert loaded == "[]"
    else:  # the PostGIS backend decodes geometries with shapely (loaded with it)
        assert loaded == "['numpy', 'shapely']"


def test_points_placed_again_when_moved(store: Any, year: stats_data.Year) -> None:
    """The places of points come from the memo only while no point moved: one moved outside
    demine (plain SQL, as QGIS edits: no new revision) is counted in its new area."""
    before = compute(store, by="oblasts", role="admin")["accidents"]["by_area"]
    assert compute(store, by="oblasts", role="admin")["accidents"]["by_area"] == before
    by_x = {round(r.geometry.x, 2): r.id for r in store.list("accidents")}
    west, east = by_x[35.95], by_x[36.05]  # stats_data: one accident in each
    store.conn.execute(
        f"UPDATE accidents SET geom = (SELECT geom FROM accidents WHERE id = '{east}') "
        f"WHERE id = '{west}'"
    )
    after = compute(store, by="oblasts", role="admin")["accidents"]["by_area"]
    assert after.get("west", 0) == before["west"] - 1 and after["east"] == before["east"] + 1
    areas = load_areas(store, "oblasts")
    assert areas.of_point(shapely.Point(35.95, 48.0)) == "west"
