"""``demine import``'s quick path (demine.cli.quick_import): what the full command prints and
stores, with its exit code, for every form it reads (a clean file, faults, a missing file,
the table, the global options); the full command for every other form, nothing done first;
no typer app and no pydantic loaded on its way. Both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from demine.cli.app import app
from demine.cli.quick_import import answer_import

SRC = Path(__file__).resolve().parents[1] / "src"


def _hazards(path: Path, n: int = 12, *, bad: int | None = None) -> Path:
    feats = []
    for i in range(n):
        x, y = 30.0 + i * 0.01, 48.0
        ring = [[x, y], [x + 0.004, y], [x + 0.004, y + 0.003], [x, y + 0.003], [x, y]]
        if i == bad:
            ring = ring[:-1]  # not closed: a fault (repairable)
        props = {"hazard_type": "SHA", "status": "open", "name": f"SYNTHETIC {i}", "x": None}
        feats.append(
            {
                "type": "Feature",
                "id": f"{path.stem}-{i}",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _stored(store: Any) -> list[Any]:
    return sorted(
        (r.source_id, r.properties, r.geometry.wkb, r.revision, r.updated_by)
        for r in store.list("hazards", limit=1000)
    )


@pytest.mark.parametrize(
    ("form", "stored"),
    [
        (["import", "{f}", "--kind", "hazards", "--json"], 12),
        (["--db", "{db}", "import", "--json", "{f}", "-k", "hazards"], 12),  # the global --db
        (["import", "{f}", "--kind=hazards", "--json", "--reason", "survey", "--strict"], 12),
        (["import", "{bad}", "--kind", "hazards", "--json"], 0),  # a fault: exit 1
        (["import", "{bad}", "--kind", "hazards", "--json", "--repair"], 12),
        (["import", "{bad}", "{f}", "--kind", "hazards", "--json", "--skip-invalid"], 23),
        (["import", "{f}", "{f}", "--kind", "hazards", "--json", "--skip-duplicates"], 12),
        (["import", "{missing}", "--kind", "hazards", "--json"], 0),  # no such file
        (["import", "{f}", "--kind", "hazards"], 12),  # the table
        (["import", "{f}", "--kind", "nonsense", "--json"], 0),  # an unknown kind
        (["--role", "public", "import", "{f}", "--kind", "hazards", "--json"], 0),  # may not
    ],
)
def test_the_quick_path_does_what_the_full_command_does(
    two: tuple[Any, Any], tmp_path: Path, capsys: Any, form: list[str], stored: int
) -> None:
    quick_store, full_store = two
    good, bad = _hazards(tmp_path / "good.geojson"), _hazards(tmp_path / "bad.geojson", bad=4)
    names = {"f": good, "bad": bad, "missing": tmp_path / "missing.geojson"}

    def argv(db: str) -> list[str]:
        out = [a.format(db=db, **names) for a in form]
        return out if "--db" in out else ["--db", db, *out]

    capsys.readouterr()
    code = answer_import(argv(quick_store.location))
    quick = capsys.readouterr()
    full = CliRunner().invoke(app, argv(full_store.location))
    assert code == full.exit_code, (quick, full.output)
    assert (code == 0) == (stored > 0)
    if "--json" in form:
        assert json.loads(quick.out) == json.loads(full.stdout)
    else:  # the table: the same words (the terminals' widths may differ)
        assert quick.out.split() == full.stdout.split()
    assert len(_stored(quick_store)) == stored
    assert _stored(quick_store) == _stored(full_store)


@pytest.mark.parametrize(
    "form",
    [
        ["import", "{f}", "--kind", "hazards", "--help"],
        ["import", "{f}"],  # no kind: the full command's usage error
        ["import", "--kind", "hazards", "--json"],  # no file
        ["import", "{f}", "--kind", "hazards", "--map", "a=b"],  # the mapping options
        ["import", "{f}", "--kind", "hazards", "--duplicate-tolerance", "2"],
        ["import", "{f}", "--kind", "hazards", "--kind", "hazards"],  # twice
        ["import", "{f}", "-k", "hazards", "--kind", "hazards"],
        ["import", "{f}", "-k=hazards"],
        ["import", "{f}", "-khazards"],
        ["import", "{f}", "--kind", "hazards", "--reason"],  # no value
        ["import", "{f}", "--kind", "--json"],
        ["import", "-", "--kind", "hazards"],
        ["import", "{f}", "--kind", "hazards", "--", "x"],
        ["--role", "nobody", "import", "{f}", "--kind", "hazards"],
        ["--unknown", "import", "{f}", "--kind", "hazards"],
        ["validate", "{f}", "--kind", "hazards"],  # another command
        ["list", "hazards", "--json"],
    ],
)
def test_what_the_quick_path_leaves_to_the_full_command(
    store: Any, tmp_path: Path, capsys: Any, form: list[str]
) -> None:
    good = _hazards(tmp_path / "good.geojson")
    capsys.readouterr()
    assert answer_import(["--db", store.location, *(a.format(f=good) for a in form)]) is None
    assert capsys.readouterr() == ("", "")
    assert store.count("hazards") == 0


def test_no_typer_app_nor_pydantic_on_the_quick_path(store: Any, tmp_path: Path) -> None:
    """`demine import` as a user runs it: the file stored, and neither the typer app (its
    commands) nor pydantic loaded."""
    good = _hazards(tmp_path / "good.geojson")
    code = (
        "import sys; from demine.cli.app import main; sys.argv[0] = 'demine'; main(); "
        "print(sorted(m for m in ('pydantic', 'typer._adapters', 'demine.cli.commands') "
        "if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-c", code, "--db", store.location, "import", str(good)]
    done = subprocess.run(
        [*argv, "--kind", "hazards", "--json"], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout)["created"] == 12
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert store.count("hazards") == 12
