"""Validation patterns match the whole text: a trailing newline (which ``$`` lets through) is
refused everywhere — layer names, ids, the API's parameters."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import demine
from demine.api.app import create_app
from demine.cli.app import app as cli
from demine.ids import is_uuid, uuid7
from demine.model.kinds import check_layer_name

ROADS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "M03"},
            "geometry": {"type": "LineString", "coordinates": [[30.5, 50.4], [30.6, 50.5]]},
        }
    ],
}


def test_no_dollar_anchored_pattern_in_the_code() -> None:
    """Every compiled pattern at module level of demine: none ends in a bare ``$`` (use
    ``fullmatch`` or ``\\Z``); a new one is caught here."""
    bad = []
    for m in pkgutil.walk_packages(demine.__path__, "demine."):
        if m.name.startswith("demine.web"):
            continue
        mod = importlib.import_module(m.name)
        for name, v in vars(mod).items():
            if not isinstance(v, re.Pattern):
                continue
            pattern = v.pattern.decode("latin-1") if isinstance(v.pattern, bytes) else v.pattern
            if re.search(r"(?<!\\)\$$", pattern):
                bad.append(f"{m.name}.{name}: {pattern}")
    assert not bad, bad
    src = Path(demine.__file__).parent
    for f in src.rglob("*.py"):
        text = f.read_text()
        assert not re.search(r"""re\.(match|search)\(\s*r?["'][^"']*\$["']""", text), f


def test_layer_name_with_a_trailing_newline(tmp_path: Path) -> None:
    for bad in ("roads\n", "roads\r\n", "\nroads", "ro ads", "Roads", "demine_x", ""):
        with pytest.raises(ValueError, match="layer name"):
            check_layer_name(bad)
    assert check_layer_name("roads") == "roads"
    db = str(tmp_path / "s.gpkg")
    run = CliRunner().invoke
    assert run(cli, ["--db", db, "init"]).exit_code == 0
    f = tmp_path / "roads.geojson"
    f.write_text(json.dumps(ROADS))
    r = run(cli, ["--db", db, "import", str(f), "--kind", "layer:roads\n", "--json"])
    assert r.exit_code != 0 and "layer name" in r.output, r.output
    r = run(cli, ["--db", db, "list", "layers", "--json"])
    assert "roads" not in r.output
    r = run(cli, ["--db", db, "import", str(f), "--kind", "layer:roads"])
    assert r.exit_code == 0, r.output


def test_ids_with_a_trailing_newline(tmp_path: Path) -> None:
    rid = uuid7()
    assert is_uuid(rid) and is_uuid("{" + rid + "}") and is_uuid("urn:uuid:" + rid)
    for bad in (rid + "\n", rid + "\r\n", "\n" + rid, rid + " "):
        assert not is_uuid(bad)


def test_api_parameters_with_a_trailing_newline(store: Any) -> None:
    from demine.services.access import new_token

    store.add_user("ana", "analyst")
    token, digest = new_token()
    store.add_token("ana", digest)
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(store.location)) as client:
        assert (
            client.get("/api/v1/stats/chart/released.svg", params={"lang": "uk"}).status_code == 200
        )
        r = client.get("/api/v1/stats/chart/released.svg", params={"lang": "uk\n"})
        assert r.status_code == 400, r.text
        rid = uuid7()
        feature: dict[str, Any] = {
            "type": "Feature",
            "id": rid + "\n",
            "geometry": {"type": "Point", "coordinates": [30.5, 50.4]},
            "properties": {"reported_at": "2025-02-01T10:00:00Z", "status": "new"},
        }
        r = client.post("/ogc/collections/eo_reports/items", json=feature, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id", r.text
        assert store.count("eo_reports") == 0
        # a LIKE wildcard spans a line break; the whole text must match
        feature["id"] = rid
        feature["properties"]["description"] = "first line\nsecond line mine"
        assert (
            client.post("/ogc/collections/eo_reports/items", json=feature, headers=h).status_code
            == 201
        )

        def n(flt: str) -> int:
            r = client.get("/ogc/collections/eo_reports/items", params={"filter": flt}, headers=h)
            assert r.status_code == 200, r.text
            return len(r.json()["features"])

        assert n("description LIKE '%mine'") == 1
        assert n("description LIKE 'first%'") == 1
        assert n("description LIKE 'first line'") == 0
