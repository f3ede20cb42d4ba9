"""Bounded work per request at the HTTP edge: safety routes across the antimeridian and their
caps, the request body limit, one rate limit for every costly endpoint (X-Forwarded-For only
from trusted proxies) and duplicate query parameters (docs/web.md "Limits")."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from demine.api import create_app
from demine.ids import uuid7
from demine.model.schema import Record

GEOD = Geod(ellps="WGS84")


def _hazard(name: str, box: tuple[float, float, float, float], status: str = "open") -> Record:
    props: dict[str, Any] = {"hazard_type": "CHA", "status": status, "name": name}
    if status == "closed":
        props["closed_on"] = "2025-01-01"
    return Record("hazards", uuid7(), props, shapely.MultiPolygon([shapely.box(*box)]))


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _route(coords: Any, radius: float = 500) -> dict[str, Any]:
    return {"route": {"type": "LineString", "coordinates": coords}, "radius": radius}


# --- 1. routes across the antimeridian, and the caps --------------------------------------------


@pytest.fixture
def pacific(store: Any) -> Any:
    """Hazards on both sides of the antimeridian at 48.5° N, and one in Ukraine on the same
    parallel (which a route read as 359.8° long would cross)."""
    recs = {
        "ukraine": _hazard("ukraine", (36.0, 48.4995, 36.01, 48.5005)),
        # 0.0015° (~167 m) north of the parallel 48.5, just east and just west of ±180
        "east": _hazard("east", (-179.96, 48.5015, -179.95, 48.502)),
        "west": _hazard("west", (179.95, 48.5015, 179.96, 48.502)),
        # a few hundred metres east of the antimeridian, on the parallel
        "edge": _hazard("edge", (-179.999, 48.4999, -179.99, 48.5001)),
    }
    store.upsert("hazards", list(recs.values()), actor="t")
    store.close()
    return TestClient(create_app(store.location, rate_limit_per_minute=10_000)), recs


def test_route_across_the_antimeridian_is_short(pacific: Any) -> None:
    client, recs = pacific
    for coords in ([[179.9, 48.5], [-179.9, 48.5]], [[-179.9, 48.5], [179.9, 48.5]]):
        r = client.post("/api/v1/safety/route", json=_route(coords))
        assert r.status_code == 200, r.text
        body = r.json()
        names = {h["name"] for h in body["hazards"]}
        assert "ukraine" not in names  # the route is 14.8 km, not around the world
        assert names == {"east", "west", "edge"}
        assert body["warning_level"] == "inside"  # the route crosses "edge"
        d = {h["name"]: h["distance_m"] for h in body["hazards"]}
        _, _, expect = GEOD.inv(-179.955, 48.5, -179.955, 48.5015)
        assert d["east"] == pytest.approx(expect, rel=0.005)
        assert d["west"] == pytest.approx(expect, rel=0.005)
        assert d["edge"] == 0


def test_route_reaching_the_antimeridian_finds_the_far_side(pacific: Any) -> None:
    """A route on one side only, ending 150 m short of ±180: the hazard just across is found."""
    client, _ = pacific
    lon, _, _ = GEOD.fwd(-179.999, 48.5, 90.0, -150.0)  # 150 m west of "edge", across ±180
    assert lon > 179.99
    body = client.post(
        "/api/v1/safety/route", json=_route([[179.9, 48.5], [lon, 48.5]], 300)
    ).json()
    d = {h["name"]: h["distance_m"] for h in body["hazards"]}
    assert set(d) == {"edge", "west"}
    assert d["edge"] == pytest.approx(150.0, rel=0.005)


def test_point_near_the_antimeridian_finds_the_far_side(pacific: Any) -> None:
    client, _ = pacific
    lon, _, _ = GEOD.fwd(-179.999, 48.5, 90.0, -120.0)  # 120 m west of "edge", across ±180
    r = client.get("/api/v1/safety/point", params={"lat": 48.5, "lon": lon, "radius": 200})
    (hit,) = r.json()["hazards"]
    assert hit["name"] == "edge" and hit["distance_m"] == pytest.approx(120.0, rel=0.005)
    # and from the other side: a place just east of -180 sees "west" across it
    r = client.get("/api/v1/safety/point", params={"lat": 48.5015, "lon": -179.96, "radius": 7000})
    names = {h["name"] for h in r.json()["hazards"]}
    assert {"east", "west", "edge"} <= names and "ukraine" not in names


def test_cli_check_near_the_antimeridian(pacific: Any) -> None:
    from typer.testing import CliRunner

    from demine.cli.app import app as cli

    client, _ = pacific
    location = client.app.state.stores.location
    lon, _, _ = GEOD.fwd(-179.999, 48.5, 90.0, -120.0)
    r = CliRunner().invoke(
        cli, ["--db", location, "check", "48.5", f"{lon:.7f}", "--radius", "200", "--json"]
    )
    assert r.exit_code == 0, r.output
    (hit,) = json.loads(r.stdout)["hazards"]
    assert hit["name"] == "edge" and hit["distance_m"] == pytest.approx(120.0, rel=0.005)


def test_route_over_the_caps_is_refused(store: Any) -> None:
    store.close()
    client = TestClient(
        create_app(
            store.location, max_route_m=50_000, max_route_vertices=100, max_route_radius_m=1000
        )
    )
    _, lat, _ = GEOD.fwd(37.0, 48.0, 0.0, 60_000.0)
    b = _problem(client.post("/api/v1/safety/route", json=_route([[37.0, 48.0], [37.0, lat]])), 400)
    assert b["limit"] == "max_route_m" and b["limit_value"] == 50_000
    assert "60.0 km" in b["detail"] and "50.0 km" in b["detail"]
    # a long way round the antimeridian counts its short length: 14.8 km, accepted
    ok = client.post("/api/v1/safety/route", json=_route([[179.9, 48.5], [-179.9, 48.5]]))
    assert ok.status_code == 200
    many = [[37.0 + i * 1e-4, 48.0] for i in range(101)]
    b = _problem(client.post("/api/v1/safety/route", json=_route(many)), 400)
    assert b["limit"] == "max_route_vertices" and b["limit_value"] == 100
    assert "101" in b["detail"] and b["errors"][0]["field"] == "route.coordinates"
    assert client.post("/api/v1/safety/route", json=_route(many[:100])).status_code == 200
    b = _problem(client.post("/api/v1/safety/route", json=_route(many[:10], 1001)), 400)
    assert b["limit"] == "max_route_radius_m" and b["limit_value"] == 1000
    assert b["errors"][0]["field"] == "radius"
    assert client.post("/api/v1/safety/route", json=_route(many[:10], 1000)).status_code == 200


def test_route_default_caps(store: Any) -> None:
    store.close()
    client = TestClient(create_app(store.location))
    b = _problem(
        client.post("/api/v1/safety/route", json=_route([[30.0, 48.0], [45.0, 48.0]])), 400
    )
    assert b["limit"] == "max_route_m" and b["limit_value"] == 1_000_000
    many = [[37.0 + i * 1e-5, 48.0] for i in range(10_001)]
    b = _problem(client.post("/api/v1/safety/route", json=_route(many)), 400)
    assert b["limit"] == "max_route_vertices" and b["limit_value"] == 10_000
    b = _problem(client.post("/api/v1/safety/route", json=_route(many[:2], 10_001)), 400)
    assert b["limit"] == "max_route_radius_m" and b["limit_value"] == 10_000
    # a place may still be checked within 100 km
    r = client.get("/api/v1/safety/point", params={"lat": 48, "lon": 37, "radius": 100_000})
    assert r.status_code == 200


def test_line_distance_pruning_matches_every_piece() -> None:
    """distance_line_to_geometries measures each geometry only from the pieces that may be
    nearest: the same figures as measuring every geometry from every piece."""
    from demine.geo import geodesy

    rng = np.random.default_rng(5)
    k = 2000
    xs = np.linspace(179.0, 181.5, k)  # across the antimeridian
    coords = np.column_stack([np.where(xs > 180, xs - 360, xs), 48 + 0.05 * np.sin(xs * 40)])
    cx, cy = rng.uniform(178.5, 182.0, 300), rng.uniform(47.5, 48.6, 300)
    cx = np.where(cx > 180, cx - 360, cx)
    geoms = np.array([shapely.box(x, y, x + 0.004, y + 0.003) for x, y in zip(cx, cy, strict=True)])
    got = geodesy.distance_line_to_geometries(coords, geoms)
    limited = geodesy.distance_line_to_geometries(coords, geoms, max_m=20_000.0)
    # every geometry from every piece
    xy = coords.copy()
    xy[:, 0] = geodesy.unwrap_longitudes(xy[:, 0])
    dense = geodesy.densify_m(xy, 5_000.0)
    _, _, seg = geodesy.geod().inv(dense[:-1, 0], dense[:-1, 1], dense[1:, 0], dense[1:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    pieces = []
    start = 0
    while start < len(dense) - 1:
        end = max(int(np.searchsorted(cum, cum[start] + 20_000.0, side="right")) - 1, start + 1)
        pieces.append((start, end))
        start = end
    ref = np.full(len(geoms), np.inf)
    gi, pi = np.meshgrid(np.arange(len(geoms)), np.arange(len(pieces)), indexing="ij")
    geodesy._measure(dense, pieces, shapely.segmentize(geoms, 0.01), gi.ravel(), pi.ravel(), ref)
    assert np.allclose(got, ref, rtol=0, atol=1e-6)
    near = ref <= 20_000.0
    assert near.sum() > 50 and (~near).sum() > 20
    assert np.allclose(limited[near], ref[near], rtol=0, atol=1e-6)
    assert (limited[~near] > 20_000.0).all()


def test_lon_helpers() -> None:
    from demine.geo.geodesy import densify_m, lon_boxes, unwrap_longitudes

    assert unwrap_longitudes([179.9, -179.9, 179.9]).tolist() == pytest.approx(
        [179.9, 180.1, 179.9]
    )
    assert unwrap_longitudes([-170.0, 10.0]).tolist() == [-170.0, 10.0]  # 180°: as given
    assert lon_boxes((179.0, 1.0, 181.0, 2.0)) == [
        (179.0, 1.0, 180.0, 2.0),
        (-180.0, 1.0, -179.0, 2.0),
    ]
    assert lon_boxes((-181.0, 1.0, -179.0, 2.0)) == [
        (179.0, 1.0, 180.0, 2.0),
        (-180.0, 1.0, -179.0, 2.0),
    ]
    assert lon_boxes((10.0, 1.0, 20.0, 2.0)) == [(10.0, 1.0, 20.0, 2.0)]
    assert lon_boxes((-100.0, 1.0, 300.0, 2.0)) == [(-180.0, 1.0, 180.0, 2.0)]
    # near a pole a long step in degrees is short in metres: few positions added
    assert len(densify_m([[0.0, 89.999], [179.0, 89.999]], 5_000.0)) < 10
    assert len(densify_m([[0.0, 0.0], [1.0, 0.0]], 5_000.0)) >= 23


# --- 2. request body limit ----------------------------------------------------------------------


def test_body_over_the_limit_is_413_before_authentication(store: Any) -> None:
    store.close()
    client = TestClient(create_app(store.location, max_body_bytes=1000))
    feature = {
        "type": "Feature",
        "properties": {"hazard_type": "CHA", "status": "open", "name": "x" * 2000},
        "geometry": {"type": "Point", "coordinates": [37, 48]},
    }
    b = _problem(client.post("/ogc/collections/hazards/items", json=feature), 413)
    assert b["limit"] == "max_body_bytes" and b["limit_value"] == 1000
    # chunked (no Content-Length): counted as it comes
    raw = json.dumps(feature).encode()

    def chunks() -> Any:
        for i in range(0, len(raw), 100):
            yield raw[i : i + 100]

    r = client.post(
        "/ogc/collections/hazards/items",
        content=chunks(),
        headers={"content-type": "application/geo+json"},
    )
    assert _problem(r, 413)["limit"] == "max_body_bytes"
    # under the limit: the write route answers as before (401: no token)
    small = {**feature, "properties": {"name": "x"}}
    assert client.post("/ogc/collections/hazards/items", json=small).status_code == 401
    # a chunked body under the limit reaches the route whole
    body = json.dumps(_route([[37.0, 48.0], [37.01, 48.0]])).encode()
    r = client.post(
        "/api/v1/safety/route",
        content=(body[i : i + 7] for i in range(0, len(body), 7)),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["route_points"] == 2


def _http_head(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def test_live_server_answers_413_without_reading_the_body(store: Any) -> None:
    from live import serve

    store.close()
    limit = 64 * 1024
    with serve(create_app(store.location, max_body_bytes=limit)) as url:
        host, port = url.removeprefix("http://").split(":")
        # Content-Length of 150 MiB, and only 1 KiB sent: the answer comes at once
        with socket.create_connection((host, int(port))) as s:
            s.sendall(
                b"POST /ogc/collections/hazards/items HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/geo+json\r\n"
                + f"Content-Length: {150 * 2**20}\r\n\r\n".encode()
                + b"{" * 1024
            )
            head = _http_head(s)
            assert head.startswith(b"HTTP/1.1 413"), head
            assert b"application/problem+json" in head
        # chunked: 8 KiB chunks just past the limit, and never the last chunk: 413 all the
        # same, and the server closes the connection rather than wait for the rest
        with socket.create_connection((host, int(port))) as s:
            s.sendall(
                b"POST /ogc/collections/hazards/items HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/geo+json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"2000\r\n" + b"x" * 0x2000 + b"\r\n"
            for _ in range(limit // 0x2000 + 1):
                s.sendall(chunk)
            head = _http_head(s)
            assert head.startswith(b"HTTP/1.1 413"), head
            s.settimeout(10)
            rest = b""
            while True:
                more = s.recv(65536)
                if not more:
                    break  # closed by the server
                rest += more
            assert b"max_body_bytes" in head + rest


# --- 3. rate limits -------------------------------------------------------------------------------


POINT = "/api/v1/safety/point?lat=48&lon=37"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(store: Any) -> None:
    store.close()
    app = create_app(store.location, rate_limit_per_minute=3)
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    codes = [
        attacker.get(POINT, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]  # no fresh budget from a made-up address
    # nor is the address it named locked out
    victim = TestClient(app, client=("198.51.100.1", 40000))
    assert [victim.get(POINT).status_code for _ in range(3)] == [200, 200, 200]
    r = attacker.get(POINT)
    b = _problem(r, 429)
    assert b["limit"] == "rate_limit_per_minute" and b["limit_value"] == 3
    assert int(r.headers["retry-after"]) >= 1


def test_forwarded_for_from_a_trusted_proxy(store: Any) -> None:
    store.close()
    app = create_app(
        store.location,
        rate_limit_per_minute=2,
        trusted_proxies=["10.0.0.0/8"],
        allowed_hosts=["testserver"],  # links absolute (from this Host) to see their scheme
    )
    proxy = TestClient(app, client=("10.1.2.3", 40000))

    def get(xff: str) -> int:
        return proxy.get(POINT, headers={"X-Forwarded-For": xff}).status_code

    assert [get("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert [get("198.51.100.2") for _ in range(2)] == [200, 200]  # a budget of its own
    # the right-most address that is not a trusted proxy: a client's own claim on the left
    # does not help, a chain of trusted proxies is walked through
    assert get("6.6.6.6, 198.51.100.1") == 429
    assert get("198.51.100.2, 10.9.9.9") == 429
    assert get("198.51.100.3, 10.9.9.9") == 200
    # X-Forwarded-Proto from the trusted proxy sets the scheme of the links
    r = proxy.get("/ogc", headers={"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https"})
    assert r.json()["links"][0]["href"].startswith("https://")
    with pytest.raises(ValueError, match="not-a-net"):
        create_app(store.location, trusted_proxies=["not-a-net"])
    other = TestClient(app, client=("192.0.2.5", 40000))
    r = other.get("/ogc", headers={"X-Forwarded-For": "198.51.100.5", "X-Forwarded-Proto": "https"})
    assert r.json()["links"][0]["href"].startswith("http://")


def test_ogc_tiles_stats_and_more_are_limited(store: Any) -> None:
    store.upsert("hazards", [_hazard("h", (37.5, 48.0, 37.52, 48.012))], actor="t")
    store.close()
    paths = [
        "/ogc/collections/hazards/items",
        "/ogc/collections/hazards/queryables",
        "/api/v1/stats",
        "/api/v1/stats/chart/released.svg",
        "/api/v1/map/config",
        "/api/v1/priorities",
    ]
    for i, path in enumerate(paths):
        app = create_app(store.location, rate_limit_per_minute=2)
        c = TestClient(app, client=(f"192.0.2.{i + 1}", 40000))
        first = [c.get(path).status_code for _ in range(2)]
        assert 429 not in first, (path, first)
        b = _problem(c.get(path), 429)
        assert b["limit"] == "rate_limit_per_minute", path
    # a vector tile counts a quarter: 8 tiles for a budget of 2
    c = TestClient(create_app(store.location, rate_limit_per_minute=2))
    codes = [c.get("/tiles/hazards/8/154/88.mvt").status_code for _ in range(9)]
    assert 429 not in codes[:8] and codes[8] == 429
    # the health check and the page are not
    c = TestClient(create_app(store.location, rate_limit_per_minute=1))
    assert {c.get("/api/v1/health").status_code for _ in range(5)} == {200}
    assert {c.get("/").status_code for _ in range(5)} == {200}
    # 0: no limit
    c = TestClient(create_app(store.location, rate_limit_per_minute=0))
    assert {c.get(POINT).status_code for _ in range(20)} == {200}


def test_buckets_forget_idle_clients_and_stay_bounded() -> None:
    from demine.api.edge import Buckets, client_key

    b = Buckets(60, max_clients=100)
    assert b.take("a", 1.0, now=0.0) == 0.0
    for _ in range(59):
        assert b.take("a", 1.0, now=0.0) == 0.0
    assert b.take("a", 1.0, now=0.0) == pytest.approx(1.0)  # one a second comes back
    assert b.take("b", 1.0, now=61.0) == 0.0
    assert "a" not in b.clients  # idle a minute: its bucket is full again, forgotten
    for i in range(1000):
        b.take(f"c{i}", 1.0, now=62.0)
    assert len(b.clients) == 100
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:2:3:4:5:6") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


# --- 4. duplicate query parameters --------------------------------------------------------------


def test_duplicate_query_parameters_are_refused(store: Any) -> None:
    store.close()
    client = TestClient(create_app(store.location))
    b = _problem(client.get("/api/v1/safety/point?lat=1&lat=2&lon=3"), 400)
    assert b["parameter"] == "lat" and "more than once" in b["detail"]
    assert b["errors"][0]["field"] == "lat"
    b = _problem(client.get("/api/v1/stats?period=2024&period=2025"), 400)
    assert b["parameter"] == "period"
    b = _problem(client.get("/api/v1/priorities?top=1&top=2"), 400)
    assert b["parameter"] == "top"
    assert client.get("/api/v1/safety/point?lat=1&lon=3").status_code == 200


# --- the CLI: demine serve's options -------------------------------------------------------------


def test_serve_options(store: Any) -> None:
    from typer.testing import CliRunner

    from demine.cli.app import app as cli
    from live import free_port

    db = store.location
    store.close()
    run = CliRunner().invoke
    r = run(cli, ["--db", db, "serve", "--max-body", "lots"])
    assert r.exit_code == 1 and "--max-body" in r.output
    r = run(cli, ["--db", db, "serve", "--trusted-proxy", "not-an-ip"])
    assert r.exit_code == 1 and "--trusted-proxy" in r.output

    port = free_port()
    code = "from demine.cli.app import main; main()"
    args = ["--db", db, "serve", "--port", str(port), "--max-body", "1KiB", "--rate-limit", "4"]
    args += ["--max-route-km", "10", "--max-route-vertices", "5", "--max-route-radius", "300"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )
    try:
        import httpx

        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        r = httpx.post(f"{url}/api/v1/safety/route", content=b"{" * 2000)
        assert r.status_code == 413 and r.json()["limit_value"] == 1024
        far = _route([[37.0, 48.0], [37.2, 48.0]], 200)
        r = httpx.post(f"{url}/api/v1/safety/route", json=far)
        assert r.status_code == 400 and r.json()["limit"] == "max_route_m"
        many = [[37.0 + i * 1e-4, 48.0] for i in range(6)]
        r = httpx.post(f"{url}/api/v1/safety/route", json=_route(many, 200))
        assert r.status_code == 400 and r.json()["limit"] == "max_route_vertices"
        r = httpx.post(f"{url}/api/v1/safety/route", json=_route(many[:2], 301))
        assert r.status_code == 400 and r.json()["limit"] == "max_route_radius_m"
        # X-Forwarded-For from 127.0.0.1 is not believed (uvicorn's own rule is off)
        r = httpx.get(f"{url}{POINT}", headers={"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 429 and r.headers["retry-after"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
