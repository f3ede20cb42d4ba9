"""Real clients against a real server: GDAL's OAPIF driver (pyogrio and ogrinfo), OWSLib, and
schemathesis over the OpenAPI document, each talking HTTP to uvicorn on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import shapely

from demine.demo import build_demo_store
from demine.services.access import can_read_kind, new_token, visible_record
from demine.services.register import ImportOptions, import_file
from demine.store.gpkg import GeoPackageStore

REGIONS = Path(__file__).parents[1] / "src" / "demine" / "data" / "ukraine_regions.geojson"


@dataclass
class Live:
    url: str  # http://127.0.0.1:PORT
    db: Path
    tokens: dict[str, str]  # role -> token

    @property
    def ogc(self) -> str:
        return self.url + "/ogc"

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _fill(db: Path) -> dict[str, str]:
    build_demo_store(db)
    s = GeoPackageStore(db)
    try:
        # the regions file has a "fid" property, which a layer table cannot take as a column
        opts = ImportOptions(kind="layer:regions", actor="test", mapping={"fid": "src_fid"})
        import_file(s, REGIONS, opts)
        tokens = {}
        for role in ("field", "analyst", "admin", "victim_assistance"):
            s.add_user(f"u_{role}", role)
            token, h = new_token()
            s.add_token(f"u_{role}", h)
            tokens[role] = token
    finally:
        s.close()
    return tokens


_SERVE = (
    "import sys, uvicorn\n"
    "from demine.api.app import create_app\n"
    # no rate limit: the clients and the fuzzer make thousands of requests from one address
    "uvicorn.run(create_app(sys.argv[1], max_limit=1000, rate_limit_per_minute=0),\n"
    "            host='127.0.0.1',\n"
    "            port=int(sys.argv[2]), log_level='warning')\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """uvicorn in a subprocess: GDAL (pyogrio) holds the GIL while it waits for HTTP answers,
    so a server thread in this process would never answer it."""
    db = tmp_path_factory.mktemp("ogc_live") / "demo.gpkg"
    tokens = _fill(db)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(db), str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Live(url, db, tokens)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _public_counts(db: Path) -> dict[str, int]:
    s = GeoPackageStore(db)
    try:
        out = {}
        for k in s.kinds():
            if can_read_kind(k, "public"):
                out[k.name] = sum(1 for r in s.list(k.name) if visible_record(k, r, "public"))
        return out
    finally:
        s.close()


# --- GDAL ------------------------------------------------------------------------------------


def test_gdal_oapif_reads_every_public_collection_with_the_right_count(live: Live) -> None:
    import pyogrio

    expected = _public_counts(live.db)
    assert {"hazards", "eo_reports", "device_types", "regions"} <= set(expected)
    assert "emplacements" not in expected and "finds" not in expected
    url = f"OAPIF:{live.ogc}"
    layers = {str(name) for name, _ in pyogrio.list_layers(url)}
    assert layers == set(expected)
    for name, n in expected.items():
        info = pyogrio.read_info(url, layer=name, force_feature_count=True)
        assert info["features"] == n, name
        _, _, geoms, _ = pyogrio.raw.read(url, layer=name)[:4]
        assert len(geoms) == n, name


def test_gdal_oapif_honours_a_bbox(live: Live) -> None:
    import pyogrio

    box = (37.0, 47.5, 38.5, 48.5)
    s = GeoPackageStore(live.db)
    try:
        want = {
            r.id for r in s.list("hazards") if shapely.intersects(r.geometry, shapely.box(*box))
        }
        total = s.count("hazards")
    finally:
        s.close()
    assert 0 < len(want) < total  # the box selects some, not all
    meta, fids, geoms, fields = pyogrio.raw.read(f"OAPIF:{live.ogc}", layer="hazards", bbox=box)
    assert len(geoms) == len(want)
    got = pyogrio.raw.read(f"OAPIF:{live.ogc}", layer="hazards", bbox=box, columns=["id"])
    ids = set(got[3][0]) if got[3] else set()
    if ids:  # GDAL exposes the feature "id" as a field when it is a string
        assert ids == want


def test_ogrinfo_summary(live: Live) -> None:
    assert shutil.which("ogrinfo"), "ogrinfo (Debian gdal-bin) must be on PATH"
    expected = _public_counts(live.db)
    out = subprocess.run(
        ["ogrinfo", "-so", f"OAPIF:{live.ogc}", "eo_reports"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert f"Feature Count: {expected['eo_reports']}" in out
    box = subprocess.run(
        ["ogrinfo", "-so", "-spat", "22", "44", "40.5", "52.5", f"OAPIF:{live.ogc}", "hazards"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert f"Feature Count: {expected['hazards']}" in box


# --- OWSLib ----------------------------------------------------------------------------------


def _owslib(live: Live, monkeypatch: pytest.MonkeyPatch, role: str | None) -> Any:
    import owslib.ogcapi
    from owslib.ogcapi.features import Features

    # OWSLib keeps one module-level headers dict and adds each client's headers into it: give
    # every client its own, so a token never leaks into the next client
    monkeypatch.setattr(owslib.ogcapi, "REQUEST_HEADERS", dict(owslib.ogcapi.REQUEST_HEADERS))
    return Features(live.ogc, headers=live.auth(role) if role else None)


def test_owslib_lists_collections_and_pages_through_items(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = _owslib(live, monkeypatch, None)
    ids = {c["id"] for c in api.collections()["collections"]}
    assert ids == set(_public_counts(live.db))
    assert "hazards" in api.feature_collections()
    s = GeoPackageStore(live.db)
    try:
        total = s.count("hazards")
        stored = [r.id for r in s.list("hazards")]
    finally:
        s.close()
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 7}
    pages = 0
    while True:
        page = api.collection_items("hazards", **params)
        pages += 1
        assert page["numberReturned"] == len(page["features"]) <= 7
        seen += [f["id"] for f in page["features"]]
        nxt = [x for x in page["links"] if x["rel"] == "next"]
        if not nxt:
            break
        qs = parse_qs(urlparse(nxt[0]["href"]).query)
        params = {k: v[0] for k, v in qs.items()}
        assert pages < 100
    assert pages == -(-total // 7)
    assert seen == stored  # every feature once, in a stable order
    q = api.collection_queryables("hazards")
    assert "status" in q["properties"]


def test_owslib_creates_updates_and_deletes_with_a_token(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an analyst writes records directly (a field team's write is a submission for review:
    # tests/test_intake.py)
    api = _owslib(live, monkeypatch, "analyst")
    rid = "0190f0c4-8a4b-7c3d-9e2f-0123456789ab"
    feature = {
        "type": "Feature",
        "id": rid,
        "geometry": {"type": "Point", "coordinates": [36.25, 49.98]},
        "properties": {
            "reported_at": "2025-03-01T08:30:00Z",
            "description": "OWSLib test: a shell by the road",
            "reporter_name": "Test Person",
            "reporter_contact": "+380000000000",
            "status": "new",
            "public": False,
        },
    }
    assert api.collection_item_create("eo_reports", feature)
    assert api.response_headers["ETag"] == f'"{rid}-1-analyst"'
    assert api.collection_item_create("eo_reports", feature)  # a retry: no duplicate
    got = api.collection_item("eo_reports", rid)
    assert got["properties"]["reporter_contact"] == "+380000000000"
    changed = dict(feature, properties={**feature["properties"], "status": "verified"})
    assert api.collection_item_update("eo_reports", rid, changed)
    assert api.collection_item("eo_reports", rid)["properties"]["status"] == "verified"
    assert api.response_headers["ETag"] == f'"{rid}-2-analyst"'
    assert api.collection_item_delete("eo_reports", rid)
    with pytest.raises(RuntimeError):
        api.collection_item("eo_reports", rid)
    s = GeoPackageStore(live.db)
    try:
        hist = s.history(rid)
    finally:
        s.close()
    assert [h.op for h in hist] == ["create", "update", "delete"]  # kept, not hard-deleted


# --- concurrency -----------------------------------------------------------------------------


def _new_hazard(live: Live) -> tuple[str, str]:
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[37.5, 48.0], [37.51, 48.0], [37.51, 48.01], [37.5, 48.01], [37.5, 48.0]]
            ],
        },
        "properties": {"name": "concurrency", "hazard_type": "SHA", "status": "open"},
    }
    r = httpx.post(
        f"{live.ogc}/collections/hazards/items",
        json=feature,
        headers={**live.auth("analyst"), "Content-Type": "application/geo+json"},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], r.headers["ETag"]


def test_two_concurrent_puts_with_one_etag_one_wins_one_gets_412(live: Live) -> None:
    rid, tag = _new_hazard(live)
    url = f"{live.ogc}/collections/hazards/items/{rid}"
    base = httpx.get(url).json()
    results: dict[str, httpx.Response] = {}
    barrier = threading.Barrier(2)

    def put(name: str) -> None:
        body = dict(base, properties={**base["properties"], "notes": f"by {name}"})
        body.pop("links", None)
        barrier.wait()
        results[name] = httpx.put(
            url, json=body, headers={**live.auth("analyst"), "If-Match": tag}, timeout=30
        )

    threads = [threading.Thread(target=put, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 412], {k: (v.status_code, v.text) for k, v in results.items()}
    winner = next(k for k, v in results.items() if v.status_code == 200)
    loser = results["b" if winner == "a" else "a"]
    assert loser.headers["content-type"].startswith("application/problem+json")
    now = httpx.get(url)
    assert now.json()["properties"]["notes"] == f"by {winner}"
    assert now.headers["ETag"] == f'"{rid}-2-public"'
    # nothing lost: the history holds the create and the one update, in order
    s = GeoPackageStore(live.db)
    try:
        assert [h.op for h in s.history(rid)] == ["create", "update"]
    finally:
        s.close()
    # the loser re-reads, redoes its change with the new ETag, and succeeds
    body = dict(now.json(), properties={**now.json()["properties"], "notes": "both"})
    r = httpx.put(url, json=body, headers={**live.auth("analyst"), "If-Match": now.headers["ETag"]})
    assert r.status_code == 200 and r.headers["ETag"] == f'"{rid}-3-analyst"'


# --- schemathesis ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, "analyst"])
def test_schemathesis_finds_no_server_error_and_no_schema_break(
    live: Live, role: str | None
) -> None:
    cmd = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{live.ogc}/api",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,response_headers_conformance",
        "--max-examples",
        "15",
        "--generation-deterministic",
        "--workers",
        "1",
    ]
    if role:
        cmd += ["-H", f"Authorization: Bearer {live.tokens[role]}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout
