"""Shared helpers for the benchmarks: synthetic data, timing, machine description, tables, results.

Synthetic data goes to ``bench/.data/`` (git-ignored), is made on demand and reused when present.
Results go to ``bench/results/<name>.json``. Nothing here is timed itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SRC = ROOT / "src"
DATA = BENCH / ".data"
RESULTS = BENCH / "results"

# The study area: eastern Ukraine.
LON_MIN, LON_MAX = 33.0, 40.0
LAT_MIN, LAT_MAX = 46.0, 51.0
VERTICES = 30  # distinct vertices per polygon (31 positions with the closing one)
AREA_HA = (1.0, 50.0)  # log-uniform between these
SEED_HAZARDS = 20240601
SEED_POINTS = 20240602
SEED_CHECKS = 20240603

FULL_HAZARDS, QUICK_HAZARDS = 100_000, 10_000
FULL_POINTS, QUICK_POINTS = 1_000_000, 100_000

_M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator), local

if str(SRC) not in sys.path:  # demine from the working tree when not installed
    sys.path.insert(0, str(SRC))


# --- data ---------------------------------------------------------------------------------------


def data_dir() -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    return DATA


def hazard_id(i: int) -> str:
    """The source id of the i-th synthetic hazard (0-based): bench-000001 for i = 0."""
    return f"bench-{i + 1:06d}"


def hazard_rings(
    n: int, seed: int = SEED_HAZARDS, *, vertices: int = VERTICES
) -> tuple[np.ndarray, np.ndarray]:
    """n closed, counter-clockwise, simple (star-shaped) rings of VERTICES+1 lon/lat positions
    (``vertices`` + 1 when given).

    Returns (rings, target areas in m²); rings has shape (n, VERTICES + 1, 2). Each ring is
    star-shaped around its centre (sorted angles, positive radii), hence simple; it is scaled so
    that its area in a local tangent plane equals a log-uniform target of 1–50 ha (the geodesic
    area agrees to about 0.15 % at these sizes). Positions are rounded to 1e-7° (1 cm).
    """
    rng = np.random.default_rng(seed)
    lo, hi = math.log(AREA_HA[0] * 1e4), math.log(AREA_HA[1] * 1e4)
    area = np.exp(rng.uniform(lo, hi, n))  # m²
    clon = rng.uniform(LON_MIN + 0.01, LON_MAX - 0.01, n)
    clat = rng.uniform(LAT_MIN + 0.01, LAT_MAX - 0.01, n)
    k = vertices
    step = 2 * math.pi / k
    ang = (np.arange(k) * step)[None, :] + rng.uniform(-0.35, 0.35, (n, k)) * step
    ang += rng.uniform(0, 2 * math.pi, (n, 1))  # random rotation
    elong = rng.uniform(1.0, 2.5, (n, 1))  # some are elongated (fields, tree lines)
    rad = rng.uniform(0.75, 1.25, (n, k))
    x = rad * np.cos(ang) * elong
    y = rad * np.sin(ang) / elong
    # shoelace area of the unit shape, then scale to the target
    a0 = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    s = np.sqrt(area / a0)[:, None]
    x, y = x * s, y * s  # metres
    lat = clat[:, None] + y / _M_PER_DEG
    lon = clon[:, None] + x / (_M_PER_DEG * np.cos(np.radians(lat)))
    ring = np.stack([lon, lat], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    return np.round(ring, 7), area


def hazards_geojson(
    n: int, seed: int = SEED_HAZARDS, *, log: Callable[[str], None] = print
) -> Path:
    """One GeoJSON FeatureCollection of n synthetic hazards (made once, then reused)."""
    path = data_dir() / f"hazards_{n}_{seed}.geojson"
    if path.exists():
        return path
    import orjson
    import shapely

    log(f"making {path.name} ({n:,} polygons) ...")
    t0 = time.perf_counter()
    rings, _ = hazard_rings(n, seed)
    polys = shapely.polygons(rings)
    bad = np.flatnonzero(~shapely.is_valid(polys))
    assert bad.size == 0, f"synthetic polygons not valid: {bad[:10]}"
    assert shapely.is_ccw(shapely.get_exterior_ring(polys)).all()
    rng = np.random.default_rng(seed + 1)
    types = np.where(rng.random(n) < 0.6, "SHA", "CHA")
    coords = rings.tolist()
    feats = [
        {
            "type": "Feature",
            "id": hazard_id(i),
            "properties": {
                "hazard_type": str(types[i]),
                "status": "open",
                "name": f"Synthetic hazard {i + 1}",
            },
            "geometry": {"type": "Polygon", "coordinates": [coords[i]]},
        }
        for i in range(n)
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    tmp.replace(path)
    log(f"  {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f} s")
    return path


def random_points(n: int, seed: int = SEED_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """n uniformly random lon/lat points in the study area (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(LON_MIN, LON_MAX, n), rng.uniform(LAT_MIN, LAT_MAX, n)


def _demine_store_fingerprint() -> str:
    """A hash of the demine sources that shape a store, so a cached store is rebuilt when they
    change."""
    h = hashlib.sha1()
    for rel in (
        "store/gpkg.py",
        "store/gpkg_format.py",
        "store/base.py",
        "model/kinds.py",
        "model/schema.py",
        "services/register.py",
    ):
        p = SRC / "demine" / rel
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()[:12]


def hazard_store(n: int, *, fresh: bool = False, log: Callable[[str], None] = print) -> Path:
    """A demine store holding the n synthetic hazards, made with the demine CLI and reused while
    demine's store code is unchanged."""
    src = hazards_geojson(n, log=log)
    path = data_dir() / f"store_{n}.gpkg"
    stamp = path.with_suffix(".json")
    fp = _demine_store_fingerprint()
    if not fresh and path.exists() and stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("fingerprint") == fp and meta.get("source") == src.name:
            return path
    log(f"making {path.name} with 'demine import' ({n:,} hazards) ...")
    tmp = path.with_name(path.stem + ".tmp.gpkg")
    _remove_gpkg(tmp)
    t0 = time.perf_counter()
    run_checked(demine_cmd("--db", str(tmp), "init", "--json"))
    out = run_checked(
        demine_cmd("--db", str(tmp), "import", str(src), "--kind", "hazards", "--json")
    )
    rep = json.loads(out)
    assert rep.get("imported") == n, f"import stored {rep.get('imported')} of {n}"
    _remove_gpkg(path)
    tmp.replace(path)
    stamp.write_text(json.dumps({"fingerprint": fp, "source": src.name, "n": n}))
    log(f"  done in {time.perf_counter() - t0:.1f} s")
    return path


def _remove_gpkg(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()


remove_gpkg = _remove_gpkg


# --- running demine and other programs ------------------------------------------------------


def subprocess_env(*, bytecode_cache: bool = True) -> dict[str, str]:
    """The environment of the programs timed. With ``bytecode_cache`` (the default) compiled
    modules are cached under bench/.data/pycache, as an installed program's are, even where
    PYTHONDONTWRITEBYTECODE is set; without it nothing is cached and every process compiles
    demine's sources again."""
    env = dict(os.environ)
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + pp if pp else "")
    env.setdefault("DEMINE_USER", "bench")
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(data_dir() / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def demine_cmd(*args: str) -> list[str]:
    """The demine command line: the console script next to this Python when installed, else the
    same entry point through ``python -c``."""
    exe = Path(sys.executable).parent / "demine"
    if exe.exists():
        return [str(exe), *args]
    return [
        sys.executable,
        "-c",
        "import sys; from demine.cli.app import main; sys.argv[0] = 'demine'; sys.exit(main())",
        *args,
    ]


def run_checked(cmd: Sequence[str]) -> str:
    p = subprocess.run(list(cmd), capture_output=True, text=True, env=subprocess_env())
    if p.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} ... exited {p.returncode}:\n"
            f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        )
    return p.stdout


def time_cmd(cmd: Sequence[str], *, bytecode_cache: bool = True) -> tuple[float, str]:
    """Wall time (s) of one run of a command, start to exit; its stdout. Raises on failure."""
    env = subprocess_env(bytecode_cache=bytecode_cache)
    t0 = time.perf_counter()
    p = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} ... exited {p.returncode}:\n"
            f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        )
    return dt, p.stdout


@contextmanager
def timer(into: dict[str, float], key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - t0


def best_of(f: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """The best wall time of ``repeat`` calls of ``f``, and its last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def summary(times: Sequence[float]) -> dict[str, float]:
    ts = sorted(times)
    p90 = ts[min(len(ts) - 1, math.ceil(0.9 * len(ts)) - 1)]
    return {
        "n": len(ts),
        "min": ts[0],
        "median": statistics.median(ts),
        "p90": p90,
        "max": ts[-1],
        "mean": statistics.fmean(ts),
    }


def retry(
    what: str,
    fn: Callable[[], Any],
    *,
    wait_s: float,
    until_s: float,
    log: Callable[[str], None] = print,
) -> Any:
    """Call fn until it succeeds or until_s seconds have passed (demine is being written while
    these benchmarks are); re-raise the last error then."""
    t_end = time.monotonic() + until_s
    while True:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - any failure of the code under test
            if time.monotonic() + wait_s > t_end:
                raise
            log(
                f"{what} failed ({type(e).__name__}: {str(e).strip()[:300]}); "
                f"retrying in {wait_s:.0f} s"
            )
            time.sleep(wait_s)
            for m in [m for m in sys.modules if m == "demine" or m.startswith("demine.")]:
                del sys.modules[m]  # pick up the newest code


# --- the machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(mod: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:  # noqa: BLE001
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + (" + uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict[str, Any]:
    """What the benchmarks ran on."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "demine_commit": _git_commit(),
    }
    try:
        ogr = shutil.which("ogr2ogr")
        info["ogr2ogr"] = subprocess.run(
            [ogr or "ogr2ogr", "--version"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        info["ogr2ogr"] = None
    libs = {
        m: _version(m)
        for m in ("numpy", "shapely", "pyproj", "pyogrio", "geopandas", "orjson", "pandas")
    }
    try:
        import shapely

        libs["GEOS"] = shapely.geos_version_string
    except ImportError:
        pass
    try:
        import pyproj

        libs["PROJ"] = pyproj.proj_version_str
    except ImportError:
        pass
    try:
        import pyogrio

        libs["GDAL (pyogrio)"] = pyogrio.__gdal_version_string__
    except ImportError:
        pass
    import sqlite3

    libs["SQLite"] = sqlite3.sqlite_version
    info["libraries"] = {k: v for k, v in libs.items() if v}
    return info


def machine_lines(m: dict[str, Any]) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    return [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}",
        f"Python {m['python']}; {m['ogr2ogr'] or 'ogr2ogr not found'}",
        f"libraries: {libs}",
        f"demine: {m['demine_commit']}; run {m['date']}",
    ]


# --- tables and results ------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    demine_s: float | None
    anchor: str
    anchor_s: float | None
    goal: str = ""
    goal_ratio: float | None = None  # met when demine / anchor <= goal_ratio
    note: str = ""
    goal_s: float | None = None  # met when demine's own time is under goal_s (a time goal)

    @property
    def ratio(self) -> float | None:
        if self.demine_s is None or not self.anchor_s:
            return None
        return self.demine_s / self.anchor_s

    @property
    def met(self) -> bool | None:
        if self.goal_s is not None and self.demine_s is not None:
            return self.demine_s < self.goal_s
        if self.goal_ratio is None or self.ratio is None:
            return None
        return self.ratio <= self.goal_ratio

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "demine_s": self.demine_s,
            "anchor": self.anchor,
            "anchor_s": self.anchor_s,
            "ratio": self.ratio,
            "goal": self.goal,
            "goal_ratio": self.goal_ratio,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Report:
    name: str
    title: str
    quick: bool
    params: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=machine)

    def print(self) -> None:
        print_table(self)

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}{'-quick' if self.quick else ''}.json"
        doc = {
            "benchmark": self.name,
            "title": self.title,
            "quick": self.quick,
            "machine": self.machine,
            "params": self.params,
            "rows": [r.to_dict() for r in self.rows],
            "details": self.details,
            "notes": self.notes,
        }
        path.write_text(json.dumps(doc, indent=2, default=_json_default) + "\n")
        return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def fmt_s(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.0f} ms"
    return f"{s:.2f} s"


def _fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def _fmt_met(m: bool | None) -> str:
    return "—" if m is None else ("yes" if m else "NO")


def print_table(rep: Report) -> None:
    lines = machine_lines(rep.machine)
    headers = ("what", "demine", "anchor", "anchor time", "ratio", "goal", "met?")
    cells = [
        (
            r.what,
            fmt_s(r.demine_s),
            r.anchor,
            fmt_s(r.anchor_s),
            _fmt_ratio(r.ratio),
            r.goal or "—",
            _fmt_met(r.met),
        )
        for r in rep.rows
    ]
    title = rep.title + (" (--quick)" if rep.quick else "")
    try:
        from rich.console import Console
        from rich.table import Table

        con = Console(highlight=False, width=max(120, shutil.get_terminal_size().columns))
        t = Table(*headers, title=title)
        for c, r in zip(cells, rep.rows, strict=True):
            style = None if r.met is None else ("green" if r.met else "red")
            t.add_row(*c, style=style)
        con.print(t)
        for line in [*rep.notes, *lines]:
            con.print(line, markup=False)
    except ImportError:
        print(title)
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        for c in cells:
            print("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)))
        for line in [*rep.notes, *lines]:
            print(line)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- large stores (added for bench/api.py) ------------------------------------------------------


def hazard_store_chunked(
    n: int,
    *,
    vertices: int = VERTICES,
    chunk: int = 100_000,
    seed: int = SEED_HAZARDS,
    fresh: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """A demine store of n synthetic hazards (rings of ``vertices`` vertices, same generator and
    properties as :func:`hazards_geojson`), built in-process by ``demine.services.register.
    import_file`` from GeoJSON files of ``chunk`` features each (written to bench/.data, imported,
    deleted), after ``init_store``. Made once and reused while demine's store code is unchanged.

    For a million features this avoids one GeoJSON file of about 1 GB and the memory of parsing
    it at once; each chunk goes through the same checks, geodesic areas and ``store.upsert`` as
    ``demine import``.
    """
    path = data_dir() / f"store_{n}_{vertices}v.gpkg"
    stamp = path.with_suffix(".json")
    fp = _demine_store_fingerprint()
    if not fresh and path.exists() and stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("fingerprint") == fp and meta.get("seed") == seed:
            return path
    import gc

    import orjson

    from demine.services.register import ImportOptions, import_file
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    log(f"making {path.name} ({n:,} hazards, {vertices} vertices, chunks of {chunk:,}) ...")
    t0 = time.perf_counter()
    rings, _ = hazard_rings(n, seed, vertices=vertices)
    rng = np.random.default_rng(seed + 1)
    types = np.where(rng.random(n) < 0.6, "SHA", "CHA")
    tmp = path.with_name(path.stem + ".tmp.gpkg")
    _remove_gpkg(tmp)
    store = GeoPackageStore(tmp)
    try:
        init_store(store)
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            coords = rings[start:stop].tolist()
            feats = [
                {
                    "type": "Feature",
                    "id": hazard_id(i),
                    "properties": {
                        "hazard_type": str(types[i]),
                        "status": "open",
                        "name": f"Synthetic hazard {i + 1}",
                    },
                    "geometry": {"type": "Polygon", "coordinates": [coords[i - start]]},
                }
                for i in range(start, stop)
            ]
            src = data_dir() / f"chunk_{start}_{stop}.geojson"
            src.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
            del feats, coords
            rep = import_file(
                store, src, ImportOptions(kind="hazards", reason="benchmark data", actor="bench")
            )
            src.unlink()
            assert rep.imported == stop - start, f"chunk {start}: stored {rep.imported}"
            gc.collect()
            log(f"  {stop:,} stored ({time.perf_counter() - t0:.0f} s)")
    finally:
        store.close()
    _remove_gpkg(path)
    tmp.replace(path)
    stamp.write_text(json.dumps({"fingerprint": fp, "seed": seed, "n": n, "vertices": vertices}))
    log(f"  done in {time.perf_counter() - t0:.0f} s, {path.stat().st_size / 1e6:,.0f} MB")
    return path
