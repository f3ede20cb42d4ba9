"""OGC API writes refuse an empty or missing geometry as an import does (422, field
``geometry``): POST never creates a hazard without one, PUT and PATCH never silently keep the
old one. On both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app as cli
from demine.services.access import new_token

RING = [[30.5, 50.4], [30.51, 50.4], [30.51, 50.41], [30.5, 50.4]]
EMPTY = [
    {"type": "Polygon", "coordinates": [[]]},
    {"type": "Polygon", "coordinates": []},
    {"type": "MultiPolygon", "coordinates": [[[]]]},
    {"type": "MultiPolygon", "coordinates": []},
    {"type": "MultiPolygon", "coordinates": [[[]], [[]]]},
    {"type": "Polygon", "coordinates": None},
    {"type": "Polygon"},
    None,
]


@pytest.fixture
def api(store: Any) -> Iterator[tuple[TestClient, dict[str, str], Any]]:
    store.add_user("ana", "analyst")
    token, digest = new_token()
    store.add_token("ana", digest)
    with TestClient(create_app(store.location)) as client:
        yield client, {"Authorization": f"Bearer {token}"}, store


def _feature(geometry: Any, name: str = "H") -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"name": name, "hazard_type": "SHA", "status": "open"},
    }


def _geometry_fault(r: Any) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields and all(f.startswith("geometry") for f in fields), fields
    return " ".join(e["reason"] for e in r.json()["errors"])


@pytest.mark.parametrize("geometry", EMPTY, ids=lambda g: str(g))
def test_empty_geometry_refused_on_every_write(
    api: tuple[TestClient, dict[str, str], Any], geometry: Any
) -> None:
    client, h, store = api
    url = "/ogc/collections/hazards/items"
    _geometry_fault(client.post(url, json=_feature(geometry), headers=h))
    assert store.count("hazards") == 0  # nothing half-stored
    ok = client.post(url, json=_feature({"type": "Polygon", "coordinates": [RING]}), headers=h)
    assert ok.status_code == 201, ok.text
    item = ok.headers["Location"].replace("http://testserver", "")
    before = store.get("hazards", ok.json()["id"])
    _geometry_fault(client.put(item, json=_feature(geometry, "replaced"), headers=h))
    patch = client.patch(item, json={"geometry": geometry}, headers=h)
    _geometry_fault(patch)
    after = store.get("hazards", before.id)
    assert after.revision == before.revision and after.properties["name"] == "H"
    assert after.geometry is not None and after.geometry.equals(before.geometry)


def test_message_is_the_imports(
    api: tuple[TestClient, dict[str, str], Any], tmp_path: Path
) -> None:
    client, h, store = api
    geometry = {"type": "Polygon", "coordinates": [[]]}
    ogc = _geometry_fault(
        client.post("/ogc/collections/hazards/items", json=_feature(geometry), headers=h)
    )
    f = tmp_path / "empty.geojson"
    import json

    f.write_text(json.dumps({"type": "FeatureCollection", "features": [_feature(geometry)]}))
    store.close()
    r = CliRunner().invoke(cli, ["--db", store.location, "import", str(f), "--kind", "hazards"])
    assert r.exit_code == 1
    assert ogc == "hazards need a geometry" and ogc in r.output


def test_optional_geometry_kind_refuses_an_empty_one(
    api: tuple[TestClient, dict[str, str], Any],
) -> None:
    client, h, store = api
    hz = client.post(
        "/ogc/collections/hazards/items",
        json=_feature({"type": "Polygon", "coordinates": [RING]}),
        headers=h,
    )
    act = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[]]},
        "properties": {
            "hazard_id": hz.json()["id"],
            "activity_type": "non_technical_survey",
            "status": "planned",
            "organisation": "Demining Org",
        },
    }
    r = client.post("/ogc/collections/activities/items", json=act, headers=h)
    assert "empty Polygon" in _geometry_fault(r)
    assert store.count("activities") == 0
