"""``demine forms xlsform KIND`` (issue 14): every kind's XLSForm converts with pyxform to an
XForm without warnings, with a question for each field of the spec, the geometry as
geopoint/geoshape, required and constraints from the spec, labels in English and Ukrainian."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert
from typer.testing import CliRunner

from demine.cli.app import app as cli_app
from demine.services import forms

EN, UK = "label::English (en)", "label::Українська (uk)"


def _run(store: Any, *args: str, role: str = "admin") -> Any:
    return CliRunner().invoke(cli_app, ["--role", role, "--db", store.location, *args])


def _sheet(path: Path, name: str) -> list[dict[str, Any]]:
    ws = load_workbook(path)[name]
    rows = list(ws.iter_rows(values_only=True))
    head = [str(c) for c in rows[0]]
    return [dict(zip(head, r, strict=True)) for r in rows[1:]]


@pytest.mark.parametrize("kind", forms.FORM_KINDS)
def test_every_xlsform_converts_with_pyxform(store: Any, tmp_path: Path, kind: str) -> None:
    role = "victim_assistance" if kind == "victims" else "admin"
    out = tmp_path / f"{kind}.xlsx"
    r = _run(store, "forms", "xlsform", kind, "-o", str(out), "--json", role=role)
    assert r.exit_code == 0, r.output
    assert orjson.loads(r.stdout)["file"] == str(out)
    spec = forms.form_spec(store, kind, role)
    warnings: list[str] = []
    res = convert(xlsform=str(out), warnings=warnings)
    assert warnings == [] and res.warnings == [], warnings
    xform = res.xform
    for f in spec["fields"]:
        assert f"<{f['name']}/>" in xform, f["name"]  # a node in the instance
    survey = {row["name"]: row for row in _sheet(out, "survey")}
    gtype = {"Polygon": "geoshape", "Point": "geopoint", None: None}[spec["geometry"]]
    if gtype is None:
        assert "geometry" not in survey
    else:
        assert survey["geometry"]["type"] == gtype
        assert f'type="{gtype}"' in xform
        assert (survey["geometry"]["required"] == "yes") is spec["geometry_required"]
    for f in spec["fields"]:
        row = survey[f["name"]]
        assert (row["required"] == "yes") is f["required"], f["name"]
        assert row[EN] == f["label"]["en"] and row[UK] == f["label"]["uk"]
        if f["type"] == "choice":
            assert row["type"].startswith("select_multiple" if f["multiple"] else "select_one")
        if f["min"] is not None:
            assert f". >= {f['min']:g}" in row["constraint"]
        if f["max"] is not None:
            assert f". <= {f['max']:g}" in row["constraint"]
        if f["type"] == "reference":
            assert "regex(" in row["constraint"]
    settings = _sheet(out, "settings")[0]
    assert settings["form_id"] == f"demine_{kind}" and settings["version"] == spec["version"]


def test_choices_languages_and_refusals(store: Any, tmp_path: Path) -> None:
    out = tmp_path / "h.xlsx"
    r = _run(store, "forms", "xlsform", "hazards", "-o", str(out), "--lang", "uk", role="operator")
    assert r.exit_code == 0, r.output
    survey = _sheet(out, "survey")
    assert all(EN not in row for row in survey) and all(row[UK] for row in survey)
    choices = [c for c in _sheet(out, "choices") if c["list_name"] == "hazard_type_list"]
    assert [(c["name"], c[UK]) for c in choices] == [
        ("SHA", "Підозріла небезпечна територія (ПНТ)"),
        ("CHA", "Підтверджена небезпечна територія (ПдНТ)"),
    ]
    assert "handed_over_to" not in {row["name"] for row in survey}  # not an operator's field
    res = convert(xlsform=str(out))
    assert res.warnings == [] and 'lang="Українська (uk)"' in res.xform
    # the constraint messages are the server's words
    en = tmp_path / "e.xlsx"
    assert _run(store, "forms", "xlsform", "eore_sessions", "-o", str(en)).exit_code == 0
    girls = next(r for r in _sheet(en, "survey") if r["name"] == "girls")
    assert girls["constraint_message::English (en)"] == "The value is below the minimum 0"
    refused = _run(store, "forms", "xlsform", "emplacements", "-o", str(en), role="field")
    assert refused.exit_code == 5 and "field role" in refused.output
    bad = _run(store, "forms", "xlsform", "finds", "-o", str(en), "--lang", "fr")
    assert bad.exit_code == 1 and "unknown language 'fr'" in bad.output
    assert _run(store, "forms", "xlsform", "nope", "-o", str(en)).exit_code == 3


def test_forms_list_and_show(store: Any) -> None:
    r = _run(store, "forms", "list", "--json", role="field")
    assert r.exit_code == 0, r.output
    assert [f["kind"] for f in orjson.loads(r.stdout)["forms"]] == forms.writable_kinds("field")
    r = _run(store, "forms", "show", "finds", "--for", "field")
    assert r.exit_code == 0, r.output
    assert orjson.loads(r.stdout) == forms.form_spec(store, "finds", "field")
