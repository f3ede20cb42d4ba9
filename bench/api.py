"""Benchmark: the web API under load, 50 concurrent clients, against pygeoapi.

A demine store of 1,000,000 synthetic hazards (``--quick``: 100,000) is served by
``demine.api.create_app`` under uvicorn on 127.0.0.1, and loaded with ``wrk`` (50 connections,
a Lua script rotating through pre-generated, seeded request paths):

1. OGC API Features items page: ``/ogc/collections/hazards/items?limit=100&bbox=...``, random
   0.1° × 0.1° boxes in the data area: throughput, p50, p99.
2. The public safety API: ``/api/v1/safety/point?lat=&lon=&radius=500`` at random points:
   p50, p99. Goal: p99 under 50 ms.
3. Vector tiles: ``/tiles/hazards/8/{x}/{y}.mvt`` (every tile over the data area) and
   ``/tiles/hazards/12/{x}/{y}.mvt`` (random tiles over it): p50.
4. Anchor, in the same run: pygeoapi serving the same items query over the same GeoPackage file
   (its OGR provider), under the same uvicorn with the same number of workers. Goal: demine's
   items throughput at least 3× pygeoapi's.

Both servers run at once (an idle one costs nothing) and the runs alternate: demine items,
pygeoapi items, then the other demine endpoints; ``--rounds N`` repeats the items pair. Each
run is a warm-up then a fixed duration. A few responses are checked first: the same bbox gives
the same features from both servers (and from an exact shapely test).

    python bench/api.py                 # 1,000,000 hazards, 15 s runs
    python bench/api.py --quick         # 100,000 hazards, 5 s runs
    python bench/api.py --profile items,safety   # also py-spy record demine's workers
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

GOAL_ITEMS_X = 3.0  # demine items throughput >= 3x pygeoapi's
GOAL_SAFETY_P99_S = 0.050
BBOX_DEG = 0.1
RADIUS_M = 500
RETRY_WAIT_S, RETRY_FOR_S = 120.0, 40 * 60.0
SEED_API = 20240610
N_PATHS = 4000
# pygeoapi's OGR provider needs GDAL's Python bindings; Debian's python3-gdal (same minor Python)
# is put on the pygeoapi server's path through a directory holding only the osgeo package.
SYS_OSGEO = Path("/usr/lib/python3/dist-packages/osgeo")


def app_factory() -> Any:
    """The demine app for uvicorn's workers (``factory=True``). The safety API's per-client rate
    limit (600 a minute by default) is raised: every wrk connection comes from 127.0.0.1."""
    src = os.environ.get("DEMINE_BENCH_SRC")  # another checkout's demine (api_cql.py's anchor)
    if src:
        assert "demine" not in sys.modules, "demine imported before DEMINE_BENCH_SRC was put first"
        sys.path.insert(0, src)
    from demine.api import create_app

    if src:
        import demine

        assert Path(demine.__file__).is_relative_to(src), demine.__file__
    kw: dict[str, Any] = {}
    if os.environ.get("DEMINE_BENCH_BUDGET"):  # seconds; 0: no request budget (api_cql.py)
        kw["request_budget_s"] = float(os.environ["DEMINE_BENCH_BUDGET"]) or None
    app = create_app(os.environ["DEMINE_BENCH_DB"], rate_limit_per_minute=1_000_000_000, **kw)
    threads = int(os.environ.get("DEMINE_BENCH_THREADS") or 0)
    return _ThreadLimit(app, threads) if threads else app


class _ThreadLimit:
    """Diagnosis only (``--diag-threads N``): the same app with anyio's thread pool, where
    FastAPI runs the sync endpoints, limited to N threads per worker instead of 40."""

    def __init__(self, app: Any, n: int) -> None:
        self.app, self.n, self.done = app, n, False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.done:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.n
            self.done = True
        await self.app(scope, receive, send)


# --- request paths -------------------------------------------------------------------------------


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def make_paths(n: int = N_PATHS, seed: int = SEED_API) -> dict[str, list[str]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    lon0 = rng.uniform(c.LON_MIN, c.LON_MAX - BBOX_DEG, n)
    lat0 = rng.uniform(c.LAT_MIN, c.LAT_MAX - BBOX_DEG, n)
    bboxes = [
        f"{a:.4f},{b:.4f},{a + BBOX_DEG:.4f},{b + BBOX_DEG:.4f}"
        for a, b in zip(lon0.tolist(), lat0.tolist(), strict=True)
    ]
    plon, plat = c.random_points(n, seed + 1)
    x0, y0 = tile_xy(c.LON_MIN, c.LAT_MAX, 8)
    x1, y1 = tile_xy(c.LON_MAX, c.LAT_MIN, 8)
    z8 = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    rng.shuffle(z8)
    tlon, tlat = c.random_points(n, seed + 2)
    z12 = [tile_xy(a, b, 12) for a, b in zip(tlon.tolist(), tlat.tolist(), strict=True)]
    return {
        "bboxes": bboxes,
        "demine_items": [f"/ogc/collections/hazards/items?limit=100&bbox={b}" for b in bboxes],
        "pygeoapi_items": [f"/collections/hazards/items?f=json&limit=100&bbox={b}" for b in bboxes],
        "demine_safety": [
            f"/api/v1/safety/point?lat={b:.6f}&lon={a:.6f}&radius={RADIUS_M}"
            for a, b in zip(plon.tolist(), plat.tolist(), strict=True)
        ],
        "demine_tiles8": [f"/tiles/hazards/8/{x}/{y}.mvt" for x, y in z8],
        "demine_tiles12": [f"/tiles/hazards/12/{x}/{y}.mvt" for x, y in z12],
    }


# --- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        pid = self.proc.pid
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(k) for k in kids]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: uvicorn + workers
                self.proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def uvicorn_cmd(target: str, port: int, workers: int, *, factory: bool, app_dir: str) -> list[str]:
    code = (
        "import sys, uvicorn; "
        f"uvicorn.run({target!r}, host='127.0.0.1', port={port}, workers={workers}, "
        f"factory={factory}, app_dir={app_dir!r}, log_level='warning', access_log=False, "
        "backlog=4096, timeout_keep_alive=30)"
    )
    return [sys.executable, "-c", code]


def start_server(
    name: str, cmd: list[str], port: int, env: dict[str, str], ready: str, work: Path
) -> Server:
    import httpx

    log = work / f"{name}.log"
    fh = log.open("wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, cwd=work
    )
    srv = Server(name, port, proc, log)
    t_end = time.monotonic() + 180
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            r = httpx.get(srv.url + ready, timeout=5)
            if r.status_code < 500:
                return srv
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    srv.stop()
    raise RuntimeError(f"{name} did not answer {ready} within 180 s:\n{log.read_text()[-3000:]}")


def start_demine(db: Path, workers: int, work: Path, threads: int = 0) -> Server:
    env = c.subprocess_env()
    env["DEMINE_BENCH_DB"] = str(db)
    env["DEMINE_BENCH_THREADS"] = str(threads or "")
    port = free_port()
    cmd = uvicorn_cmd("api:app_factory", port, workers, factory=True, app_dir=str(c.BENCH))
    name = f"demine-threads{threads}" if threads else "demine"
    return start_server(name, cmd, port, env, "/api/v1/health", work)


def pygeoapi_config(db: Path, work: Path, port: int) -> tuple[Path, Path]:
    """pygeoapi-config.yml with one collection, hazards, from the demine GeoPackage through the
    OGR provider; and the OpenAPI document made by ``pygeoapi openapi generate``."""
    import yaml

    cfg = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["en-US"],
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 10000},
            "map": {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "OpenStreetMap",
            },
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "demine benchmark anchor",
                "description": "the demine benchmark store served by pygeoapi",
                "keywords": ["hazards"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": "https://example.org",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "demine", "url": "https://example.org"},
            "contact": {"name": "demine", "email": "bench@example.org"},
        },
        "resources": {
            "hazards": {
                "type": "collection",
                "title": "Hazards",
                "description": "synthetic hazards",
                "keywords": ["hazards"],
                "links": [],
                "extents": {
                    "spatial": {
                        "bbox": [c.LON_MIN, c.LAT_MIN, c.LON_MAX, c.LAT_MAX],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "OGR",
                        "data": {
                            "source_type": "GPKG",
                            "source": str(db),
                            "source_capabilities": {"paging": True},
                        },
                        "id_field": "id",
                        "layer": "hazards",
                    }
                ],
            }
        },
    }
    cfg_path = work / "pygeoapi-config.yml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    oapi = work / "pygeoapi-openapi.yml"
    exe = Path(sys.executable).parent / "pygeoapi"
    env = pygeoapi_env(cfg_path, oapi, work)
    p = subprocess.run(
        [str(exe), "openapi", "generate", str(cfg_path), "--output-file", str(oapi)],
        env=env,
        capture_output=True,
        text=True,
    )
    if p.returncode != 0 or not oapi.exists():
        raise RuntimeError(f"pygeoapi openapi generate failed:\n{p.stdout}\n{p.stderr}")
    return cfg_path, oapi


def pygeoapi_env(cfg: Path, oapi: Path, work: Path) -> dict[str, str]:
    env = c.subprocess_env()
    env["PYGEOAPI_CONFIG"] = str(cfg)
    env["PYGEOAPI_OPENAPI"] = str(oapi)
    gdal_dir = work / "sys-gdal"
    if SYS_OSGEO.exists():
        gdal_dir.mkdir(exist_ok=True)
        link = gdal_dir / "osgeo"
        if not link.exists():
            link.symlink_to(SYS_OSGEO)
        env["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + str(gdal_dir)
    return env


def start_pygeoapi(db: Path, workers: int, work: Path) -> Server:
    port = free_port()
    cfg, oapi = pygeoapi_config(db, work, port)
    env = pygeoapi_env(cfg, oapi, work)
    cmd = uvicorn_cmd("pygeoapi.starlette_app:APP", port, workers, factory=False, app_dir=".")
    return start_server("pygeoapi", cmd, port, env, "/collections/hazards?f=json", work)


# --- load ----------------------------------------------------------------------------------------

WRK_LUA = r"""
local threads = {}
local nextid = 0
function setup(thread)
  thread:set("tid", nextid)
  nextid = nextid + 1
  table.insert(threads, thread)
end
function init(args)
  paths = {}
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do paths[#paths + 1] = line end
  f:close()
  i = (tid or 0) * 997
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, \"connect_errors\": %d, " ..
    "\"read_errors\": %d, \"write_errors\": %d, \"status_errors\": %d, \"timeouts\": %d, " ..
    "\"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def wrk(
    url: str,
    paths: list[str],
    seconds: float,
    connections: int,
    threads: int,
    work: Path,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    import json

    script = work / "rotate.lua"
    script.write_text(WRK_LUA)
    with tempfile.NamedTemporaryFile("w", dir=work, suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
        plist = f.name
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        f"{max(1, round(timeout_s))}s",
        "-s",
        str(script),
        url,
        "--",
        plist,
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(plist)
    line = next((x for x in p.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    r = json.loads(line[len("WRKJSON ") :])
    dur = r["duration_us"] / 1e6
    r["rps"] = r["requests"] / dur if dur else 0.0
    r["mb_per_s"] = r["bytes"] / dur / 1e6 if dur else 0.0
    r["errors"] = sum(
        r[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return r


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def wait_idle(servers: list[Server], limit_s: float = 300.0) -> float:
    """Wait until every server's processes are idle (under 5 % of a core over half a second):
    requests still queued when wrk stops are served after it, and must not load the next run.
    Returns the seconds waited."""
    hz = os.sysconf("SC_CLK_TCK")
    pids = [p for s in servers for p in [s.proc.pid, *s.workers()]]
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        a = _cpu_ticks(pids)
        time.sleep(0.5)
        if (_cpu_ticks(pids) - a) / hz < 0.025:
            break
    return time.monotonic() - t0


SERVERS: list[Server] = []  # all running servers, for wait_idle


def load(
    srv: Server,
    paths: list[str],
    args: argparse.Namespace,
    work: Path,
    what: str,
    *,
    clients: int | None = None,
    duration: float | None = None,
    warmup: bool = True,
    drain: bool = True,
) -> dict[str, Any]:
    timeout_s = float(getattr(args, "wrk_timeout", 30.0))
    clients = clients or args.clients
    duration = duration or args.duration
    threads = min(args.wrk_threads, clients)
    c.log(f"  {what}: warm-up {args.warmup:g} s, then {duration:g} s at {clients} ...")
    waited = wait_idle(SERVERS)
    if warmup:
        wrk(srv.url, paths, args.warmup, clients, threads, work, timeout_s)
        waited += wait_idle(SERVERS)
    r = wrk(srv.url, paths, duration, clients, threads, work, timeout_s)
    r["clients"] = clients
    r["drain_s_after"] = wait_idle(SERVERS) if drain else None
    r["idle_wait_s_before"] = waited
    r["cpu_loadavg_1m"] = os.getloadavg()[0]
    c.log(
        f"    {r['rps']:,.0f} req/s, p50 {r['p50_us'] / 1e3:.1f} ms, p99 "
        f"{r['p99_us'] / 1e3:.1f} ms, errors {r['errors']}"
    )
    return r


# --- checks --------------------------------------------------------------------------------------


def probe(srv: Server, path: str) -> str | None:
    """None when the endpoint answers 200, else why not."""
    import httpx

    try:
        r = httpx.get(srv.url + path, timeout=60)
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {e}"
    if r.status_code != 200:
        return f"HTTP {r.status_code}: {r.text[:300]}"
    return None


def exact_ids(db: Path, bbox: tuple[float, float, float, float]) -> set[str]:
    """Ids of the hazards whose polygon intersects the bbox, by shapely (the reference)."""
    import shapely
    from pyogrio import read_dataframe

    pad = 0.02
    df = read_dataframe(
        db,
        layer="hazards",
        columns=["id"],
        bbox=(bbox[0] - pad, bbox[1] - pad, bbox[2] + pad, bbox[3] + pad),
    )
    hit = shapely.intersects(df.geometry.values, shapely.box(*bbox))
    return set(df["id"][hit])


def feature_ids(feats: list[dict[str, Any]]) -> set[str]:
    return {str(f.get("id")) for f in feats}


def check_items(
    db: Path, dem: Server, pyg: Server | None, bboxes: list[str], k: int
) -> dict[str, Any]:
    """For k bboxes: the whole result (limit 1000) from each server against the exact reference,
    and the first page (limit 100) from each."""
    import httpx

    out: list[dict[str, Any]] = []
    for b in bboxes[:k]:
        box = tuple(float(v) for v in b.split(","))
        ref = exact_ids(db, box)  # type: ignore[arg-type]
        row: dict[str, Any] = {"bbox": b, "exact": len(ref)}
        for srv, tmpl in (
            (dem, "/ogc/collections/hazards/items?limit=1000&bbox={}"),
            (pyg, "/collections/hazards/items?f=json&limit=1000&bbox={}"),
        ):
            if srv is None:
                continue
            r = httpx.get(srv.url + tmpl.format(b), timeout=120)
            r.raise_for_status()
            fc = r.json()
            ids = feature_ids(fc.get("features", []))
            row[srv.name] = {
                "returned": len(ids),
                "numberMatched": fc.get("numberMatched"),
                "missing_vs_exact": len(ref - ids),
                "extra_vs_exact": len(ids - ref),
            }
            page = httpx.get(srv.url + tmpl.replace("1000", "100").format(b), timeout=120)
            page.raise_for_status()
            pj = page.json()
            row[srv.name]["page100_features"] = len(pj.get("features", []))
            row[srv.name]["page100_bytes"] = len(page.content)
            row[srv.name]["page100_content_type"] = page.headers.get("content-type")
            row[srv.name]["page100_in_exact"] = len(feature_ids(pj["features"]) & ref)
        if pyg is not None and "pygeoapi" in row and "demine" in row:
            row["same_features"] = row["demine"]["missing_vs_exact"] == 0 and (
                row["demine"]["extra_vs_exact"] == 0
                and row["pygeoapi"]["missing_vs_exact"] == 0
                and row["pygeoapi"]["extra_vs_exact"] == 0
            )
        out.append(row)
    return {"bboxes": out, "all_same": all(r.get("same_features", False) for r in out)}


def check_other(dem: Server, paths: dict[str, list[str]]) -> dict[str, Any]:
    import httpx

    res: dict[str, Any] = {}
    levels: Counter[str] = Counter()
    for p in paths["demine_safety"][:50]:
        r = httpx.get(dem.url + p, timeout=60)
        if r.status_code == 200:
            levels[r.json().get("warning_level", "?")] += 1
        else:
            levels[f"HTTP {r.status_code}"] += 1
    res["safety_levels_first_50"] = dict(levels)
    for key in ("demine_tiles8", "demine_tiles12"):
        sizes = []
        ctypes = set()
        codes: Counter[int] = Counter()
        for p in paths[key][:20]:
            r = httpx.get(dem.url + p, timeout=120)
            codes[r.status_code] += 1
            if r.status_code == 200:
                sizes.append(len(r.content))
                ctypes.add(r.headers.get("content-type"))
        res[key] = {
            "status_first_20": dict(codes),
            "median_bytes": statistics.median(sizes) if sizes else None,
            "max_bytes": max(sizes) if sizes else None,
            "content_types": sorted(t for t in ctypes if t),
        }
    return res


# --- profiling -----------------------------------------------------------------------------------


def profile_load(
    srv: Server, paths: list[str], args: argparse.Namespace, work: Path, what: str
) -> dict[str, Any]:
    """py-spy record of the server's workers (raw collapsed stacks) while wrk loads them;
    returns the top functions by own samples and by inclusive samples."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = work / f"pyspy_{what}.txt"
    secs = max(5, int(args.duration))
    spy = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(srv.proc.pid),
            "--subprocesses",
            "--duration",
            str(secs + 1),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    r = wrk(srv.url, paths, secs, args.clients, args.wrk_threads, work)
    _, err = spy.communicate(timeout=120)
    if not out.exists():
        return {"error": err[-2000:]}
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        cnt = int(n)
        frames = [f for f in stack.split(";") if f]
        # drop the process/thread header frames py-spy adds
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames or _short(frames[-1]).split(" (")[0] in IDLE_LEAVES:
            continue  # a thread waiting for work (py-spy cannot always tell idle threads)
        total += cnt
        own[_short(frames[-1])] += cnt
        for f in {_short(f) for f in frames}:
            incl[f] += cnt
    return {
        "rps_while_profiled": r["rps"],
        "samples": total,
        "own_top": [(f, n, round(100 * n / total, 1)) for f, n in own.most_common(30)],
        "inclusive_top": [(f, n, round(100 * n / total, 1)) for f, n in incl.most_common(45)],
        "raw": str(out),
    }


IDLE_LEAVES = {"Condition.wait", "Queue.get", "Connection._recv", "select", "_worker"}


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file.py:123)"; keep site-packages/package names
    name, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in loc:
            loc = loc.split(marker, 1)[1]
            break
    return f"{name} ({loc})" if loc else name


# --- main ----------------------------------------------------------------------------------------


class GoalRow(c.Row):
    """A row whose goal is an absolute limit (met when demine's figure is below it)."""

    def __init__(self, *a: Any, limit_s: float | None = None, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.limit_s = limit_s

    @property
    def met(self) -> bool | None:  # type: ignore[override]
        if self.limit_s is not None:
            return None if self.demine_s is None else self.demine_s < self.limit_s
        return super().met

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["met"] = self.met
        if self.limit_s is not None:
            d["limit_s"] = self.limit_s
        return d


SCENARIOS = {
    "items": ("demine_items", "OGC items page, limit=100, random 0.1° bbox"),
    "safety": ("demine_safety", f"safety point, radius {RADIUS_M} m, random points"),
    "tiles8": ("demine_tiles8", "vector tile z8, every tile over the area"),
    "tiles12": ("demine_tiles12", "vector tile z12, random tiles over the area"),
}
PROBES = {
    "items": "/ogc/collections/hazards/items?limit=100&bbox=37.0,48.0,37.1,48.1",
    "safety": "/api/v1/safety/point?lat=48.0&lon=37.0&radius=500",
    "tiles8": "/tiles/hazards/8/{}/{}.mvt",
    "tiles12": "/tiles/hazards/12/{}/{}.mvt",
}


def wait_for_endpoints(
    db: Path, args: argparse.Namespace, work: Path
) -> tuple[Server, dict[str, str | None]]:
    """Start demine; while an endpoint is missing or failing, wait 2 minutes and restart it with
    the newest code (up to 40 minutes unless --no-retry)."""
    x8, y8 = tile_xy(37.0, 48.0, 8)
    x12, y12 = tile_xy(37.05, 48.05, 12)
    probes = dict(PROBES)
    probes["tiles8"] = probes["tiles8"].format(x8, y8)
    probes["tiles12"] = probes["tiles12"].format(x12, y12)
    t_end = time.monotonic() + (0 if args.no_retry else RETRY_FOR_S)
    while True:
        dem = start_demine(db, args.workers, work)
        status = {k: probe(dem, p) for k, p in probes.items()}
        bad = {k: v for k, v in status.items() if v}
        if not bad or time.monotonic() + RETRY_WAIT_S > t_end:
            return dem, status
        c.log(f"demine endpoints not ready: {bad}; retrying in {RETRY_WAIT_S:.0f} s")
        dem.stop()
        time.sleep(RETRY_WAIT_S)


def main() -> None:
    if "--cql" in sys.argv[1:]:  # issue 12: CQL2 filters in SQL against the old Python evaluation
        import api_cql

        api_cql.main([a for a in sys.argv[1:] if a != "--cql"])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 hazards and 5 s runs")
    ap.add_argument("--n", type=int, help="number of hazards (overrides --quick)")
    ap.add_argument("--vertices", type=int, default=c.VERTICES, help="vertices per polygon")
    ap.add_argument("--duration", type=float, help="seconds per measured run (15; quick 5)")
    ap.add_argument("--warmup", type=float, help="seconds of warm-up before each run (5; quick 2)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent connections (50)")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers per server (2)")
    ap.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--rounds", type=int, default=1, help="demine/pygeoapi items pairs (1)")
    ap.add_argument("--checks", type=int, default=5, help="bboxes checked against pygeoapi (5)")
    ap.add_argument(
        "--profile",
        default="",
        help="comma-separated scenarios (items,safety,tiles8,tiles12) to py-spy record",
    )
    ap.add_argument(
        "--diag-threads",
        type=int,
        default=0,
        help="also run items and safety on a demine server whose thread pool is limited to N "
        "threads per worker (a diagnosis; not compared with the goals)",
    )
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated scenarios to run (items,safety,tiles12,tiles8); results then go "
        "to api-only-<list>.json",
    )
    ap.add_argument("--no-pygeoapi", action="store_true", help="skip the anchor")
    ap.add_argument("--no-retry", action="store_true", help="do not wait for missing endpoints")
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached store")
    args = ap.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    args.duration = args.duration or (5.0 if args.quick else 15.0)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 5.0)
    only = {k for k in args.only.split(",") if k}
    if only - set(SCENARIOS):
        sys.exit(f"--only: unknown scenarios {sorted(only - set(SCENARIOS))}")
    if only and "items" not in only:
        args.no_pygeoapi = True
    if not shutil.which("wrk"):
        sys.exit("wrk not found (Debian: apt-get install wrk)")

    db = c.hazard_store_chunked(n, vertices=args.vertices, fresh=args.fresh, log=c.log)
    work = c.data_dir() / "api"
    work.mkdir(exist_ok=True)
    paths = make_paths()
    servers = SERVERS
    results: dict[str, Any] = {}
    try:
        dem, status = wait_for_endpoints(db, args, work)
        if only:  # the scenarios left out count as not run
            status = {k: (v if k in only else "not run (--only)") for k, v in status.items()}
        servers.append(dem)
        c.log(f"demine on {dem.url}, workers {dem.workers()}; endpoints: {status}")
        pyg = None
        if not args.no_pygeoapi:
            pyg = start_pygeoapi(db, args.workers, work)
            servers.append(pyg)
            c.log(f"pygeoapi on {pyg.url}, workers {pyg.workers()}")
        c.log("checking responses ...")
        checks: dict[str, Any] = {"endpoints": status}
        if status["items"] is None:
            checks["items"] = check_items(db, dem, pyg, paths["bboxes"], args.checks)
        if not only:
            checks["other"] = check_other(dem, paths)
        c.log(f"  {checks}")

        for rnd in range(args.rounds):
            if status["items"] is None:
                results.setdefault("demine_items", []).append(
                    load(dem, paths["demine_items"], args, work, f"demine items ({rnd + 1})")
                )
            if pyg is not None:
                results.setdefault("pygeoapi_items", []).append(
                    load(pyg, paths["pygeoapi_items"], args, work, f"pygeoapi items ({rnd + 1})")
                )
        for key in ("safety", "tiles12"):
            if status[key] is None:
                pk = SCENARIOS[key][0]
                results[pk] = [load(dem, paths[pk], args, work, f"demine {key}")]
        if status["tiles8"] is None:
            # one client: the time of one z8 tile on an otherwise idle server
            results["demine_tiles8_1client"] = [
                load(
                    dem,
                    paths["demine_tiles8"],
                    args,
                    work,
                    "demine tiles8, one client",
                    clients=1,
                    duration=max(2 * args.duration, 20.0),
                    warmup=False,
                )
            ]
        if args.diag_threads:
            dt = start_demine(db, args.workers, work, args.diag_threads)
            servers.append(dt)
            for key in ("items", "safety"):
                if status[key] is None:
                    pk = SCENARIOS[key][0]
                    results[f"{pk}_threads{args.diag_threads}"] = [
                        load(dt, paths[pk], args, work, f"{dt.name} {key}")
                    ]
            dt.stop()
            servers.remove(dt)
        profiles: dict[str, Any] = {}
        for key in [k for k in args.profile.split(",") if k]:
            if status.get(key) is None:
                c.log(f"  py-spy record of demine {key} ...")
                wait_idle(SERVERS)
                profiles[key] = profile_load(dem, paths[SCENARIOS[key][0]], args, work, key)
        if "items" in args.profile.split(",") and pyg is not None:
            c.log("  py-spy record of pygeoapi items ...")
            wait_idle(SERVERS)
            profiles["pygeoapi_items"] = profile_load(
                pyg, paths["pygeoapi_items"], args, work, "pygeoapi_items"
            )
        if status["tiles8"] is None:
            # last: at 50 clients z8 tiles may outlast the run; the servers are stopped after it
            # rather than left to finish the abandoned requests
            results["demine_tiles8"] = [
                load(
                    dem,
                    paths["demine_tiles8"],
                    args,
                    work,
                    "demine tiles8",
                    warmup=False,
                    drain=False,
                )
            ]
    finally:
        for s in servers:
            s.stop()

    report(args, n, db, status, checks, results, profiles)


def _mid(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(
    args: argparse.Namespace,
    n: int,
    db: Path,
    status: dict[str, str | None],
    checks: dict[str, Any],
    results: dict[str, list[dict[str, Any]]],
    profiles: dict[str, Any],
) -> None:
    name = "api" + (f"-only-{args.only.replace(',', '-')}" if args.only else "")
    rep = c.Report(
        name, f"Web API under load: {n:,} hazards, {args.clients} clients", quick=args.quick
    )
    rep.params = {
        "hazards": n,
        "vertices_per_polygon": args.vertices,
        "store_mb": round(db.stat().st_size / 1e6),
        "clients": args.clients,
        "server": f"uvicorn, {args.workers} worker processes each, 127.0.0.1",
        "uvicorn": c._version("uvicorn"),
        "http": "httptools" if c._version("httptools") else "h11",
        "loop": "uvloop" if c._version("uvloop") else "asyncio",
        "fastapi": c._version("fastapi"),
        "pygeoapi": c._version("pygeoapi"),
        "pygeoapi_provider": "OGR (GDAL GPKG driver), id_field id, layer hazards",
        "load_generator": f"wrk {args.wrk_threads} threads, {args.clients} connections, "
        "Lua script rotating through 4,000 seeded paths per scenario",
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "bbox_deg": BBOX_DEG,
        "safety_radius_m": RADIUS_M,
        "safety_rate_limit": "raised to 1e9 a minute (all clients are 127.0.0.1)",
    }
    d_items = results.get("demine_items")
    p_items = results.get("pygeoapi_items")
    if d_items:
        d_rps = _mid(d_items, "rps")
        p_rps = _mid(p_items, "rps") if p_items else None
        rep.rows.append(
            c.Row(
                f"OGC items page: time per request at {args.clients} clients (1/throughput); "
                f"demine {d_rps:,.0f} req/s" + (f", pygeoapi {p_rps:,.0f} req/s" if p_rps else ""),
                1 / d_rps if d_rps else None,
                "pygeoapi (OGR provider)",
                1 / p_rps if p_rps else None,
                f"≥ {GOAL_ITEMS_X:g}× pygeoapi throughput",
                1 / GOAL_ITEMS_X,
            )
        )
        rep.rows.append(
            c.Row(
                "OGC items page p50 latency",
                _mid(d_items, "p50_us") / 1e6,
                "pygeoapi p50",
                _mid(p_items, "p50_us") / 1e6 if p_items else None,
            )
        )
        rep.rows.append(
            c.Row(
                "OGC items page p99 latency",
                _mid(d_items, "p99_us") / 1e6,
                "pygeoapi p99",
                _mid(p_items, "p99_us") / 1e6 if p_items else None,
            )
        )
    elif p_items:
        rep.rows.append(
            c.Row(
                f"OGC items page: demine endpoint not available ({status['items']})",
                None,
                "pygeoapi (OGR provider)",
                1 / _mid(p_items, "rps"),
            )
        )
    s = results.get("demine_safety")
    if s:
        rep.rows.append(
            GoalRow(
                f"safety point p99 ({_mid(s, 'rps'):,.0f} req/s)",
                _mid(s, "p99_us") / 1e6,
                "",
                None,
                f"p99 < {GOAL_SAFETY_P99_S * 1e3:g} ms",
                limit_s=GOAL_SAFETY_P99_S,
            )
        )
        rep.rows.append(c.Row("safety point p50", _mid(s, "p50_us") / 1e6, "", None))
    else:
        rep.rows.append(c.Row(f"safety point: not available ({status['safety']})", None, "", None))
    for key, z, who in (
        ("demine_tiles12", 12, f"{args.clients} clients"),
        ("demine_tiles8", 8, f"{args.clients} clients"),
        ("demine_tiles8_1client", 8, "one client"),
    ):
        t = results.get(key)
        if t and t[0]["requests"]:
            r0 = t[0]
            rep.rows.append(
                c.Row(
                    f"tile z{z} p50, {who} ({_mid(t, 'rps'):,.2f} req/s, p99 "
                    f"{_mid(t, 'p99_us') / 1e3:,.0f} ms"
                    + (f", {r0['timeouts']} timeouts" if r0["timeouts"] else "")
                    + ")",
                    _mid(t, "p50_us") / 1e6,
                    "",
                    None,
                )
            )
        elif t:
            rep.rows.append(
                c.Row(
                    f"tile z{z}, {who}: no tile completed in {t[0]['duration_us'] / 1e6:.0f} s "
                    f"({t[0]['timeouts']} timeouts)",
                    None,
                    "",
                    None,
                )
            )
        else:
            rep.rows.append(
                c.Row(f"tile z{z}: not available ({status[f'tiles{z}']})", None, "", None)
            )
    if args.diag_threads:
        for key, what in (("demine_items", "OGC items page"), ("demine_safety", "safety point")):
            t = results.get(f"{key}_threads{args.diag_threads}")
            if t:
                rep.rows.append(
                    c.Row(
                        f"diagnosis: {what} with the thread pool limited to "
                        f"{args.diag_threads} per worker: {_mid(t, 'rps'):,.0f} req/s, p50 "
                        f"{_mid(t, 'p50_us') / 1e3:.0f} ms (shown: p99)",
                        _mid(t, "p99_us") / 1e6,
                        "",
                        None,
                    )
                )
    for name, runs in results.items():
        for i, r in enumerate(runs):
            rep.notes.append(
                f"{name}[{i}]: {r['requests']:,} requests in {r['duration_us'] / 1e6:.1f} s = "
                f"{r['rps']:,.0f} req/s, {r['mb_per_s']:.1f} MB/s; p50 {r['p50_us'] / 1e3:.1f} ms,"
                f" p90 {r['p90_us'] / 1e3:.1f}, p99 {r['p99_us'] / 1e3:.1f}, max "
                f"{r['max_us'] / 1e3:.0f} ms; errors {r['errors']} "
                f"(non-2xx {r['status_errors']}, timeouts {r['timeouts']})"
            )
    it = checks.get("items")
    if it:
        rep.notes.append(f"items checks: same features from both (and exact): {it['all_same']}")
    rep.details = {"endpoints": status, "checks": checks, "wrk": results, "profiles": profiles}
    rep.print()
    for key, prof in profiles.items():
        if "own_top" not in prof:
            print(f"profile {key}: {prof}")
            continue
        print(f"\npy-spy, {key}: {prof['samples']:,} samples; top by own time")
        for f, _n, pct in prof["own_top"][:20]:
            print(f"  {pct:5.1f} %  {f}")
        print(f"py-spy, {key}: top inclusive")
        for f, _n, pct in prof["inclusive_top"][:35]:
            print(f"  {pct:5.1f} %  {f}")
    print(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
