"""The OGC API over the demo store, in process: parameters, paging, CRS, CQL2, writes, ETags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from demine.api.app import create_app
from demine.demo import build_demo_store
from demine.services.access import new_token
from demine.store.gpkg import GeoPackageStore

UTM37 = "http://www.opengis.net/def/crs/EPSG/0/32637"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    db = tmp_path_factory.mktemp("ogc_api") / "demo.gpkg"
    build_demo_store(db)
    s = GeoPackageStore(db)
    s.add_user("ana", "analyst")
    token, h = new_token()
    s.add_token("ana", h)
    s.close()
    with TestClient(create_app(str(db), max_limit=50)) as client:
        yield client, {"db": db, "auth": {"Authorization": f"Bearer {token}"}}


def _store(ctx: dict[str, Any]) -> GeoPackageStore:
    return GeoPackageStore(ctx["db"])


def test_landing_conformance_and_api(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, _ = env
    rels = {x["rel"]: x for x in client.get("/ogc/").json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    api = client.get("/ogc/api")
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert api.json()["openapi"] == "3.0.3"
    assert client.get("/ogc/api?f=html").headers["content-type"].startswith("text/html")
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf
    html = client.get("/ogc/collections", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html") and "hazards" in html.text
    coll = client.get("/ogc/collections/hazards").json()
    assert coll["storageCrs"] == CRS84 and UTM37 in coll["crs"]


def test_unknown_parameter_bad_bbox_and_limit_cap(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, _ = env
    r = client.get("/ogc/collections/hazards/items", params={"colour": "red"})
    assert r.status_code == 400 and r.json()["parameter"] == "colour"
    assert r.headers["content-type"].startswith("application/problem+json")
    for bad in ("1,2,3", "a,b,c,d", "10,10,0,0", "0,0,1,nan"):
        r = client.get("/ogc/collections/hazards/items", params={"bbox": bad})
        assert r.status_code == 400 and r.json()["parameter"] == "bbox", bad
    r = client.get("/ogc/collections/finds/items", params={"limit": 100000})  # public: 404
    assert r.status_code == 404
    r = client.get("/ogc/collections/hazards/items", params={"limit": 100000})
    assert r.status_code == 200 and r.json()["numberReturned"] == 50  # capped at max_limit
    assert client.get("/ogc/collections/hazards/items", params={"limit": 0}).status_code == 400
    assert client.get("/ogc/collections/nope/items").status_code == 404


def test_paging_and_number_matched(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    s = _store(ctx)
    total = s.count("hazards")
    s.close()
    first = client.get("/ogc/collections/hazards/items", params={"limit": 25}).json()
    assert "numberMatched" not in first  # not counted unless cheap or asked
    nxt = [x["href"] for x in first["links"] if x["rel"] == "next"]
    assert nxt and "offset=25" in nxt[0]
    second = client.get(nxt[0].replace("http://testserver", "")).json()
    assert any(x["rel"] == "prev" for x in second["links"])
    counted = client.get("/ogc/collections/hazards/items", params={"limit": 5, "count": "true"})
    assert counted.json()["numberMatched"] == total
    whole = client.get("/ogc/collections/device_types/items").json()
    assert whole["numberMatched"] == whole["numberReturned"] == 9  # "unknown" too (issue 12)


def test_bbox_and_bbox_crs(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    box = (37.0, 47.5, 38.5, 48.5)
    s = _store(ctx)
    want = {r.id for r in s.list("hazards") if shapely.intersects(r.geometry, shapely.box(*box))}
    s.close()
    got = client.get(
        "/ogc/collections/hazards/items",
        params={"bbox": ",".join(map(str, box)), "limit": 50, "count": "true"},
    ).json()
    assert {f["id"] for f in got["features"]} == want and got["numberMatched"] == len(want)
    latlon = client.get(
        "/ogc/collections/hazards/items",
        params={"bbox": "47.5,37.0,48.5,38.5", "bbox-crs": EPSG4326, "limit": 50},
    ).json()
    assert {f["id"] for f in latlon["features"]} == want


def test_crs_reprojection(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, _ = env
    base = client.get("/ogc/collections/eo_reports/items", params={"limit": 1}).json()
    fid = base["features"][0]["id"]
    lon, lat = base["features"][0]["geometry"]["coordinates"]
    utm = client.get(f"/ogc/collections/eo_reports/items/{fid}", params={"crs": UTM37})
    assert utm.headers["Content-Crs"] == f"<{UTM37}>"
    e, n = utm.json()["geometry"]["coordinates"]
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True).transform(lon, lat)
    assert (e, n) == pytest.approx((x, y), abs=1e-6)
    ll = client.get(f"/ogc/collections/eo_reports/items/{fid}", params={"crs": EPSG4326})
    assert ll.json()["geometry"]["coordinates"] == pytest.approx([lat, lon])
    items = client.get("/ogc/collections/eo_reports/items", params={"crs": EPSG4326})
    assert items.headers["Content-Crs"] == f"<{EPSG4326}>"
    bad = client.get("/ogc/collections/eo_reports/items", params={"crs": "EPSG:3857"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "crs"


def test_datetime(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    s = _store(ctx)
    dates = sorted(r.properties["reported_on"] for r in s.list("hazards"))
    s.close()
    mid = dates[len(dates) // 2]
    r = client.get(
        "/ogc/collections/hazards/items", params={"datetime": f"../{mid}", "limit": 50}
    ).json()
    assert r["numberReturned"] == sum(1 for d in dates if d <= mid)
    one = client.get("/ogc/collections/hazards/items", params={"datetime": mid}).json()
    assert one["numberReturned"] == dates.count(mid)
    assert (
        client.get("/ogc/collections/device_types/items", params={"datetime": mid}).status_code
        == 400
    )
    assert (
        client.get("/ogc/collections/hazards/items", params={"datetime": "yesterday"}).json()[
            "parameter"
        ]
        == "datetime"
    )


def test_cql2_text_and_json(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    s = _store(ctx)
    recs = list(s.list("hazards"))
    s.close()
    url = "/ogc/collections/hazards/items"

    def ids(params: dict[str, str]) -> set[str]:
        out: set[str] = set()
        r = client.get(url, params={**params, "limit": 50})
        while True:
            assert r.status_code == 200, r.text
            out |= {f["id"] for f in r.json()["features"]}
            nxt = [x["href"] for x in r.json()["links"] if x["rel"] == "next"]
            if not nxt:
                return out
            r = client.get(nxt[0].replace("http://testserver", ""))

    open_ = {r.id for r in recs if r.properties["status"] == "open"}
    assert ids({"filter": "status = 'open'"}) == open_
    assert (
        ids(
            {
                "filter": '{"op": "=", "args": [{"property": "status"}, "open"]}',
                "filter-lang": "cql2-json",
            }
        )
        == open_
    )
    cha_or_closed = {
        r.id
        for r in recs
        if r.properties["hazard_type"] == "CHA" or r.properties["status"] != "open"
    }
    assert ids({"filter": "hazard_type = 'CHA' OR NOT status = 'open'"}) == cha_or_closed
    assert ids({"filter": "status IN ('closed', 'handed_over')"}) == {
        r.id for r in recs if r.properties["status"] in ("closed", "handed_over")
    }
    assert ids({"filter": "name LIKE 'SYNTHETIC hazard 00%'"}) == {
        r.id for r in recs if r.properties["name"].startswith("SYNTHETIC hazard 00")
    }
    assert ids({"filter": "area_m2 BETWEEN 10000 AND 50000"}) == {
        r.id for r in recs if 10000 <= r.properties["area_m2"] <= 50000
    }
    assert ids({"filter": "closed_on IS NULL"}) == {
        r.id for r in recs if "closed_on" not in r.properties
    }
    box = shapely.box(37.0, 47.5, 38.5, 48.5)
    inside = {r.id for r in recs if shapely.intersects(r.geometry, box)}
    poly = "POLYGON((37 47.5, 38.5 47.5, 38.5 48.5, 37 48.5, 37 47.5))"
    assert ids({"filter": f"S_INTERSECTS(geometry, {poly})"}) == inside
    assert ids({"filter": "S_INTERSECTS(geometry, BBOX(37, 47.5, 38.5, 48.5))"}) == inside
    assert ids({"filter": f"S_DISJOINT(geometry, {poly})"}) == {r.id for r in recs} - inside
    assert ids({"filter": f"S_WITHIN(geometry, {poly})"}) == {
        r.id for r in recs if shapely.within(r.geometry, box)
    }
    assert (
        ids(
            {
                "filter": '{"op": "s_intersects", "args": [{"property": "geometry"}, '
                '{"bbox": [37, 47.5, 38.5, 48.5]}]}',
                "filter-lang": "cql2-json",
            }
        )
        == inside
    )
    # the same box in UTM 37N, with filter-crs
    t = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True)
    pt = shapely.Point(t.transform(*shapely.get_coordinates(recs[0].geometry)[0]))
    assert recs[0].id in ids(
        {"filter": f"S_INTERSECTS(geometry, {pt.buffer(5).wkt})", "filter-crs": UTM37}
    )
    after = {r.id for r in recs if r.properties["reported_on"] > "2024-06-30"}
    assert ids({"filter": "T_AFTER(reported_on, DATE('2024-06-30'))"}) == after
    assert ids({"filter": "reported_on > DATE('2024-06-30')"}) == after
    assert ids({"filter": "T_INTERSECTS(reported_on, INTERVAL('2024-07-01', '..'))"}) == after
    assert ids({"filter": "T_BEFORE(reported_on, DATE('2024-07-01'))"}) == {
        r.id for r in recs if r.properties["reported_on"] < "2024-07-01"
    }
    for bad in ("status = ", "nosuch = 1", "S_INTERSECTS(geometry, POLYGON((0 0)))x"):
        r = client.get(url, params={"filter": bad})
        assert r.status_code == 400 and r.json()["parameter"] == "filter", bad


def _hazard(**props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[36.1, 49.9], [36.11, 49.9], [36.11, 49.91], [36.1, 49.91], [36.1, 49.9]]
            ],
        },
        "properties": {"hazard_type": "SHA", "status": "open", **props},
    }


def test_create_is_idempotent_and_validated(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    h = ctx["auth"]
    url = "/ogc/collections/hazards/items"
    assert client.post(url, json=_hazard()).status_code == 401
    rid = "0190f0c4-8a4b-7c3d-9e2f-00000000abcd"
    body = {**_hazard(name="idempotent"), "id": rid}
    first = client.post(url, json=body, headers=h)
    assert first.status_code == 201, first.text
    assert first.headers["ETag"] == f'"{rid}-1-analyst"'
    assert first.headers["Location"].endswith(f"/items/{rid}")
    assert first.json()["properties"]["area_m2"] > 0  # derived, as an import does
    again = client.post(url, json=body, headers=h)
    assert again.status_code == 200 and again.json()["id"] == rid
    other = client.post(
        url, json={**body, "properties": {**body["properties"], "name": "x"}}, headers=h
    )
    assert other.status_code == 409
    s = _store(ctx)
    assert len(s.history(rid)) == 1
    s.close()
    bad = client.post(url, json=_hazard(status="maybe", hazard_type=None), headers=h)
    assert bad.status_code == 422
    faults = {e["field"] for e in bad.json()["errors"]}
    assert {"status", "hazard_type"} <= faults
    assert all(e["index"] is None for e in bad.json()["errors"])
    point = {**_hazard(), "geometry": {"type": "Point", "coordinates": [36.1, 49.9]}}
    r = client.post(url, json=point, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("geometry")
    bowtie = _hazard()
    bowtie["geometry"]["coordinates"] = [
        [[36.1, 49.9], [36.11, 49.91], [36.11, 49.9], [36.1, 49.91], [36.1, 49.9]]
    ]
    assert client.post(url, json=bowtie, headers=h).status_code == 422
    assert (
        client.post(
            url, content=b"not json", headers={**h, "Content-Type": "application/geo+json"}
        ).status_code
        == 400
    )
    # a geometry sent in UTM 37N (Content-Crs) is stored in CRS84
    t = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True)
    ring = [list(t.transform(x, y)) for x, y in _hazard()["geometry"]["coordinates"][0]]
    utm = {**_hazard(name="utm"), "geometry": {"type": "Polygon", "coordinates": [ring]}}
    r = client.post(url, json=utm, headers={**h, "Content-Crs": f"<{UTM37}>"})
    assert r.status_code == 201, r.text
    x0, y0 = r.json()["geometry"]["coordinates"][0][0][0]
    assert (x0, y0) == pytest.approx((36.1, 49.9), abs=1e-9)


def test_put_patch_delete_with_etags(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, ctx = env
    h = ctx["auth"]
    made = client.post("/ogc/collections/hazards/items", json=_hazard(name="v1"), headers=h)
    url = made.headers["Location"].replace("http://testserver", "")
    tag1 = made.headers["ETag"]
    # PUT replaces: notes gone, name changed
    r = client.put(url, json=_hazard(name="v2"), headers={**h, "If-Match": tag1})
    assert r.status_code == 200 and r.json()["properties"]["name"] == "v2"
    tag2 = r.headers["ETag"]
    assert tag2 != tag1
    # the same stale ETag again: 412, nothing changed
    stale = client.put(url, json=_hazard(name="v3"), headers={**h, "If-Match": tag1})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert client.get(url).json()["properties"]["name"] == "v2"
    # PATCH: merge-patch; null removes a property
    p = client.patch(
        url,
        content=b'{"properties": {"notes": "checked", "name": null}}',
        headers={**h, "If-Match": tag2, "Content-Type": "application/merge-patch+json"},
    )
    assert p.status_code == 200, p.text
    assert p.json()["properties"]["notes"] == "checked" and "name" not in p.json()["properties"]
    assert (
        client.patch(
            url, json={"properties": {"notes": "x"}}, headers={**h, "If-Match": tag2}
        ).status_code
        == 412
    )
    # PATCH without If-Match is allowed (the revision read by the same request)
    assert client.patch(url, json={"properties": {"notes": "y"}}, headers=h).status_code == 200
    bad = client.patch(url, json={"properties": {"status": "closed"}}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "closed_on"
    # DELETE: 412 with a stale tag, 204 with the current one; the history is kept
    assert client.delete(url, headers={**h, "If-Match": tag1}).status_code == 412
    cur = client.get(url).headers["ETag"]
    assert client.delete(url, headers={**h, "If-Match": cur}).status_code == 204
    assert client.get(url).status_code == 404
    rid = url.rsplit("/", 1)[1]
    s = _store(ctx)
    assert [x.op for x in s.history(rid)][-1] == "delete"
    s.close()
