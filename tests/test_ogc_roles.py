"""Every collection x every role: restricted fields appear exactly where the role may read them
(items, single items, write responses, queryables), and hidden collections are 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from demine.api.app import create_app
from demine.demo import build_demo_store
from demine.model.kinds import KINDS
from demine.services.access import (
    ROLES,
    can_read_field,
    can_read_kind,
    can_write_kind,
    new_token,
    submits,
    visible_record,
)
from demine.store.gpkg import GeoPackageStore


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    db = tmp_path_factory.mktemp("ogc_roles") / "demo.gpkg"
    build_demo_store(db)
    s = GeoPackageStore(db)
    headers: dict[str, Any] = {"public": {}}
    for role in ROLES[1:]:
        s.add_user(f"u_{role}", role)
        token, h = new_token()
        s.add_token(f"u_{role}", h)
        headers[role] = {"Authorization": f"Bearer {token}"}
    s.close()
    with TestClient(create_app(str(db), max_limit=1000)) as client:
        yield client, {"headers": headers, "db": db}


def _restricted(kind_name: str) -> list[str]:
    return [f.name for f in KINDS[kind_name].fields if f.access.value != "public"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind_name", sorted(KINDS))
def test_fields_by_role(env: tuple[TestClient, dict[str, Any]], role: str, kind_name: str) -> None:
    client, ctx = env
    h = ctx["headers"][role]
    kind = KINDS[kind_name]
    base = f"/ogc/collections/{kind_name}"
    listed = {c["id"] for c in client.get("/ogc/collections", headers=h).json()["collections"]}
    if not can_read_kind(kind, role):
        assert kind_name not in listed
        for url in (base, base + "/items", base + "/queryables"):
            assert client.get(url, headers=h).status_code == 404
        return
    assert kind_name in listed
    allowed = {f.name for f in kind.fields if can_read_field(f.access, role)}
    forbidden = {f.name for f in kind.fields} - allowed
    q = client.get(base + "/queryables", headers=h).json()
    assert set(q["properties"]) - {"geometry"} == allowed
    feats = client.get(base + "/items", params={"limit": 1000}, headers=h).json()["features"]
    s = GeoPackageStore(ctx["db"])
    try:
        visible = [r for r in s.list(kind_name) if visible_record(kind, r, role)]
    finally:
        s.close()
    assert len(feats) == len(visible)
    seen: set[str] = set()
    for f in feats:
        keys = set(f["properties"])
        assert not keys & forbidden, (role, kind_name, keys & forbidden)
        seen |= keys
    stored = {k for r in visible for k in r.properties}
    assert seen & set(kind.field_names) == stored & allowed  # everything readable is shown
    if feats:
        one = client.get(f"{base}/items/{feats[0]['id']}", headers=h)
        assert one.status_code == 200
        assert not set(one.json()["properties"]) & forbidden
    # filtering on a field the role may not read is a 400
    for name in forbidden:
        r = client.get(base + "/items", params={"filter": f"{name} IS NULL"}, headers=h)
        assert r.status_code == 400 and r.json()["parameter"] == "filter"


def test_public_sees_only_public_eo_reports(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    s = GeoPackageStore(ctx["db"])
    try:
        hidden = [r.id for r in s.list("eo_reports") if not r.properties.get("public")]
    finally:
        s.close()
    assert hidden
    assert client.get(f"/ogc/collections/eo_reports/items/{hidden[0]}").status_code == 404
    r = client.get(
        f"/ogc/collections/eo_reports/items/{hidden[0]}", headers=ctx["headers"]["field"]
    )
    assert r.status_code == 200 and "reporter_contact" in r.json()["properties"]


@pytest.mark.parametrize("role", ROLES)
def test_write_rights_and_write_responses(
    env: tuple[TestClient, dict[str, Any]], role: str
) -> None:
    client, ctx = env
    h = ctx["headers"][role]
    kind = KINDS["eo_reports"]
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [30.5, 50.45]},
        "properties": {
            "reported_at": "2025-02-01T10:00:00Z",
            "status": "new",
            "description": f"by {role}",
            "public": True,
        },
    }
    if can_read_field(kind.field("reporter_contact").access, role):
        feature["properties"]["reporter_contact"] = "+380111111111"
    r = client.post("/ogc/collections/eo_reports/items", json=feature, headers=h)
    if role == "public":
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        return
    if not can_write_kind(kind, role):  # victim_assistance records victims only
        assert r.status_code == 403, r.text
        return
    if submits(role):  # a field team's or operator's write is a submission (docs/intake.md)
        assert r.status_code == 202, r.text
        assert "reporter_contact" not in r.text and "properties" not in r.json()
        return
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    for name in _restricted("eo_reports"):
        assert (name in props) == (
            can_read_field(kind.field(name).access, role) and name in feature["properties"]
        )
    # the public reads it back without the restricted fields
    pub = client.get(r.headers["Location"].replace("http://testserver", ""))
    assert pub.status_code == 200
    assert not set(pub.json()["properties"]) & set(_restricted("eo_reports"))
    # PATCH as this role: the write response keeps to the role's fields too
    p = client.patch(
        r.headers["Location"].replace("http://testserver", ""),
        json={"properties": {"status": "verified"}},
        headers={**h, "If-Match": r.headers["ETag"]},
    )
    assert p.status_code == 200 and p.json()["properties"]["status"] == "verified"
    assert p.json()["properties"].get("reporter_contact") == feature["properties"].get(
        "reporter_contact"
    )
    # hazards: only analysts and admins write; a lower role gets 403
    hz = client.post(
        "/ogc/collections/hazards/items",
        json={
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[30, 50], [30.01, 50], [30.01, 50.01], [30, 50]]],
            },
            "properties": {"hazard_type": "SHA", "status": "open"},
        },
        headers=h,
    )
    assert hz.status_code == (201 if can_write_kind(KINDS["hazards"], role) else 403), hz.text


def test_emplacement_restricted_fields_in_write_response_for_analyst(
    env: tuple[TestClient, dict[str, Any]],
) -> None:
    client, ctx = env
    h = ctx["headers"]["analyst"]
    feats = client.get(
        "/ogc/collections/emplacements/items", params={"limit": 1}, headers=h
    ).json()["features"]
    url = f"/ogc/collections/emplacements/items/{feats[0]['id']}"
    r = client.patch(url, json={"properties": {"fuse_type": "pressure"}}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["fuse_type"] == "pressure"
    assert "quantity" in r.json()["properties"]
    # the field role cannot even see the collection (404, not 403)
    field = ctx["headers"]["field"]
    assert client.get("/ogc/collections/emplacements", headers=field).status_code == 404
    assert client.patch(url, json={"properties": {}}, headers=field).status_code == 404
