"""A phone pays for every byte (issue 15): the pages' files and the map's larger answers are sent
brotli- or gzip-compressed to a client that accepts it, and a reload of an unchanged file is a
304 with no body. On both backends (the app needs a store, whichever it is)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from fastapi.testclient import TestClient

from demine.api import create_app
from demine.api.compress import accepts_br, accepts_gzip
from demine.api.web import WEB


@pytest.fixture
def client(store: Any) -> TestClient:
    return TestClient(create_app(store.location))


def raw_get(client: TestClient, url: str, **headers: str) -> httpx.Response:
    """The bytes as sent: httpx would otherwise decode the body and say nothing."""
    with client.stream("GET", url, headers=headers) as r:
        r.read_raw = b"".join(r.iter_raw())  # type: ignore[attr-defined]
    return r


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("/", "index.html"),
        ("/static/app.js", "app.js"),
        ("/static/app.css", "app.css"),
        ("/static/i18n/uk.json", "i18n/uk.json"),
        ("/static/vendor/maplibre-gl/maplibre-gl.mjs", "vendor/maplibre-gl/maplibre-gl.mjs"),
    ],
)
def test_files_are_compressed_and_revalidated(client: TestClient, url: str, file: str) -> None:
    want = (WEB / file).read_bytes()
    r = raw_get(client, url, **{"Accept-Encoding": "gzip, deflate"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip" and "Accept-Encoding" in r.headers["vary"]
    sent = r.read_raw  # type: ignore[attr-defined]
    assert gzip.decompress(sent) == want and len(sent) < len(want) / 2
    # brotli when accepted: at once (these files are small, or ship their copy), and smaller
    b = raw_get(client, url, **{"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert b.headers["content-encoding"] == "br" and b.headers["etag"] == r.headers["etag"]
    assert brotli.decompress(b.read_raw) == want  # type: ignore[attr-defined]
    assert len(b.read_raw) < len(sent)  # type: ignore[attr-defined]
    etag = r.headers["etag"]
    # a reload: the same tag, no body
    again = raw_get(client, url, **{"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.read_raw == b""  # type: ignore[attr-defined]
    assert again.headers["etag"] == etag
    # no policy on a 304: its headers update the stored copy, and the page's own policy must
    # stay (the API's "default-src 'none'" on a cached page broke it offline)
    assert "content-security-policy" not in again.headers
    assert "script-src 'self'" in r.headers["content-security-policy"] or not url.endswith(
        (".js", "/")
    )
    assert raw_get(client, url, **{"If-None-Match": f"W/{etag}"}).status_code == 304
    # another tag, or no gzip accepted: the plain bytes
    plain = raw_get(client, url, **{"Accept-Encoding": "identity", "If-None-Match": '"x"'})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.read_raw == want  # type: ignore[attr-defined]
    refused = raw_get(client, url, **{"Accept-Encoding": "gzip;q=0, br;q=0"})
    assert "content-encoding" not in refused.headers
    no_br = raw_get(client, url, **{"Accept-Encoding": "br;q=0, *"})
    assert no_br.headers["content-encoding"] == "gzip"


def test_the_vendored_map_library_ships_its_brotli_copies() -> None:
    """MapLibre's files carry a brotli copy beside them (quality 11 takes seconds: never made on
    a request); each must be the file's exact bytes, else a vendor update forgot to remake it."""
    for name in ("maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"):
        f = WEB / "vendor" / "maplibre-gl" / name
        copy = f.with_name(name + ".br")
        assert copy.is_file(), f"{copy}: remake with python -m demine.api.compress {f}"
        assert brotli.decompress(copy.read_bytes()) == f.read_bytes(), f"{copy} is stale"


def _req(encoding: str) -> Any:
    from starlette.requests import Request

    return Request({"type": "http", "headers": [(b"accept-encoding", encoding.encode())]})


def test_a_stale_brotli_copy_is_never_sent(tmp_path: Path) -> None:
    from demine.api import compress

    f = tmp_path / "big.js"
    f.write_bytes(b"const a = 1;\n" * 20_000)  # 260 KB: over the size made at once
    (tmp_path / "big.js.br").write_bytes(brotli.compress(b"const a = 2;\n" * 20_000))
    first = compress.file_response(_req("br, gzip"), f, "text/javascript", "no-cache")
    assert first.headers["content-encoding"] == "gzip"  # not the stale copy; brotli being made
    deadline = time.monotonic() + 60
    while True:  # the background copy (of the file's own bytes) replaces gzip once made
        r = compress.file_response(_req("br, gzip"), f, "text/javascript", "no-cache")
        if r.headers["content-encoding"] == "br" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.headers["content-encoding"] == "br"
    assert brotli.decompress(bytes(r.body)) == f.read_bytes()


def test_a_changed_file_gets_a_new_tag(client: TestClient, tmp_path: Any, monkeypatch: Any) -> None:
    from demine.api import compress

    f = tmp_path / "x.js"
    f.write_text("const a = 1;\n" * 100)
    from starlette.requests import Request

    req = Request({"type": "http", "headers": [(b"accept-encoding", b"gzip")], "method": "GET"})
    one = compress.file_response(req, f, "text/javascript", "no-cache")
    f.write_text("const a = 2;\n" * 100)
    two = compress.file_response(req, f, "text/javascript", "no-cache")
    assert one.headers["etag"] != two.headers["etag"]
    assert gzip.decompress(two.body) == f.read_bytes()


def test_the_maps_answers_are_compressed(client: TestClient) -> None:
    risk = raw_get(client, "/api/v1/map/risk", **{"Accept-Encoding": "gzip"})
    assert risk.status_code == 200
    regions = raw_get(client, "/api/v1/map/regions", **{"Accept-Encoding": "gzip"})
    assert regions.headers["content-encoding"] == "gzip"
    assert gzip.decompress(regions.read_raw)[:1] == b"{"  # type: ignore[attr-defined]
    # the risk table: a 304 on its tag
    tag = risk.headers["etag"]
    assert raw_get(client, "/api/v1/map/risk", **{"If-None-Match": tag}).status_code == 304
    places = raw_get(client, "/api/v1/public/places?q=обл&limit=20", **{"Accept-Encoding": "gzip"})
    assert places.headers["content-encoding"] == "gzip"
    # brotli when accepted (quality 5: made for each request)
    br = raw_get(client, "/api/v1/map/regions", **{"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br"
    assert brotli.decompress(br.read_raw) == gzip.decompress(regions.read_raw)  # type: ignore[attr-defined]


def test_accept_encoding_is_read_as_the_standard_says() -> None:
    from starlette.requests import Request

    def req(v: str) -> Request:
        return Request({"type": "http", "headers": [(b"accept-encoding", v.encode())]})

    assert accepts_gzip(req("gzip"))
    assert accepts_gzip(req("br, GZIP;q=0.5"))
    assert accepts_gzip(req("*"))
    assert not accepts_gzip(req("gzip;q=0"))
    assert not accepts_gzip(req("gzip;q=0.0, br"))
    assert not accepts_gzip(req("identity"))
    assert not accepts_gzip(req("gzip;q=abc"))
    assert not accepts_gzip(req(""))
    assert accepts_br(req("gzip, deflate, br, zstd"))
    assert accepts_br(req("*"))
    assert not accepts_br(req("gzip, deflate"))
    assert not accepts_br(req("br;q=0, *"))  # named with q=0: refused, whatever "*" says
    assert accepts_gzip(req("br;q=0, *"))
