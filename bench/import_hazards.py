"""Benchmark 1: import of synthetic hazard polygons from one GeoJSON FeatureCollection.

demine (``demine --db X import in.geojson --kind hazards --json``, a subprocess, after
``demine --db X init``) against ``ogr2ogr -f GPKG out.gpkg in.geojson`` on the same file in the
same run. Goal (issue 16): demine no slower than ogr2ogr.

The CLI imports a large first file of hazards in two processes (services/import_split.py).
Also timed: the library call ``demine.services.register.import_file`` in-process, with worker
processes allowed (two processes, as the CLI) and not (one process), the latter with a
breakdown (parse = ``demine.io.sources.read_source``, checks = ``demine.geo.checks.
check_geometries``, geodesic area, store = ``store.upsert``, rest = properties and records;
and the time in Python's cyclic garbage collector); the floor (the file parsed by orjson and
the very rows demine stored written by SQLite alone); and the bound of any two-process design
on this machine (each half of the file imported by its own process into its own store, both at
once);
``--profile`` adds a cProfile run of the library call and prints its top functions.

    python bench/import_hazards.py            # 100,000 polygons
    python bench/import_hazards.py --quick    # 10,000 polygons
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

GOAL_RATIO = 1.0  # issue 16: no slower than ogr2ogr (was 2x)
RETRY_WAIT_S, RETRY_FOR_S = 120.0, 40 * 60.0


def _children_cpu() -> float:
    """CPU time (user + system, s) of the finished child processes so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_ogr2ogr(src: Path, out: Path, cpu: list[float]) -> float:
    """Wall seconds of ogr2ogr; its CPU seconds (user + system) appended to ``cpu``."""
    c.remove_gpkg(out)
    t0 = _children_cpu()
    dt, _ = c.time_cmd(["ogr2ogr", "-f", "GPKG", str(out), str(src)])
    cpu.append(_children_cpu() - t0)
    return dt


def count_features(gpkg: Path, layer: str | None = None) -> int:
    import pyogrio

    return int(pyogrio.read_info(gpkg, layer=layer)["features"])


def run_demine_cli(src: Path, db: Path, n: int, cpu: list[float]) -> tuple[float, float]:
    """(init seconds, import seconds) of the demine CLI on a new store; the import's CPU
    seconds (user + system, all threads) appended to ``cpu``."""
    c.remove_gpkg(db)
    t_init, _ = c.time_cmd(c.demine_cmd("--db", str(db), "init", "--json"))
    t0 = _children_cpu()
    t_imp, out = c.time_cmd(
        c.demine_cmd("--db", str(db), "import", str(src), "--kind", "hazards", "--json")
    )
    cpu.append(_children_cpu() - t0)
    rep = json.loads(out)
    if rep.get("imported") != n or not rep.get("stored"):
        raise RuntimeError(f"demine import stored {rep.get('imported')} of {n}: {str(rep)[:1000]}")
    return t_init, t_imp


_STAGES = (
    ("demine.io.sources", "read_source", "parse (read_source)"),
    ("demine.geo.checks", "check_geometries", "geometry checks (check_geometries)"),
    ("demine.geo.geodesy", "geodesic_area", "geodesic area"),
    # each new hazard's land-release account for the derived tables: computed ahead on the
    # import's second thread, else inside the store's write
    ("demine.geo.release", "_unreleased", "hazards' land-release accounts"),
)
_NEVER_TOP = {"hazards' land-release accounts": "store (upsert)"}


def _patch_stages(parts: dict[str, float], nested: dict[str, str]) -> list[tuple[Any, str, Any]]:
    """Time each stage function wherever demine holds a reference to it (a module that did
    ``from x import f`` has its own name for it). A stage called inside another is noted in
    ``nested`` (stage -> the outer stage), and one run on another thread as ``nested[stage] =
    "other threads ..."`` (a large file's geometry work runs on two: their times are added
    up), so that neither is counted twice."""
    import importlib
    import threading

    local = threading.local()
    patched: list[tuple[Any, str, Any]] = []
    for modname, fn, key in _STAGES:
        try:
            orig = getattr(importlib.import_module(modname), fn)
        except (ImportError, AttributeError):
            continue

        def wrapped(*a: Any, __orig: Any = orig, __key: str = key, **kw: Any) -> Any:
            stack: list[str] = local.__dict__.setdefault("stack", [])
            if threading.current_thread() is not threading.main_thread():
                nested[__key] = "other threads (times added up), overlapping the rest"
            elif stack:
                nested[__key] = stack[-1]
            stack.append(__key)
            try:
                with c.timer(parts, __key):
                    return __orig(*a, **kw)
            finally:
                stack.pop()

        for name, mod in list(sys.modules.items()):
            if not (name == "demine" or name.startswith("demine.")) or mod is None:
                continue
            for attr, val in list(vars(mod).items()):
                if val is orig:
                    patched.append((mod, attr, orig))
                    setattr(mod, attr, wrapped)
    return patched


def run_demine_library(
    src: Path, db: Path, n: int, profile: bool = False
) -> tuple[float, dict[str, float], dict[str, str], float, str | None]:
    """Time ``import_file`` in-process on a new store, with a breakdown by stage and the time
    spent in Python's cyclic garbage collector (which lands on whichever stage allocates)."""
    import gc

    import demine.io.geojson  # noqa: F401  (loaded, so that its references are patched too)
    from demine.services.register import ImportOptions, import_file
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    c.remove_gpkg(db)
    store = GeoPackageStore(db)
    init_store(store)
    parts: dict[str, float] = {}
    nested: dict[str, str] = {}
    patched = _patch_stages(parts, nested)
    orig_upsert = store.upsert

    def upsert(*a: Any, **kw: Any) -> Any:
        with c.timer(parts, "store (upsert)"):
            return orig_upsert(*a, **kw)

    store.upsert = upsert  # type: ignore[method-assign]
    gc_s = [0.0, 0.0]

    def gc_cb(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_s[1] = time.perf_counter()
        else:
            gc_s[0] += time.perf_counter() - gc_s[1]

    prof = cProfile.Profile() if profile else None
    gc.callbacks.append(gc_cb)
    try:
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        rep = import_file(store, src, ImportOptions(kind="hazards"))
        if prof:
            prof.disable()
        total = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(gc_cb)
        for mod, fn, orig in patched:
            setattr(mod, fn, orig)
        store.close()
    if rep.imported != n:
        raise RuntimeError(f"import_file stored {rep.imported} of {n}")
    for k, where in _NEVER_TOP.items():  # run on the main thread: inside the store's write
        if k in parts:
            nested.setdefault(k, where)
    top = sum(v for k, v in parts.items() if k not in nested)
    parts["rest (properties, ids, records)"] = total - top
    text = None
    if prof:
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        st.sort_stats("tottime").print_stats(25)
        st.sort_stats("cumulative").print_stats(35)
        text = s.getvalue()
    return total, parts, nested, gc_s[0], text


def run_demine_library_two(src: Path, db: Path, n: int) -> float:
    """Time ``import_file`` in-process on a new store with worker processes allowed (as the
    ``demine`` command allows them): the first import of a large file in two processes
    (services/import_split.py)."""
    from demine import procs
    from demine.services import import_split
    from demine.services.register import ImportOptions, import_file
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    c.remove_gpkg(db)
    store = GeoPackageStore(db)
    init_store(store)
    done: list[Any] = []
    real = import_split.split_import

    def record(*a: Any, **kw: Any) -> Any:
        done.append(real(*a, **kw))
        return done[-1]

    import_split.split_import = record  # type: ignore[assignment]
    procs.allow()
    try:
        t0 = time.perf_counter()
        rep = import_file(store, src, ImportOptions(kind="hazards"))
        total = time.perf_counter() - t0
    finally:
        procs.allow(False)
        import_split.split_import = real  # type: ignore[assignment]
        store.close()
    if rep.imported != n or not done or done[0] is None:
        raise RuntimeError(f"not imported in two processes: {rep.imported} of {n}, {done}")
    return total


def run_floor(src: Path, made: Path, work: Path) -> dict[str, float]:
    """What the import cannot go below in Python: the file parsed into Python objects (orjson,
    nothing checked) and the SQLite writes of the very rows demine stored (read back from
    ``made``) into a new store, in one transaction, the way the store writes them (many rows
    per statement, R-tree trigger dropped, index rows written after). Seconds by part."""
    import gc
    import sqlite3

    import numpy as np
    import orjson

    from demine.services.setup import init_store
    from demine.store import gpkg_rtree
    from demine.store.gpkg import GeoPackageStore
    from demine.store.sqlite_many import insert_many

    out: dict[str, float] = {}
    raw = src.read_bytes()
    gc.disable()  # as the import does: millions of small lists
    try:
        t0 = time.perf_counter()
        parsed = orjson.loads(raw)
        out["parse (orjson.loads)"] = time.perf_counter() - t0
        del parsed
    finally:
        gc.enable()
    tables = ("hazards", "demine_history", "demine_derived_hazard")
    old = sqlite3.connect(made)
    cols = {
        t: [r[1] for r in old.execute(f'PRAGMA table_info("{t}")') if r[1] != "fid"] for t in tables
    }
    rows = {
        t: old.execute(
            f"SELECT {', '.join(chr(34) + x + chr(34) for x in cols[t])} FROM {t}"
        ).fetchall()
        for t in tables
    }
    rtree = old.execute("SELECT id, minx, maxx, miny, maxy FROM rtree_hazards_geom").fetchall()
    old.close()
    db = work / "import_floor.gpkg"
    c.remove_gpkg(db)
    init_store(GeoPackageStore(db))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA cache_size = -16384")
    trig = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'hazards' "
        "AND name IN ('rtree_hazards_geom_insert', 'demine_derived_stale_hazards_insert')"
    ).fetchall()
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for name, _ in trig:
        conn.execute(f'DROP TRIGGER "{name}"')
    for t in tables:
        t1 = time.perf_counter()
        insert_many(  # as the store writes many rows (store.sqlite_many)
            conn,
            f"INSERT INTO {t} ({', '.join(chr(34) + x + chr(34) for x in cols[t])}) "
            f"VALUES ({', '.join('?' * len(cols[t]))})",
            rows[t],
        )
        out[f"SQLite writes: {t}"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    # as demine fills it on a first import: packed in bulk (store.gpkg_rtree), from the
    # envelopes (here read back, not taken from the blobs)
    ids = np.array([r[0] for r in rtree], dtype=np.int64)
    env = np.array([r[1:] for r in rtree], dtype=np.float64)  # minx, maxx, miny, maxy
    if not gpkg_rtree.fill(conn, "rtree_hazards_geom", ids, env):
        raise RuntimeError("the R-tree was not packed in bulk")
    out["SQLite writes: R-tree (packed in bulk)"] = time.perf_counter() - t1
    for _, ddl in trig:
        conn.execute(ddl)
    t1 = time.perf_counter()
    conn.execute("COMMIT")
    out["SQLite writes: commit"] = time.perf_counter() - t1
    out["SQLite writes, all"] = time.perf_counter() - t0
    conn.close()
    c.remove_gpkg(db)
    return out


def split_halves(src: Path, work: Path) -> tuple[Path, Path]:
    """The file's features in two halves, each a FeatureCollection of its own (not timed)."""
    import orjson

    data = orjson.loads(src.read_bytes())
    feats = data["features"]
    half = len(feats) // 2
    out = []
    for i, part in enumerate((feats[:half], feats[half:])):
        path = work / f"{src.stem}_half{i + 1}.geojson"
        path.write_bytes(orjson.dumps({**data, "features": part}))
        out.append(path)
    return out[0], out[1]


def run_split(halves: tuple[Path, Path], work: Path, n: int) -> float:
    """The bound of a two-process import on this machine: each half of the file imported by
    its own ``demine import`` process into its own new store, both at once (nothing shared,
    nothing coordinated: no design that writes one store can do better). Wall seconds from the
    start of both to the end of the last."""
    import subprocess

    dbs = [work / f"import_split_{i + 1}.gpkg" for i in range(2)]
    for db in dbs:
        c.remove_gpkg(db)
        c.time_cmd(c.demine_cmd("--db", str(db), "init", "--json"))
    env = c.subprocess_env()
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            c.demine_cmd("--db", str(db), "import", str(h), "--kind", "hazards", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for db, h in zip(dbs, halves, strict=True)
    ]
    outs = [p.communicate() for p in procs]
    dt = time.perf_counter() - t0
    got = 0
    for p, (out, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"demine import of a half exited {p.returncode}: {err[-2000:]!r}")
        got += int(json.loads(out)["imported"])
    if got != n:
        raise RuntimeError(f"the two halves stored {got} of {n}")
    for db in dbs:
        c.remove_gpkg(db)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 polygons instead of 100,000")
    ap.add_argument("--n", type=int, help="number of polygons (overrides --quick)")
    ap.add_argument(
        "--repeat",
        type=int,
        help="runs of each (default 3 quick, 1 full); the best run is compared",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run the library import under cProfile and print the top",
    )
    ap.add_argument(
        "--no-retry",
        action="store_true",
        help="fail at once when demine fails (default: retry for 40 min)",
    )
    args = ap.parse_args()
    n = args.n or (c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS)
    repeat = args.repeat or (3 if args.quick else 1)
    if not shutil.which("ogr2ogr"):
        sys.exit("ogr2ogr not found (Debian: apt-get install gdal-bin)")

    src = c.hazards_geojson(n, log=c.log)
    work = c.data_dir()
    out_ogr = work / "import_ogr2ogr.gpkg"
    db_cli = work / "import_demine_cli.gpkg"
    db_lib = work / "import_demine_lib.gpkg"

    t_ogr: list[float] = []
    t_init: list[float] = []
    t_cli: list[float] = []
    cpu_ogr: list[float] = []
    cpu_cli: list[float] = []
    for r in range(repeat):
        c.log(f"run {r + 1}/{repeat}: ogr2ogr ...")
        t_ogr.append(run_ogr2ogr(src, out_ogr, cpu_ogr))
        assert count_features(out_ogr) == n
        c.log(f"  {t_ogr[-1]:.2f} s (CPU {cpu_ogr[-1]:.2f} s); demine CLI ...")
        ti, tc = (
            run_demine_cli(src, db_cli, n, cpu_cli)
            if args.no_retry
            else c.retry(
                "demine import",
                lambda: run_demine_cli(src, db_cli, n, cpu_cli),
                wait_s=RETRY_WAIT_S,
                until_s=RETRY_FOR_S,
                log=c.log,
            )
        )
        t_init.append(ti)
        t_cli.append(tc)
        c.log(f"  init {ti:.2f} s, import {tc:.2f} s (CPU {cpu_cli[-1]:.2f} s)")

    c.log("bound of two processes: the two halves imported at once into two stores ...")
    halves = split_halves(src, work)
    t_split = [run_split(halves, work, n) for _ in range(repeat)]
    for h in halves:
        h.unlink()
    c.log("  " + ", ".join(f"{x:.2f} s" for x in t_split))

    c.log("demine library import_file (in-process, one process) ...")
    t_lib, parts, nested, t_gc, _ = run_demine_library(src, db_lib, n)
    c.log(f"  {t_lib:.2f} s")
    c.log("demine library import_file (in-process, worker processes allowed: two) ...")
    t_two = min(run_demine_library_two(src, db_lib, n) for _ in range(repeat))
    c.log(f"  {t_two:.2f} s")
    c.log("floor: the file parsed, and the same rows written by SQLite alone ...")
    floor = run_floor(src, db_lib, work)
    c.log(f"  {floor['parse (orjson.loads)'] + floor['SQLite writes, all']:.2f} s")
    prof_text = None
    if args.profile:
        c.log("demine library import_file under cProfile ...")
        *_, prof_text = run_demine_library(src, db_lib, n, profile=True)

    ogr, cli = min(t_ogr), min(t_cli)
    rep = c.Report(
        "import_hazards",
        f"Import of {n:,} hazard polygons from one GeoJSON file",
        quick=args.quick and not args.n,
    )
    rep.params = {
        "polygons": n,
        "vertices_per_polygon": c.VERTICES,
        "area_ha": c.AREA_HA,
        "file": src.name,
        "file_mb": round(src.stat().st_size / 1e6, 1),
        "repeat": repeat,
        "compared": "best of the runs",
    }
    rep.rows.append(
        c.Row(
            f"demine import (CLI process), {n:,} polygons",
            cli,
            "ogr2ogr -f GPKG",
            ogr,
            f"≤ {GOAL_RATIO:g}× ogr2ogr",
            GOAL_RATIO,
        )
    )
    rep.rows.append(
        c.Row(
            "demine import_file (library, in-process, two processes as the CLI)",
            t_two,
            "ogr2ogr -f GPKG",
            ogr,
        )
    )
    rep.rows.append(
        c.Row(
            "demine import_file (library, in-process, one process: worker processes not allowed)",
            t_lib,
            "ogr2ogr -f GPKG",
            ogr,
        )
    )
    for k, v in parts.items():
        inside = ""
        if k in nested:
            where = nested[k]
            inside = f" (on {where})" if "thread" in where else f" (inside {where.split(' (')[0]})"
        rep.rows.append(c.Row(f"  {'  ' if inside else ''}of which {k}{inside}", v, "", None))
    rep.rows.append(c.Row("  all stages: Python's cyclic GC", t_gc, "", None))
    t_floor = floor["parse (orjson.loads)"] + floor["SQLite writes, all"]
    rep.rows.append(
        c.Row(
            "floor: file parsed (orjson) + the same rows written by SQLite alone",
            t_floor,
            "ogr2ogr -f GPKG",
            ogr,
        )
    )
    for k, v in floor.items():
        if k != "SQLite writes, all":
            rep.rows.append(c.Row(f"  of which {k}", v, "", None))
    rep.rows.append(
        c.Row(
            "bound of a two-process import: each half of the file by its own demine import "
            "into its own store, both at once",
            min(t_split),
            "ogr2ogr -f GPKG",
            ogr,
        )
    )
    rep.rows.append(c.Row("demine init (new store, not in the ratio)", min(t_init), "", None))
    rep.details = {
        "ogr2ogr_s": t_ogr,
        "demine_cli_import_s": t_cli,
        "demine_init_s": t_init,
        # CPU time (user + system, every thread) of each run: the machine is shared, so
        # this says more than the wall time when others load it
        "ogr2ogr_cpu_s": cpu_ogr,
        "demine_cli_import_cpu_s": cpu_cli,
        "load_average_after": list(os.getloadavg()),
        "library_import_file_s": t_lib,
        "library_import_file_two_processes_s": t_two,
        "library_breakdown_s": parts,
        "library_breakdown_nested": nested,
        "library_gc_s": t_gc,
        "floor_s": floor,
        "two_halves_at_once_s": t_split,
        "per_1000_features_ms": {"demine_cli": cli / n * 1e6, "ogr2ogr": ogr / n * 1e6},
        "store_mb": round(db_cli.stat().st_size / 1e6, 1),
        "ogr2ogr_gpkg_mb": round(out_ogr.stat().st_size / 1e6, 1),
    }
    if prof_text:
        rep.details["profile"] = prof_text
    if len(t_cli) > 1:
        rep.notes.append(
            f"median of {repeat}: demine {statistics.median(t_cli):.2f} s, "
            f"ogr2ogr {statistics.median(t_ogr):.2f} s"
        )
    rep.notes.append(
        f"CPU (user + system) of the best runs: demine {min(cpu_cli):.2f} s, ogr2ogr "
        f"{min(cpu_ogr):.2f} s ({min(cpu_cli) / min(cpu_ogr):.2f}×); load average after: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    rep.notes.append(
        f"file {src.name}: {rep.params['file_mb']} MB; demine store "
        f"{rep.details['store_mb']} MB, ogr2ogr GeoPackage "
        f"{rep.details['ogr2ogr_gpkg_mb']} MB"
    )
    rep.print()
    if prof_text:
        print(prof_text)
    print(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
