"""HTTP hardening, on both store backends: the security headers on every response, answers that
depend on the caller's role cached per role (ETag, Vary, Cache-Control), links that never
reflect the Host header (with and without ``--public-url``), and the API docs served from the
package.

The Host tests walk every GET route of the application (as tests/test_privacy.py does), so a
route added later is walked too.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app_routes import get_paths
from demine.api.app import create_app
from demine.api.security import API_CSP, DOCUMENT_CSP
from demine.cli.app import app as cli
from demine.errors import ValidationError
from demine.services.access import new_token
from demine.services.register import ImportOptions, import_file
from demine.store.base import Store

ROOT = Path(__file__).resolve().parent.parent
LON, LAT = 37.8052, 48.0061
EVIL = "evil.example"
PUBLIC_URL = "https://maps.example.org/demine"
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin",
    "cross-origin-opener-policy": "same-origin",
}


@dataclass
class Site:
    location: str
    ids: dict[str, str]
    headers: dict[str, dict[str, str]]


def _square(lon: float, lat: float, d: float = 0.004) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _load(store: Store, tmp: Path, kind: str, features: list[dict[str, Any]]) -> list[str]:
    path = tmp / f"{kind}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return import_file(store, path, ImportOptions(kind=kind)).ids


@pytest.fixture
def site(store: Store, tmp_path: Path) -> Site:
    """A hazard with a field only analysts read, an EO report, and a token for each role used
    (a token of the *public* role too: a token is sent, even if the role is the lowest)."""
    (hz,) = _load(
        store,
        tmp_path,
        "hazards",
        [
            {
                "type": "Feature",
                "properties": {"hazard_type": "CHA", "status": "open", "name": "orchard"},
                "geometry": _square(LON - 0.002, LAT - 0.002),
            }
        ],
    )
    (eo,) = _load(
        store,
        tmp_path,
        "eo_reports",
        [
            {
                "type": "Feature",
                "properties": {
                    "reported_at": "2025-03-01T06:00:00Z",
                    "description": "metal object",
                    "reporter_name": "A Person",
                    "status": "new",
                    "public": True,
                },
                "geometry": {"type": "Point", "coordinates": [LON, LAT]},
            }
        ],
    )
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in ("public", "analyst", "admin"):
        store.add_user(f"u_{role}", role)
        token, h = new_token()
        store.add_token(f"u_{role}", h)
        headers[role] = {"Authorization": f"Bearer {token}"}
    att = _photo_of(store, hz)
    return Site(store.location, {"hazard": hz, "eo": eo, "attachment": att}, headers)


def _photo_of(store: Store, record_id: str) -> str:
    """A photo attached to the record (the attachment routes are walked too)."""
    import io

    from PIL import Image

    from demine.services.attachments import add

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 9, 9)).save(out, "JPEG")
    return str(add(store, "hazards", record_id, "p.jpg", out.getvalue(), "t")["attachment_id"])


def _client(site: Site, host: str = EVIL, **options: Any) -> TestClient:
    return TestClient(create_app(site.location, **options), base_url=f"http://{host}")


# --- walking every GET route --------------------------------------------------------------------


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _urls(client: TestClient, site: Site) -> list[str]:
    """Every GET route of the app, its parameters filled with the seeded records."""
    x, y = _tile(LON, LAT, 12)
    values = {
        "cid": ["hazards", "eo_reports"],
        "collection": ["hazards", "eo_reports"],
        "kind": ["hazards"],
        "fid": [site.ids["hazard"], site.ids["eo"]],
        "hazard_id": [site.ids["hazard"]],
        "record_id": [site.ids["hazard"]],
        "attachment_id": [site.ids["attachment"]],
        "id": [site.ids["hazard"]],
        "sid": [site.ids["hazard"]],  # no such submission: a 404 (401/403 below reviewer)
        "upload_id": [site.ids["hazard"]],  # no such upload: a 404 (401/403 but submitters)
        "code": ["ABCDE-12345"],  # no such civilian report: a 404 (and its page)
        "z": ["12"],
        "x": [str(x)],
        "y": [str(y)],
        "name": ["released"],
        "fmt": ["svg"],
        "path": ["app.js", "vendor/swagger-ui/swagger-ui.css", "missing.js"],
    }
    urls: list[str] = []
    for path in get_paths(client.app.routes):  # type: ignore[attr-defined]
        fills: list[str] = [path]
        for p in re.findall(r"{(\w+)(?::\w+)?}", path):
            assert p in values, f"no value for the parameter {p!r} of {path}: add one"
            fills = [re.sub(r"{" + p + r"(?::\w+)?}", v, u) for u in fills for v in values[p]]
        urls += fills
    return urls


QUERIES = ("", "?f=html", "?f=json", "?limit=1", f"?lat={LAT}&lon={LON}&radius=500")


def _walk(client: TestClient, site: Site, role: str) -> Iterator[tuple[str, httpx.Response]]:
    for url in _urls(client, site):
        for q in QUERIES:
            yield url + q, client.get(url + q, headers=site.headers[role])


def _text(r: httpx.Response) -> str:
    heads = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
    return heads + "\n" + r.content.decode("utf-8", "replace")


def _links(body: Any) -> list[str]:
    if isinstance(body, dict):
        found = [str(v) for k, v in body.items() if k in ("href", "url", "tiles", "tilejson")]
        return found + [u for v in body.values() for u in _links(v)]
    if isinstance(body, list):
        return [u for v in body for u in _links(v)]
    return []


@pytest.mark.parametrize("role", ["anonymous", "analyst"])
def test_no_answer_reflects_the_host_header(site: Site, role: str) -> None:
    """Host: evil.example, no --public-url: not one header or body of any GET route holds it;
    links are root-relative, and still lead to the resources."""
    with _client(site) as client:
        seen = 0
        for url, r in _walk(client, site, role):
            assert EVIL not in _text(r), f"GET {url} ({r.status_code}) reflects the Host"
            seen += r.status_code == 200
        assert seen > 40
        landing = client.get("/ogc", headers=site.headers[role]).json()
        for href in _links(landing):
            assert href.startswith("/ogc"), href
            assert client.get(href, headers=site.headers[role]).status_code == 200, href
        tj = client.get("/tiles/hazards/tilejson.json").json()
        assert tj["tiles"] == ["/tiles/hazards/{z}/{x}/{y}.mvt"]


def test_with_public_url_every_link_uses_it(site: Site) -> None:
    with _client(site, public_url=PUBLIC_URL + "/") as client:
        for url, r in _walk(client, site, "analyst"):
            assert EVIL not in _text(r), f"GET {url} ({r.status_code}) reflects the Host"
        h = site.headers["analyst"]
        links = _links(client.get("/ogc", headers=h).json())
        links += _links(client.get("/ogc/collections/hazards/items", headers=h).json())
        links += _links(client.get(f"/ogc/collections/hazards/items/{site.ids['hazard']}").json())
        links += _links(client.get("/api/v1/map/config").json())
        links += client.get("/tiles/hazards/tilejson.json").json()["tiles"]
        api = client.get("/ogc/api").json()
        links += [s["url"] for s in api["servers"]]
        absolute = [u for u in links if "://" in u]
        assert len(absolute) > 10
        assert all(u.startswith(PUBLIC_URL + "/") for u in absolute), absolute
        assert not [u for u in links if u.startswith("/")], links
        made = client.post(
            "/ogc/collections/hazards/items",
            json={
                "type": "Feature",
                "geometry": _square(LON + 0.1, LAT),
                "properties": {"hazard_type": "SHA", "status": "open"},
            },
            headers=h,
        )
        assert made.status_code == 201, made.text
        assert made.headers["Location"].startswith(PUBLIC_URL + "/ogc/collections/hazards/")
        # HSTS only with an https public URL
        assert client.get("/").headers["strict-transport-security"].startswith("max-age=")


def test_a_host_the_server_answers_to_is_used_and_others_are_not(site: Site) -> None:
    """The control of the walk above: a loopback Host, or one in allowed_hosts, is used for
    absolute links (so the walk would have seen a reflected Host)."""
    with _client(site, host="127.0.0.1:8123") as client:
        texts = "".join(_text(r) for _, r in _walk(client, site, "anonymous"))
        assert texts.count("http://127.0.0.1:8123/") > 20
    with _client(site, host="demine.lan:8000", allowed_hosts=["demine.lan"]) as client:
        assert _links(client.get("/ogc").json())[0].startswith("http://demine.lan:8000/ogc")
        bad = client.get("/ogc", headers={"Host": "demine.lan.evil.example"})
        assert _links(bad.json())[0].startswith("/ogc")
        # a malformed Host is not used either
        odd = client.get("/ogc", headers={"Host": "demine.lan:80@evil.example"})
        assert _links(odd.json())[0].startswith("/ogc")
    with _client(
        site, host="127.0.0.1:8123", public_url="http://a.example:9000"
    ) as client:  # the Host is ignored
        assert _links(client.get("/ogc").json())[0].startswith("http://a.example:9000/ogc")
        assert "strict-transport-security" not in client.get("/").headers


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.org", "http:// or https://"),
        ("https://", "must name a host"),
        ("https://example.org/demine?x=1", "query"),
        ("https://user:pw@example.org/", "user or password"),
        ("example.org/demine", "http:// or https://"),
    ],
)
def test_a_bad_public_url_is_refused_naming_the_problem(site: Site, url: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        create_app(site.location, public_url=url)


def test_serve_public_url_option(site: Site, tmp_path: Path) -> None:
    """``demine serve --public-url``: a bad one exits 1 naming it; a good one is used by the
    running server for every link, whatever Host the request sends."""
    r = CliRunner().invoke(cli, ["--db", site.location, "serve", "--public-url", "ftp://x"])
    assert r.exit_code == 1
    assert "ftp://x" in r.output and "http:// or https://" in r.output
    from live import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "demine.cli.app", "--db", site.location, "serve"]
        + ["--port", str(port), "--public-url", PUBLIC_URL],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                got = httpx.get(f"http://127.0.0.1:{port}/ogc", headers={"Host": EVIL})
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "demine serve did not start"
                time.sleep(0.2)
        assert EVIL not in _text(got)
        assert _links(got.json())[0].startswith(PUBLIC_URL + "/ogc")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "server" not in got.headers  # no banner naming the server software
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# --- security headers ---------------------------------------------------------------------------


def _assert_secure(r: httpx.Response, where: str) -> None:
    for k, v in SECURITY.items():
        assert r.headers.get(k) == v, f"{where}: {k} is {r.headers.get(k)!r}"
    policy = r.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, f"{where}: CSP {policy!r}"
    pp = r.headers.get("permissions-policy", "")
    assert "geolocation=(self)" in pp and "camera=(self)" in pp and "microphone=()" in pp


def test_every_response_carries_the_security_headers(site: Site) -> None:
    with _client(site, host="127.0.0.1") as client:
        kinds: set[str] = set()
        for url, r in _walk(client, site, "analyst"):
            _assert_secure(r, f"GET {url} ({r.status_code})")
            media = r.headers.get("content-type", "").split(";")[0]
            kinds.add(media)
            if media == "text/html" and "certificate" not in url:
                assert "default-src 'self'" in r.headers["content-security-policy"]
                assert "'unsafe-inline'" not in r.headers["content-security-policy"]
            elif media in ("application/json", "application/problem+json", "application/geo+json"):
                assert r.headers["content-security-policy"] == API_CSP
        # the walk met pages, JSON, errors, tiles, images and static files
        assert {"text/html", "application/json", "application/problem+json"} <= kinds
        assert {"application/vnd.mapbox-vector-tile", "image/svg+xml", "text/css"} <= kinds
        others = [
            client.head("/"),
            client.get("/no/such/route"),
            client.post("/api/v1/health"),  # 405
            client.get("/ogc/collections/hazards/items?limit=-1"),  # 400
            client.get("/api/v1/priorities"),  # 401
            client.get("/api/v1/priorities", headers={"Authorization": "Basic x"}),
            client.get("/static/../../etc/passwd"),
            client.get("/api/v1/safety/point?lat=500&lon=0"),  # 400
            client.get("/api/v1/priorities?top=0", headers=site.headers["analyst"]),  # 422
        ]
        for r in others:
            _assert_secure(r, f"{r.request.method} {r.request.url} ({r.status_code})")
        assert {r.status_code for r in others} >= {200, 400, 401, 404, 405, 422}


def test_an_unhandled_error_carries_them_too(site: Site) -> None:
    app = create_app(site.location)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
        assert r.status_code == 500
        _assert_secure(r, "an unhandled error")


def test_the_policy_names_the_base_map_host_only(site: Site) -> None:
    with _client(site, tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png") as client:
        policy = client.get("/").headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert "https://*.tile.example.org" in directives["img-src"].split()
        assert "https://*.tile.example.org" in directives["connect-src"].split()
        assert "tile.example.org" not in directives["script-src"]
        assert client.get("/api/v1/map/config").json()["tile_url"].startswith("https://{s}")
    with _client(site) as client:
        assert "tile.example.org" not in client.get("/").headers["content-security-policy"]
    with pytest.raises(ValidationError, match="tile URL"):
        create_app(site.location, tile_url="javascript:alert(1)//{z}/{x}/{y}")


def test_the_certificate_runs_nothing(site: Site) -> None:
    """The certificate (inline style, style="" in its legend) gets a policy of its own with no
    script source at all."""
    with _client(site) as client:
        r = client.get(
            f"/api/v1/hazards/{site.ids['hazard']}/certificate", headers=site.headers["analyst"]
        )
        assert r.status_code == 409  # an open hazard has none; the policy is the API's
        _assert_secure(r, "certificate of an open hazard")
    assert "script-src" not in DOCUMENT_CSP and "default-src 'none'" in DOCUMENT_CSP


# --- caching by role ----------------------------------------------------------------------------


def test_role_dependent_answers_vary_by_authorization(site: Site) -> None:
    """Everything under /api/v1, /ogc and /tiles says Vary: Authorization, and is private when
    a token was sent (whatever the token's role)."""
    with _client(site, host="127.0.0.1") as client:
        for role in ("anonymous", "public", "analyst"):
            for url, r in _walk(client, site, role):
                if not url.startswith(("/api/v1/", "/ogc", "/tiles/")):
                    continue
                vary = {v.strip().lower() for v in r.headers.get("vary", "").split(",")}
                assert "authorization" in vary, f"GET {url} as {role}: Vary {vary}"
                cc = r.headers.get("cache-control", "").lower()
                if role != "anonymous":
                    assert "private" in cc or "no-store" in cc, f"GET {url} as {role}: {cc!r}"
                    assert "public" not in cc.replace("private", "")
        # not role-dependent: the page and its files are shared
        assert "authorization" not in client.get("/").headers.get("vary", "").lower()


def test_tile_etags_differ_by_role_and_304_only_for_the_same_role(site: Site) -> None:
    x, y = _tile(LON, LAT, 12)
    url = f"/tiles/hazards/12/{x}/{y}.mvt"
    with _client(site, host="127.0.0.1") as client:
        anon = client.get(url)
        pub = client.get(url, headers=site.headers["public"])
        ana = client.get(url, headers=site.headers["analyst"])
        assert anon.status_code == pub.status_code == ana.status_code == 200
        tags = {anon.headers["etag"], ana.headers["etag"]}
        assert len(tags) == 2, "a public and an analyst tile share an ETag"
        assert pub.headers["etag"] == anon.headers["etag"]  # the same role, the same content
        assert anon.headers["cache-control"].startswith("public")
        assert pub.headers["cache-control"].startswith("private")  # a token was sent
        assert ana.headers["cache-control"].startswith("private")
        for r in (anon, pub, ana):
            assert "Authorization" in r.headers["vary"]
        # If-None-Match: 304 for the role's own tag only
        h = site.headers["analyst"]
        assert (
            client.get(url, headers={**h, "If-None-Match": ana.headers["etag"]}).status_code == 304
        )
        cross = client.get(url, headers={**h, "If-None-Match": anon.headers["etag"]})
        assert cross.status_code == 200 and cross.content == ana.content
        assert client.get(url, headers={"If-None-Match": anon.headers["etag"]}).status_code == 304
        back = client.get(url, headers={"If-None-Match": ana.headers["etag"]})
        assert back.status_code == 200 and back.content == anon.content


def test_feature_etags_differ_by_role_and_form(site: Site) -> None:
    hid = site.ids["hazard"]
    url = f"/ogc/collections/hazards/items/{hid}"
    with _client(site, host="127.0.0.1") as client:
        a = site.headers["analyst"]
        anon, ana = client.get(url), client.get(url, headers=a)
        page = client.get(url + "?f=html", headers=a)
        assert anon.headers["etag"] == f'"{hid}-1-public"'
        assert ana.headers["etag"] == f'"{hid}-1-analyst"'
        assert page.headers["etag"] == f'"{hid}-1-analyst-html"'
        assert "private" in ana.headers["cache-control"]
        assert (
            client.get(url, headers={**a, "If-None-Match": ana.headers["etag"]}).status_code == 304
        )
        cross = client.get(url, headers={**a, "If-None-Match": anon.headers["etag"]})
        assert cross.status_code == 200 and cross.json()["id"] == hid
        assert client.get(url, headers={"If-None-Match": ana.headers["etag"]}).status_code == 200
        # a write's If-Match is about the revision: any role's tag of it holds; a stale one not
        patch = {"properties": {"name": "renamed"}}
        ct = {"Content-Type": "application/merge-patch+json"}
        ok = client.patch(url, json=patch, headers={**a, **ct, "If-Match": anon.headers["etag"]})
        assert ok.status_code == 200, ok.text
        assert ok.headers["etag"] == f'"{hid}-2-analyst"'
        stale = client.patch(url, json=patch, headers={**a, **ct, "If-Match": ana.headers["etag"]})
        assert stale.status_code == 412
        forged = client.patch(url, json=patch, headers={**a, **ct, "If-Match": f'"{hid}-2-nobody"'})
        assert forged.status_code == 412


def test_map_risk_etag_differs_by_role(site: Site) -> None:
    with _client(site, host="127.0.0.1") as client:
        anon = client.get("/api/v1/map/risk")
        ana = client.get("/api/v1/map/risk", headers=site.headers["analyst"])
        assert anon.status_code == ana.status_code == 200
        assert anon.headers["etag"] != ana.headers["etag"]
        assert "Authorization" in ana.headers["vary"] and "private" in ana.headers["cache-control"]


# --- the API docs from the package --------------------------------------------------------------


def test_api_docs_use_only_this_server(site: Site) -> None:
    with _client(site, host="127.0.0.1") as client:
        r = client.get("/api/docs")
        assert r.status_code == 200
        refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
        assert len(refs) >= 3
        assert not re.search(r"(?i)(https?:)?//", r.text), "the docs page names another origin"
        for ref in refs:
            got = client.get(httpx.URL("http://127.0.0.1/api/docs").join(ref))
            assert got.status_code == 200, ref
            assert got.headers["content-type"].split(";")[0] in (
                "text/javascript",
                "text/css",
                "image/png",
            )
        policy = r.headers["content-security-policy"]
        (inline,) = re.findall(r"<script>(.*?)</script>", r.text, flags=re.DOTALL)
        from demine.api.security import sha256_source

        assert sha256_source(inline) in policy  # the one inline script, by its hash
        assert client.get("/api/openapi.json").json()["info"]["title"] == "demine"


def test_vendored_swagger_ui_is_package_data() -> None:
    """The files the docs page loads are matched by pyproject's package-data (so in the
    wheel), with the licence next to them."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["demine"]
    vendored = ROOT / "src" / "demine" / "web" / "vendor" / "swagger-ui"
    names = {p.name for p in vendored.iterdir()}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"} <= names
    assert "Apache License" in (vendored / "LICENSE").read_text()
    for p in vendored.iterdir():
        rel = p.relative_to(ROOT / "src" / "demine").as_posix()
        assert any(fnmatch(rel, pat) for pat in patterns), f"{rel} is not package data"


def test_every_file_of_the_pages_is_package_data() -> None:
    """Every file under ``demine/web`` (the map, the review page, the field app and its
    service worker, icons and strings) is matched by pyproject's package-data, so an
    installed wheel serves what a checkout serves; a new file in a new folder is caught here."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["demine"]
    pkg = ROOT / "src" / "demine"
    files = [p for p in (pkg / "web").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.name == "sw.js" for p in files)
    missing = [
        rel
        for rel in (p.relative_to(pkg).as_posix() for p in files)
        if not any(fnmatch(rel, pat) for pat in patterns)
    ]
    assert not missing, f"not package data: {missing}"
