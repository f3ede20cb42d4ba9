"""Benchmark: the store backends — demine over GeoPackage and over PostGIS, against PostGIS
queried directly, DuckDB spatial, and tipg.

100,000 synthetic hazards (``--quick``: 10,000; ``bench/_common`` generator, 30 vertices) are
imported with ``demine.services.register.import_file`` into a fresh demine GeoPackage store and
into a demine PostGIS store (schema ``bench`` of a running server, ``--pg-url``); both loads are
timed. Then:

1. Point-within-radius lookups, radius 500 m, 2,000 seeded random points, one query at a time,
   in-process; per query mean, p50, p99:
   - demine: ``check_point(store, lat, lon, 500)`` on the GeoPackage store and on the PostGIS
     store (geodesic distances, see demine.geo.geodesy);
   - PostGIS directly through psycopg (one prepared statement per query):
     ``ST_DWithin(geom::geography, pt::geography, 500)`` with a GiST index on
     ``(geom::geography)``, returning ``ST_Distance(geom::geography, pt::geography)`` (spheroid);
   - DuckDB spatial (the extension file shipped by the ``duckdb-extension-spatial`` wheel, no
     download), the same hazards (WKB read through demine, ``ST_GeomFromWKB``), an RTREE index on
     ``geom``; the query is an RTREE prefilter ``ST_Intersects(geom, <search box>)`` (the same
     conservative box demine uses) then ``ST_Distance_Spheroid`` between the point and
     ``ST_ClosestPoint(geom, point)``: the closest point is found in lon/lat degrees (planar),
     the distance to it is geodesic; DuckDB has no geodesic point-to-polygon distance. Points
     inside a polygon are at 0.
   Goal: demine's per-query mean at most PostGIS's and DuckDB's (ratio <= 1).
2. OGC items pages, ``limit=100`` and random 0.1° bboxes, 50 wrk connections, 2 uvicorn workers
   each: demine (``create_app`` over the PostGIS store) against tipg serving the same table.
   Goal: demine's throughput at least tipg's.

    python bench/store.py            # 100,000 hazards, 15 s wrk runs
    python bench/store.py --quick    # 10,000 hazards, 5 s wrk runs

Needs a PostgreSQL server with PostGIS (``--pg-url``, default
postgresql://postgres@127.0.0.1:55499/bench), ``wrk``, and ``duckdb==1.5.5``,
``duckdb-extension-spatial`` and ``tipg`` in the venv.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import io
import json
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402
import api as a  # noqa: E402

RADIUS_M = 500.0
SCHEMA = "bench"
PG_URL = "postgresql://postgres@127.0.0.1:55499/bench"
N_QUERIES = 2000
SEED_QUERIES = 20240620


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def stats(ts: list[float]) -> dict[str, float]:
    return {
        "n": len(ts),
        "mean": statistics.fmean(ts),
        "p50": pct(ts, 50),
        "p99": pct(ts, 99),
        "min": min(ts),
        "max": max(ts),
    }


# --- loads ---------------------------------------------------------------------------------------


def load_gpkg(src: Path, path: Path) -> tuple[float, float]:
    from demine.services.register import ImportOptions, import_file
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    c.remove_gpkg(path)
    store = GeoPackageStore(path)
    t0 = time.perf_counter()
    init_store(store)
    t1 = time.perf_counter()
    rep = import_file(store, src, ImportOptions(kind="hazards", reason="bench", actor="bench"))
    t2 = time.perf_counter()
    store.close()
    assert rep.imported > 0
    return t1 - t0, t2 - t1


def load_postgis(src: Path, url: str, base_url: str) -> tuple[float, float, float]:
    import psycopg

    from demine.services.register import ImportOptions, import_file
    from demine.services.setup import init_store
    from demine.store.open import open_store

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    store = open_store(url)
    t0 = time.perf_counter()
    init_store(store)
    t1 = time.perf_counter()
    rep = import_file(store, src, ImportOptions(kind="hazards", reason="bench", actor="bench"))
    t2 = time.perf_counter()
    store.close()
    assert rep.imported > 0
    with psycopg.connect(base_url, autocommit=True) as conn:
        t3 = time.perf_counter()
        conn.execute(
            f"CREATE INDEX hazards_geog ON {SCHEMA}.hazards USING gist ((geom::geography))"
        )
        t_idx = time.perf_counter() - t3
        conn.execute(f"VACUUM ANALYZE {SCHEMA}.hazards")
    return t1 - t0, t2 - t1, t_idx


# --- lookups -------------------------------------------------------------------------------------


def run_demine(store: Any, lons: np.ndarray, lats: np.ndarray) -> tuple[list[float], list[Any]]:
    from demine.services.safety import check_point

    ts, res = [], []
    for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
        t0 = time.perf_counter()
        hits = check_point(store, lat, lon, RADIUS_M)
        ts.append(time.perf_counter() - t0)
        res.append({h.record.source_id: h.distance_m for h in hits})
    return ts, res


PG_SQL = (
    "SELECT source_id, ST_Distance(geom::geography, p.g) FROM {s}.hazards, "
    "(SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography AS g) p "
    "WHERE ST_DWithin(geom::geography, p.g, %s) AND status = 'open'"
)


def run_postgis(base_url: str, lons: np.ndarray, lats: np.ndarray) -> tuple[list[float], list[Any]]:
    import psycopg

    sql = PG_SQL.format(s=SCHEMA)
    ts, res = [], []
    with psycopg.connect(base_url, autocommit=True, prepare_threshold=0) as conn:
        for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
            t0 = time.perf_counter()
            rows = conn.execute(sql, (lon, lat, RADIUS_M)).fetchall()
            ts.append(time.perf_counter() - t0)
            res.append({r[0]: r[1] for r in rows})
    return ts, res


def postgis_plan(base_url: str) -> str:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        rows = conn.execute(
            "EXPLAIN ANALYZE " + PG_SQL.format(s=SCHEMA), (37.0, 48.0, RADIUS_M)
        ).fetchall()
    return "\n".join(r[0] for r in rows)


def spatial_extension() -> str:
    import duckdb_extension_spatial

    pat = Path(duckdb_extension_spatial.__file__).parent / "extensions" / "*" / "*.duckdb_extension"
    found = glob.glob(str(pat))
    if not found:
        raise RuntimeError(f"no spatial.duckdb_extension under {pat}")
    return found[0]


def duckdb_load(gpkg: Path) -> tuple[Any, float, float]:
    """The hazards of the demine GeoPackage store as WKB (read through demine, not timed), then
    into DuckDB with ST_GeomFromWKB (timed), then the RTREE index (timed). ``ST_Read`` on the
    GeoPackage was tried first: with 100,000 hazards it crashed the process (segfault in
    spatial.duckdb_extension) or failed with "Unsupported geometry type in WKB"."""
    import duckdb
    import pandas as pd
    import shapely

    from demine.store.open import open_store

    store = open_store(str(gpkg))
    recs = list(store.list("hazards"))
    store.close()
    df = pd.DataFrame(
        {
            "source_id": [r.source_id for r in recs],
            "status": [r.properties.get("status") for r in recs],
            "wkb": [bytes(w) for w in shapely.to_wkb([r.geometry for r in recs])],
        }
    )
    con = duckdb.connect()
    con.execute(f"LOAD '{spatial_extension()}'")
    con.register("src", df)
    t0 = time.perf_counter()
    con.execute(
        "CREATE TABLE hazards AS SELECT source_id, status, ST_GeomFromWKB(wkb) AS geom FROM src"
    )
    t1 = time.perf_counter()
    con.unregister("src")
    con.execute("CREATE INDEX hazards_rtree ON hazards USING RTREE (geom)")
    t2 = time.perf_counter()
    return con, t1 - t0, t2 - t1


DUCK_SQL = (
    "SELECT source_id, ST_Distance_Spheroid(ST_Point2D({lat!r}, {lon!r}), "
    "ST_Point2D(ST_Y(cp), ST_X(cp))) AS d FROM ("
    "SELECT source_id, ST_ClosestPoint(geom, ST_Point({lon!r}, {lat!r})) AS cp FROM hazards "
    "WHERE ST_Intersects(geom, ST_MakeEnvelope({x0!r}, {y0!r}, {x1!r}, {y1!r})) "
    "AND status = 'open') WHERE d <= {r!r}"
)
# ST_Distance_Spheroid takes (lat, lon) points (EPSG:4326 axis order). The search box is a
# literal so that the RTREE index is used (checked with EXPLAIN).


def duck_sql(lon: float, lat: float) -> str:
    from demine.services.safety import search_bbox

    x0, y0, x1, y1 = search_bbox(lat, lon, RADIUS_M)
    return DUCK_SQL.format(lon=lon, lat=lat, x0=x0, y0=y0, x1=x1, y1=y1, r=RADIUS_M)


def run_duckdb(con: Any, lons: np.ndarray, lats: np.ndarray) -> tuple[list[float], list[Any]]:
    ts, res = [], []
    for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
        t0 = time.perf_counter()
        rows = con.execute(duck_sql(lon, lat)).fetchall()
        ts.append(time.perf_counter() - t0)
        res.append({r[0]: r[1] for r in rows})
    return ts, res


def agreement(ref: list[dict[str, float]], other: list[dict[str, float]]) -> dict[str, Any]:
    both = only_ref = only_other = 0
    diffs: list[float] = []
    for r, o in zip(ref, other, strict=True):
        for k, v in r.items():
            if k in o:
                both += 1
                diffs.append(o[k] - v)
            else:
                only_ref += 1
        only_other += sum(1 for k in o if k not in r)
    d = np.abs(np.asarray(diffs)) if diffs else np.zeros(1)
    return {
        "pairs_both": both,
        "only_reference": only_ref,
        "only_other": only_other,
        "max_abs_diff_m": float(d.max()),
        "median_abs_diff_m": float(np.median(d)),
    }


def profile_check(store: Any, lons: np.ndarray, lats: np.ndarray) -> str:
    from demine.services.safety import check_point

    prof = cProfile.Profile()
    prof.enable()
    for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
        check_point(store, lat, lon, RADIUS_M)
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumtime").print_stats(18)
    return s.getvalue()


# --- servers -------------------------------------------------------------------------------------


def start_tipg(base_url: str, workers: int, work: Path) -> a.Server:
    env = c.subprocess_env()
    env["DATABASE_URL"] = base_url
    env["TIPG_DB_SCHEMAS"] = json.dumps([SCHEMA])
    env["TIPG_DB_TABLES"] = json.dumps([f"{SCHEMA}.hazards"])
    env["TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS"] = json.dumps(["public", SCHEMA])
    env["TIPG_DB_ONLY_SPATIAL_TABLES"] = "true"
    env["TIPG_DEBUG"] = "false"
    port = a.free_port()
    cmd = a.uvicorn_cmd("tipg.main:app", port, workers, factory=False, app_dir=str(work))
    return a.start_server("tipg", cmd, port, env, "/collections", work)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 hazards, 5 s wrk runs")
    ap.add_argument("--pg-url", default=PG_URL, help=f"PostgreSQL database ({PG_URL})")
    ap.add_argument("--queries", type=int, default=N_QUERIES)
    ap.add_argument("--duration", type=float, help="seconds per wrk run (15; quick 5)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds (5; quick 2)")
    ap.add_argument("--rounds", type=int, default=1, help="demine/tipg items pairs (median)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--no-server", action="store_true", help="lookups only")
    args = ap.parse_args()
    n = c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS
    args.duration = args.duration or (5.0 if args.quick else 15.0)
    args.warmup = args.warmup or (2.0 if args.quick else 5.0)
    url = f"{args.pg_url}?demine_schema={SCHEMA}"
    work = c.data_dir() / "store"
    work.mkdir(parents=True, exist_ok=True)

    import duckdb
    import psycopg

    from demine.store.open import open_store

    src = c.hazards_geojson(n, log=c.log)
    gpkg = work / f"store_{n}.gpkg"
    details: dict[str, Any] = {}

    c.log(f"loading {n:,} hazards into a GeoPackage store (import_file) ...")
    g_init, g_load = load_gpkg(src, gpkg)
    c.log(f"  {g_load:.2f} s")
    c.log(f"loading {n:,} hazards into a PostGIS store (import_file) ...")
    p_init, p_load, p_geog_idx = load_postgis(src, url, args.pg_url)
    c.log(f"  {p_load:.2f} s (+ geography GiST index {p_geog_idx:.2f} s)")
    c.log("loading the hazards into DuckDB (WKB) + RTREE ...")
    duck, d_load, d_idx = duckdb_load(gpkg)
    c.log(f"  {d_load:.2f} s + RTREE {d_idx:.2f} s")
    with psycopg.connect(args.pg_url) as conn:
        pg_version = conn.execute("SELECT version()").fetchone()[0]  # type: ignore[index]
        postgis_version = conn.execute("SELECT postgis_full_version()").fetchone()[0]  # type: ignore[index]
    plan_duck = "\n".join(
        str(r[1]) for r in duck.execute("EXPLAIN " + duck_sql(37.0, 48.0)).fetchall()
    )
    assert "RTREE" in plan_duck.upper(), plan_duck
    details["duckdb_plan"] = plan_duck
    details["postgis_plan"] = postgis_plan(args.pg_url)
    details["load_s"] = {
        "gpkg_init": g_init,
        "gpkg_import_file": g_load,
        "postgis_init": p_init,
        "postgis_import_file": p_load,
        "postgis_geography_index": p_geog_idx,
        "duckdb_from_wkb": d_load,
        "duckdb_rtree": d_idx,
    }

    rng = np.random.default_rng(SEED_QUERIES)
    lons = rng.uniform(c.LON_MIN, c.LON_MAX, args.queries)
    lats = rng.uniform(c.LAT_MIN, c.LAT_MAX, args.queries)
    wl, wa = lons[:100], lats[:100]  # warm-up points, then the measured ones

    gstore = open_store(str(gpkg))
    pstore = open_store(url)
    runs: dict[str, tuple[list[float], list[Any]]] = {}
    for name, fn in (
        ("demine_gpkg", lambda x, y: run_demine(gstore, x, y)),
        ("demine_postgis", lambda x, y: run_demine(pstore, x, y)),
        ("postgis", lambda x, y: run_postgis(args.pg_url, x, y)),
        ("duckdb", lambda x, y: run_duckdb(duck, x, y)),
    ):
        c.log(f"lookups: {name}, {args.queries:,} points ...")
        fn(wl, wa)
        runs[name] = fn(lons, lats)
        s = stats(runs[name][0])
        c.log(
            f"  mean {s['mean'] * 1e3:.2f} ms, p50 {s['p50'] * 1e3:.2f}, p99 {s['p99'] * 1e3:.2f}"
        )
    st = {k: stats(v[0]) for k, v in runs.items()}
    ref = runs["postgis"][1]
    agree = {k: agreement(ref, runs[k][1]) for k in ("demine_gpkg", "demine_postgis", "duckdb")}
    hits = sum(len(r) for r in ref)
    details["lookups"] = st
    details["agreement_vs_postgis_geography"] = agree
    details["profile_check_point_postgis"] = profile_check(pstore, lons[:300], lats[:300])
    details["profile_check_point_gpkg"] = profile_check(gstore, lons[:300], lats[:300])
    gstore.close()
    pstore.close()
    duck.close()

    rep = c.Report(
        "store",
        f"Store backends: {n:,} hazards; {args.queries:,} point lookups (radius {RADIUS_M:g} m); "
        f"items pages at {args.clients} clients",
        quick=args.quick,
    )
    rep.params = {
        "hazards": n,
        "queries": args.queries,
        "radius_m": RADIUS_M,
        "postgis_url": args.pg_url,
        "schema": SCHEMA,
        "wrk_duration_s": args.duration,
        "wrk_warmup_s": args.warmup,
        "clients": args.clients,
        "workers": args.workers,
        "rounds": args.rounds,
    }
    rep.machine["postgresql"] = pg_version
    rep.machine["postgis"] = postgis_version
    rep.machine["libraries"]["duckdb"] = duckdb.__version__
    rep.machine["libraries"]["psycopg"] = c._version("psycopg")
    rep.machine["libraries"]["tipg"] = c._version("tipg")
    rep.machine["libraries"]["wrk"] = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]

    rep.rows.append(
        c.Row("load (import_file) into GeoPackage", g_load, "into PostGIS", p_load, note="")
    )
    for dem in ("demine_gpkg", "demine_postgis"):
        label = "GeoPackage" if dem == "demine_gpkg" else "PostGIS"
        for anc, aname in (("postgis", "PostGIS ST_DWithin geography"), ("duckdb", "DuckDB RTREE")):
            rep.rows.append(
                c.Row(
                    f"check_point on {label}, mean per query",
                    st[dem]["mean"],
                    aname,
                    st[anc]["mean"],
                    "≤ 1×",
                    1.0,
                )
            )
        rep.rows.append(
            c.Row(f"  p50 / p99 ({label})", st[dem]["p50"], "PostGIS p50", st["postgis"]["p50"])
        )
        rep.rows.append(c.Row("", st[dem]["p99"], "PostGIS p99", st["postgis"]["p99"]))
    rep.rows.append(c.Row("  DuckDB p50 / p99", None, "DuckDB p50", st["duckdb"]["p50"]))
    rep.rows.append(c.Row("", None, "DuckDB p99", st["duckdb"]["p99"]))
    for k, v in agree.items():
        rep.notes.append(
            f"{k} vs PostGIS geography ({hits:,} hits): both {v['pairs_both']:,}, PostGIS only "
            f"{v['only_reference']}, {k} only {v['only_other']}, |Δd| median "
            f"{v['median_abs_diff_m']:.3f} m, max {v['max_abs_diff_m']:.3f} m"
        )

    # --- items pages ---
    if not args.no_server:
        paths = a.make_paths()
        tipg_paths = [
            f"/collections/{SCHEMA}.hazards/items?limit=100&bbox={b}" for b in paths["bboxes"]
        ]
        dem = a.start_demine(url, args.workers, work)  # type: ignore[arg-type]
        a.SERVERS.append(dem)
        tipg_err = None
        tip = None
        try:
            tip = start_tipg(args.pg_url, args.workers, work)
            a.SERVERS.append(tip)
            why = a.probe(tip, tipg_paths[0])
            if why:
                tipg_err = f"tipg items: {why}"
        except Exception as e:  # noqa: BLE001
            tipg_err = f"tipg did not start: {e}"
        checks = {}
        import httpx

        for b in paths["bboxes"][:20]:
            dj = httpx.get(dem.url + f"/ogc/collections/hazards/items?limit=100&bbox={b}").json()
            checks.setdefault("demine_features", []).append(len(dj["features"]))
            if tip is not None and not tipg_err:
                tj = httpx.get(
                    tip.url + f"/collections/{SCHEMA}.hazards/items?limit=100&bbox={b}"
                ).json()
                checks.setdefault("tipg_features", []).append(len(tj["features"]))
        details["items_checks"] = checks
        d_runs, t_runs = [], []
        try:
            for r in range(args.rounds):
                c.log(f"items round {r + 1}/{args.rounds}")
                d_runs.append(a.load(dem, paths["demine_items"], args, work, "demine items"))
                if tip is not None and not tipg_err:
                    t_runs.append(a.load(tip, tipg_paths, args, work, "tipg items"))
        finally:
            dem.stop()
            if tip is not None:
                tip.stop()
        details["wrk"] = {"demine": d_runs, "tipg": t_runs, "tipg_error": tipg_err}

        def mid(runs: list[dict[str, Any]], key: str) -> float:
            return float(statistics.median(x[key] for x in runs))

        d_rps = mid(d_runs, "rps")
        t_rps = mid(t_runs, "rps") if t_runs else None
        rep.rows.append(
            c.Row(
                "items page: time per request (1/throughput)",
                1.0 / d_rps,
                "tipg",
                1.0 / t_rps if t_rps else None,
                "≥ 1× tipg's throughput",
                1.0,
                note=f"demine {d_rps:,.0f} req/s"
                + (f", tipg {t_rps:,.0f} req/s" if t_rps else f"; {tipg_err}"),
            )
        )
        rep.rows.append(
            c.Row(
                "  items p50",
                mid(d_runs, "p50_us") / 1e6,
                "tipg p50",
                mid(t_runs, "p50_us") / 1e6 if t_runs else None,
            )
        )
        rep.rows.append(
            c.Row(
                "  items p99",
                mid(d_runs, "p99_us") / 1e6,
                "tipg p99",
                mid(t_runs, "p99_us") / 1e6 if t_runs else None,
            )
        )
        rep.notes.append(
            f"items throughput: demine {d_rps:,.0f} req/s"
            + (f", tipg {t_rps:,.0f} req/s" if t_rps else f"; tipg: {tipg_err}")
        )
        if tipg_err:
            rep.notes.append(tipg_err)

    rep.details = details
    rep.print()
    print(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
