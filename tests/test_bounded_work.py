"""Bounded work per anonymous request (security issue 10): CQL2 LIKE in linear time, filter
limits, the request budget (503 + Retry-After), heavy work in threads of its own, 400s instead
of 500s for bad OGC parameters, and a bounded tile cache. HTTP tests run on both backends."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import shapely
import shapely.affinity
from fastapi.testclient import TestClient

from demine.api.app import create_app
from demine.api.ogc_cql import MAX_FILTER_BYTES, MAX_FILTER_NODES, MAX_LIKE_PATTERN
from demine.api.tiles import _LRU, CACHE_MAX_BYTES, CACHE_MAX_ENTRIES
from demine.ids import uuid7
from demine.model.schema import Record
from demine.store.cql_sql import FilterError
from demine.store.cql_sqlite import glob_pattern
from live import free_port, serve

ITEMS = "/ogc/collections/hazards/items"
SIZE = 10_000  # characters of each hazard's name
N = 50
BOX = shapely.box(37.50, 48.00, 37.52, 48.012)
LETTERS = "bcdefghij"


# --- the matcher ----------------------------------------------------------------------------


_GLOB = sqlite3.connect(":memory:", check_same_thread=False)


def like(text: str, pattern: str) -> bool:
    """CQL2 LIKE as the GeoPackage store runs it: SQLite's GLOB on the translated pattern
    (demine.store.cql_sqlite.glob_pattern); PostgreSQL runs its own LIKE with ESCAPE '\\'."""
    return bool(_GLOB.execute("SELECT ? GLOB ?", (text, glob_pattern(pattern))).fetchone()[0])


def reference(text: str, pattern: str) -> bool:
    """The slow reference: the pattern as a regular expression (only for small inputs)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


TABLE = [
    # (text, pattern, expected)
    ("", "", True),
    ("", "%", True),
    ("", "%%%", True),
    ("", "_", False),
    ("a", "", False),
    ("a", "_", True),
    ("ab", "_", False),
    ("ab", "__", True),
    ("abc", "a%", True),
    ("abc", "%c", True),
    ("abc", "%b%", True),
    ("abc", "a%%%%c", True),
    ("abc", "%%a%%b%%c%%", True),
    ("abc", "%d%", False),
    ("a.c", "a.c", True),
    ("abc", "a.c", False),  # '.' is a literal in CQL2, not a wildcard
    ("abc", "a_c", True),
    ("a*c", "a*c", True),
    ("abbbc", "a*c", False),  # '*' is a literal too
    ("50%", "50\\%", True),
    ("500", "50\\%", False),
    ("a_b", "a\\_b", True),
    ("axb", "a\\_b", False),
    ("a\\b", "a\\\\b", True),
    ("a%b", "%\\%%", True),
    ("ab", "%\\%%", False),
    ("aaa", "a%a", True),
    ("a", "a%a", False),
    ("mississippi", "%iss%ppi", True),
    ("mississippi", "m%iss%iss%ppi", True),
    ("mississippi", "m%iss%iss%iss%", False),
    ("mississippi", "_i__i__i__i", True),
    ("mississippi", "%s_i%", True),
    ("Київ", "К_їв", True),
    ("Київ", "%їв", True),
    ("Київ", "к%", False),  # case matters without CASEI
    ("Ωmega", "_mega", True),
    ("日本語テキスト", "%語_キ%", True),
    ("🙂x", "_x", True),  # one code point
    ("line\nbreak", "line_break", True),
    ("line\nbreak", "%\n%", True),
    # short: the reference regex backtracks exponentially on these (minutes at 40 characters)
    ("aaaaaaaaaaaab", "%a%a%a%a%a%a%a%a%a%a%b", True),
    ("aaaaaaaaaaaaa", "%a%a%a%a%a%a%a%a%a%a%b", False),
]


@pytest.mark.parametrize(("text", "pattern", "expected"), TABLE)
def test_like_table(text: str, pattern: str, expected: bool) -> None:
    assert like(text, pattern) is expected
    assert reference(text, pattern) is expected  # the table agrees with the reference too


def test_like_fuzz_against_the_reference() -> None:
    rnd = random.Random(20261128)
    alphabet = "ab.%_\\Ж"
    checked = 0
    while checked < 2000:
        pattern = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 9)))
        if (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 1:
            with pytest.raises(FilterError):
                glob_pattern(pattern)
            continue
        text = "".join(rnd.choice("ab.%_\\Ж") for _ in range(rnd.randint(0, 12)))
        assert like(text, pattern) == reference(text, pattern), (text, pattern)
        checked += 1


def test_like_lone_escape_and_casefold() -> None:
    with pytest.raises(FilterError, match="lone escape"):
        glob_pattern("abc\\")
    assert like("київська".casefold(), "КИЇВ%".casefold()) and not like("львів", "київ%")
    assert like("a[b]*?c", "a[b]*?c") and not like("ab", "a[b]")  # GLOB's own are literals


@pytest.mark.parametrize(
    "pattern",
    [
        "%" * 19 + "Q",
        "%a" * 10 + "%Q",
        "%" + "_a" * 10 + "Z%",
        "%" + "a_" * 120 + "b%",
        "%_%_%_%_%_%_%_%_%_%_%Q",
        "a" * 200 + "%b",
        "%" + "a" * 250 + "b%",
    ],
)
def test_like_is_linear_on_long_texts(pattern: str) -> None:
    text = "a" * 100_000  # 10 times the acceptance size: a backtracking matcher never returns
    t0 = time.monotonic()
    assert like(text, pattern) is False
    assert like(text + "Q", "%" * 19 + "Q")
    assert time.monotonic() - t0 < 5.0  # a safety net; it takes milliseconds


# --- a store of hazards with 10,000-character names --------------------------------------


def _name(i: int) -> str:
    """Mostly 'a'; every 3rd has b..j spread in order; every 4th a literal '%_' in the middle;
    every 5th ends with 'Q'; every 6th is 'x...' (does not start with 'a')."""
    chars = ["a"] * SIZE
    if i % 3 == 0:
        for k, c in enumerate(LETTERS):
            chars[(k + 1) * 1000] = c
    if i % 4 == 0:
        chars[5500], chars[5501] = "%", "_"
    if i % 5 == 0:
        chars[-1] = "Q"
    if i % 6 == 0:
        chars[0] = "x"
    return "".join(chars)


def _fill(store: Any) -> dict[int, str]:
    ids: dict[int, str] = {}
    recs = []
    for i in range(N):
        rid = uuid7()
        ids[i] = rid
        recs.append(
            Record(
                "hazards",
                rid,
                {"hazard_type": "CHA", "status": "open", "name": _name(i)},
                shapely.MultiPolygon([shapely.affinity.translate(BOX, 0.0005 * i, 0)]),
            )
        )
    store.upsert("hazards", recs, actor="t")
    return ids


@dataclass
class Env:
    location: str
    ids: dict[int, str]

    def want(self, keep: Any) -> set[str]:
        return {rid for i, rid in self.ids.items() if keep(i)}


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    ids = _fill(store)
    store.close()
    yield Env(store.location, ids)


LIKE_CASES: list[tuple[str, Any]] = [
    ("name LIKE '" + "%" * 19 + "Q'", lambda i: i % 5 == 0),
    ("name LIKE '%b%c%d%e%f%g%h%i%j%'", lambda i: i % 3 == 0),
    ("name LIKE '%b%c%d%e%f%g%h%i%j%Q'", lambda i: i % 15 == 0),
    ("name LIKE '%_%_%_%_%_%_%_%_%_%Q'", lambda i: i % 5 == 0),
    ("name LIKE 'a%a%a%a%a%a%a%a%a%a_'", lambda i: i % 6 != 0),
    ("name LIKE '%" + "a_" * 9 + "Z%'", lambda i: False),
    ("name LIKE '%\\%\\_%'", lambda i: i % 4 == 0),
    ("name LIKE '%a.a%'", lambda i: False),  # '.' is literal
    ("name NOT LIKE '%Q'", lambda i: i % 5 != 0),
    ("CASEI(name) LIKE CASEI('%q')", lambda i: i % 5 == 0),
    ("name LIKE 'x%Q' AND name LIKE '%b%j%'", lambda i: i % 30 == 0),
]


def _ids(r: httpx.Response) -> set[str]:
    return {f["id"] for f in r.json()["features"]}


def test_like_over_long_texts_answers_right_within_budget(env: Env) -> None:
    client = TestClient(create_app(env.location))
    total = time.monotonic()
    timings = {}
    for text, keep in LIKE_CASES:
        t0 = time.monotonic()
        r = client.get(ITEMS, params={"filter": text, "limit": 100})
        timings[text] = round(time.monotonic() - t0, 3)
        assert r.status_code in (200, 503), r.text
        if r.status_code == 200:
            assert _ids(r) == env.want(keep), text
        else:
            assert r.headers["Retry-After"]
    # cql2-json, the same matcher
    doc = {"op": "like", "args": [{"property": "name"}, "%" * 19 + "Q"]}
    r = client.get(ITEMS, params={"filter": json.dumps(doc), "filter-lang": "cql2-json"})
    assert r.status_code == 200 and _ids(r) == env.want(lambda i: i % 5 == 0)
    print("LIKE timings (s):", timings)
    assert time.monotonic() - total < 60.0  # a safety net, not a performance goal


def test_eight_heavy_requests_leave_the_safety_api_answering(env: Env) -> None:
    heavy = {"filter": "name LIKE '%" + "a_" * 9 + "Z%'", "limit": 100}
    stop = threading.Event()
    in_flight = [0]
    lock = threading.Lock()
    results: list[tuple[int, set[str] | None]] = []
    errors: list[BaseException] = []

    def hammer(url: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=60) as c:
                while not stop.is_set():
                    with lock:
                        in_flight[0] += 1
                    try:
                        r = c.get(ITEMS, params=heavy)
                    finally:
                        with lock:
                            in_flight[0] -= 1
                    results.append((r.status_code, _ids(r) if r.status_code == 200 else None))
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    with serve(create_app(env.location)) as url:
        threads = [threading.Thread(target=hammer, args=(url,)) for _ in range(8)]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 30
            while in_flight[0] < 8 and time.monotonic() < deadline:
                time.sleep(0.01)
            answers = []
            for _ in range(5):
                t0 = time.monotonic()
                r = httpx.get(
                    url + "/api/v1/safety/point",
                    params={"lat": 48.006, "lon": 37.51, "radius": 100},
                    timeout=60,
                )
                with lock:
                    busy = in_flight[0]
                answers.append((r.status_code, busy, round(time.monotonic() - t0, 3)))
                assert r.status_code == 200 and r.json()["warning_level"] == "inside"
                assert busy > 0  # the heavy requests were still running
        finally:
            stop.set()
            for t in threads:
                t.join(60)
    print("safety answers (status, heavy in flight, s):", answers)
    assert not errors
    assert results and all(code in (200, 503) for code, _ in results)
    assert all(got == set() for code, got in results if code == 200)  # 'Z' is in no name


def test_request_budget_gives_503_with_retry_after(env: Env) -> None:
    client = TestClient(create_app(env.location, request_budget_s=0.02))
    slow = {"filter": "name LIKE '%" + "a_" * 9 + "Z%'", "count": "true"}
    r = client.get(ITEMS, params=slow)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["Retry-After"] == "1"
    body = r.json()
    assert body["status"] == 503 and "time budget" in body["detail"]
    # a cheap request under the same budget still answers; the safety API has no budget
    assert client.get(ITEMS, params={"limit": 1}).status_code in (200, 503)
    assert client.get("/api/v1/health").status_code == 200
    # no budget (None or 0): the same request answers
    free = TestClient(create_app(env.location, request_budget_s=0))
    r = free.get(ITEMS, params=slow)
    assert r.status_code == 200 and r.json()["numberMatched"] == 0


def test_tile_budget_gives_503(env: Env) -> None:
    client = TestClient(create_app(env.location, request_budget_s=1e-9))
    r = client.get("/tiles/hazards/12/2474/1423.mvt")
    assert r.status_code == 503 and r.headers["Retry-After"]
    ok = TestClient(create_app(env.location))
    assert ok.get("/tiles/hazards/12/2474/1423.mvt").status_code == 200


def test_serve_request_budget_option(env: Env) -> None:
    """``demine serve --request-budget``: the real command, a real server process."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demine.cli.app",
            "serve",
            "--db",
            env.location,
            "--port",
            str(port),
            "--request-budget",
            "0.02",
        ],
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        print(f"serve: started in {time.monotonic() - deadline + 60:.2f} s")
        slow = {"filter": "name LIKE '%" + "a_" * 9 + "Z%'", "count": "true"}
        r = httpx.get(url + ITEMS, params=slow, timeout=60)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        # SIGTERM stops the server promptly, even right after heavy requests
        t0 = time.monotonic()
        proc.terminate()
        proc.wait(20)
        print(f"serve: stopped {time.monotonic() - t0:.2f} s after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# --- limits and 400s -------------------------------------------------------------------------


def _bad(r: httpx.Response, parameter: str, *words: str) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["parameter"] == parameter, body
    for w in words:
        assert w in body["detail"], (w, body["detail"])
    return body


def test_filter_limits(env: Env) -> None:
    client = TestClient(create_app(env.location))
    long_text = "name = '" + "x" * MAX_FILTER_BYTES + "'"
    _bad(client.get(ITEMS, params={"filter": long_text}), "filter", "MAX_FILTER_BYTES", "8192")
    many = " OR ".join(["name = 'a'"] * (MAX_FILTER_NODES // 2))
    assert len(many.encode()) <= MAX_FILTER_BYTES
    _bad(client.get(ITEMS, params={"filter": many}), "filter", "MAX_FILTER_NODES", "500")
    big_in = "name IN (" + ",".join(["'a'"] * MAX_FILTER_NODES) + ")"
    _bad(client.get(ITEMS, params={"filter": big_in}), "filter", "MAX_FILTER_NODES")
    pat = "name LIKE '" + "%a" * (MAX_LIKE_PATTERN // 2 + 1) + "'"
    _bad(client.get(ITEMS, params={"filter": pat}), "filter", "MAX_LIKE_PATTERN", "256")
    _bad(client.get(ITEMS, params={"filter": "name LIKE 'abc\\'"}), "filter", "escape")
    nested = "T_AFTER(reported_on, " * 300 + "DATE('2020-01-01')" + ")" * 300
    t0 = time.monotonic()
    _bad(client.get(ITEMS, params={"filter": nested}), "filter", "nested too deeply")
    assert time.monotonic() - t0 < 10.0  # each level was rescanned: quadratic before
    # just under the limits is fine
    ok = " OR ".join(["name = 'a'"] * 100)
    assert client.get(ITEMS, params={"filter": ok}).status_code == 200
    pat_ok = "name LIKE '" + "%" * (MAX_LIKE_PATTERN - 1) + "Q'"
    r = client.get(ITEMS, params={"filter": pat_ok})
    assert r.status_code == 200 and _ids(r) == env.want(lambda i: i % 5 == 0)


def test_many_timestamps_parse_fast_and_strictly(env: Env) -> None:
    """pygeofilter's dateparser took ~50 ms a timestamp and read 'next week' as a date."""
    client = TestClient(create_app(env.location))
    one = "T_INTERSECTS(reported_on, INTERVAL('2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z'))"
    text = " OR ".join([one] * 80)
    t0 = time.monotonic()
    r = client.get(ITEMS, params={"filter": text})
    assert r.status_code == 200 and time.monotonic() - t0 < 5.0
    doc = {"op": "t_after", "args": [{"property": "reported_on"}, {"timestamp": "next week"}]}
    r = client.get(ITEMS, params={"filter": json.dumps(doc), "filter-lang": "cql2-json"})
    _bad(r, "filter", "RFC 3339")


BAD_PARAMETERS: list[tuple[dict[str, str], str]] = [
    ({"offset": "9223372036854775808"}, "offset"),
    ({"offset": "9223372036854775807"}, "offset"),
    ({"offset": "1" + "0" * 40}, "offset"),
    ({"offset": "9" * 5000}, "offset"),
    ({"offset": "-1"}, "offset"),
    ({"offset": "-9223372036854775809"}, "offset"),
    ({"offset": "1e3"}, "offset"),
    ({"offset": "٣"}, "offset"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-9223372036854775809"}, "limit"),
    ({"limit": "nan"}, "limit"),
    ({"limit": "-" + "9" * 5000}, "limit"),
    ({"bbox": "nan,0,1,1"}, "bbox"),
    ({"bbox": "0,0,inf,1"}, "bbox"),
    ({"bbox": "0,0,1,1e400"}, "bbox"),
    ({"bbox": "-1e308,-1e308,1e308,1e308", "bbox-crs": "[EPSG:32637]"}, "bbox"),
    ({"datetime": "garbage"}, "datetime"),
    ({"datetime": "next week"}, "datetime"),
    ({"datetime": "2024-02-30"}, "datetime"),
    ({"datetime": "/"}, "datetime"),
    ({"filter": "name = 'x'", "filter-lang": "cql2-wat"}, "filter-lang"),
    ({"filter": "name = 'x'", "filter-crs": "bogus"}, "filter-crs"),
    ({"filter": "name = 'x'", "filter-crs": "[EPSG:99999]"}, "filter-crs"),
    ({"filter": "S_INTERSECTS(geometry, POINT(1e400 0))"}, "filter"),
    ({"filter": "BBOX(geometry, 1e400, 0, 1, 1)"}, "filter"),
    (
        {
            "filter": "S_INTERSECTS(geometry, POINT(1e300 1e300))",
            "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/32637",
        },
        "filter",
    ),
    ({"filter": json.dumps({"op": "in", "args": [{"property": "name"}, 5]})}, "filter"),
    ({"filter": json.dumps({"op": "in", "args": [{"property": "name"}, "ab"]})}, "filter"),
    ({"filter": json.dumps({"op": "in", "args": [{"property": "name"}, {"a": 1}]})}, "filter"),
    (
        {"filter": json.dumps({"op": "like", "args": [{"property": "name"}, 5]})},
        "filter",
    ),
    ({"crs": "bogus"}, "crs"),
    ({"f": "xml"}, "f"),
]


def test_bad_parameters_are_400_naming_them(env: Env) -> None:
    client = TestClient(create_app(env.location), raise_server_exceptions=False)
    for params, parameter in BAD_PARAMETERS:
        if params.get("filter", "").startswith("{"):
            params = {**params, "filter-lang": "cql2-json"}
        r = client.get(ITEMS, params=params)
        assert r.status_code == 400, (params, r.status_code, r.text[:300])
        body = _bad(r, parameter)
        assert len(body["detail"]) < 600, params  # a 5,000-digit value is not echoed whole


def test_huge_limit_is_capped_and_big_offset_answers(env: Env) -> None:
    client = TestClient(create_app(env.location, max_limit=20))
    r = client.get(ITEMS, params={"limit": "9223372036854775808"})
    assert r.status_code == 200 and r.json()["numberReturned"] == 20
    r = client.get(ITEMS, params={"limit": "9" * 5000})
    assert r.status_code == 200 and r.json()["numberReturned"] == 20
    r = client.get(ITEMS, params={"offset": "1000000000"})
    assert r.status_code == 200 and r.json()["numberReturned"] == 0
    r = client.get(ITEMS, params={"offset": "1000000000", "filter": "name LIKE '%Q'"})
    assert r.status_code == 200 and r.json()["numberReturned"] == 0


def test_casei_works(env: Env) -> None:
    """pygeofilter reads CASEI as a function named 'lower', which was refused before."""
    client = TestClient(create_app(env.location))
    r = client.get(ITEMS, params={"filter": "CASEI(status) = CASEI('OPEN')"})
    assert r.status_code == 200 and len(_ids(r)) == N


# --- the tile cache -------------------------------------------------------------------------


def test_tile_cache_is_bounded_for_empty_tiles(env: Env) -> None:
    assert CACHE_MAX_ENTRIES < 10**6 and CACHE_MAX_BYTES < 2**31  # the default is bounded
    app = create_app(env.location)
    cache = _LRU(max_bytes=1_000_000, max_entries=40)
    app.state.tile_cache = cache
    with TestClient(app) as client:  # one event loop: its worker threads (connections) stay
        _empty_tiles(client, cache)


def _empty_tiles(client: TestClient, cache: _LRU) -> None:
    for k in range(200):  # distinct empty tiles far from any hazard (the Atlantic, zoom 22)
        r = client.get(f"/tiles/hazards/22/{1_500_000 + k}/{1_600_000 + k}.mvt")
        assert r.status_code == 204
        assert len(cache) <= 40
    assert len(cache) == 40 and cache.bytes <= 1_000_000
    # a full tile still comes (and is cached) after all that
    r = client.get("/tiles/hazards/12/2474/1423.mvt")
    assert r.status_code == 200 and r.content
    assert any(v for v in cache.items.values())


def test_lru_counts_empty_entries_in_bytes() -> None:
    cache = _LRU(max_bytes=10_000, max_entries=10**6)
    for k in range(1000):
        cache.put(("hazards", 22, k, k, "public", "v1"), b"")
    assert 0 < len(cache) <= 50 and cache.bytes <= 10_000
    cache.put(("big",), b"x" * 20_000)  # bigger than the whole cache: not kept
    assert cache.get(("big",)) is None and cache.bytes <= 10_000
    cache.put(("t",), b"tile")
    assert cache.get(("t",)) == b"tile"
