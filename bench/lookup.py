"""Benchmark 2: batch safety lookups of random points against the synthetic hazards.

demine's batch call ``HazardIndex.from_store(store).within(lons, lats, 100.0)`` (geodesic
distances, answered through the coverage grid built with the index) against two anchors on the
same data in the same run:

- GeoPandas ``sjoin(points, hazards, predicate="dwithin", distance=100)`` with a metric CRS: both
  layers projected to UTM 37N (EPSG:32637); the ratio compares demine's ``within`` with
  GeoPandas' projection + sjoin.
- DuckDB spatial (the extension file of the ``duckdb-extension-spatial`` wheel, loaded with
  ``LOAD``, no download): the hazards in a table with an RTREE index, the points in a table, one
  batch query: a join on ``ST_DWithin(hazard, point, w)`` (planar, in degrees; ``w`` the search
  window demine uses at the study area's highest latitude, so nothing within 100 m is left out),
  then ``ST_Distance_Spheroid`` (geodesic, WGS 84) from the point to
  ``ST_ClosestPoint(hazard, point)`` (the closest point found in lon/lat degrees), kept when
  ≤ 100 m; points inside are at 0. DuckDB has no geodesic point-to-polygon distance, so this is
  its closest equivalent; its plan is a SPATIAL_JOIN (an R-tree built by the join itself; the
  RTREE index is not used by a join). The ratio compares demine's ``within`` with the query
  (fetched as numpy arrays); loading the tables is reported apart.

demine's index building (reading the store), its coverage grid build, GeoPandas' point
construction and DuckDB's table loading are reported apart. demine's exact path (the same
lookup without the grid, ``within(..., exact=True)``: the code before the grid) runs in the same
run, and its pairs and distances are compared with the grid's.
Goals: demine at least as fast as GeoPandas, and at most 2× DuckDB's time.

The pairs found by both are compared; pairs found by one only are checked against a reference
geodesic distance (the point-to-polygon distance in an azimuthal equidistant projection centred
on the point, with the polygon densified to 1 m: exact to millimetres at these sizes).

    python bench/lookup.py            # 1,000,000 points, 100,000 hazards
    python bench/lookup.py --quick    # 100,000 points, 10,000 hazards
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

RADIUS_M = 100.0
UTM = "EPSG:32637"
RETRY_WAIT_S, RETRY_FOR_S = 120.0, 40 * 60.0
REF_SAMPLE = 300


def demine_index(store_path: Path) -> tuple[Any, float, float, np.ndarray]:
    """(HazardIndex, seconds to read the store and build the index, seconds to build the
    coverage grid, file index of each indexed hazard)."""
    from demine.services.safety import HazardIndex
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(store_path)
    t0 = time.perf_counter()
    idx = HazardIndex.from_store(store, grid_radius_m=None)
    t1 = time.perf_counter()
    idx.build_grid(RADIUS_M)
    t2 = time.perf_counter()
    store.close()
    order = np.array([int(r.source_id.split("-")[1]) - 1 for r in idx.records], np.int64)
    return idx, t1 - t0, t2 - t1, order


def hazard_number(source_ids: Any) -> np.ndarray:
    """File index of each bench hazard (bench-000001 is 0)."""
    return np.array([int(str(x).split("-")[1]) - 1 for x in source_ids], np.int64)


DUCK_JOIN = """
SELECT pid, source_id, d FROM (
  SELECT pid, source_id,
         ST_Distance_Spheroid(ST_Point2D(lat, lon), ST_Point2D(ST_Y(cp), ST_X(cp))) AS d
  FROM (SELECT p.pid, p.lon, p.lat, h.source_id, ST_ClosestPoint(h.geom, p.geom) AS cp
        FROM pts p JOIN hazards h ON ST_DWithin(h.geom, p.geom, {w!r})
        WHERE h.status = 'open'))
WHERE d <= {r!r}
"""
# ST_Distance_Spheroid takes (lat, lon) points (EPSG:4326 axis order).
DUCK_JOIN_ONLY = """
SELECT p.pid, h.source_id FROM pts p JOIN hazards h ON ST_DWithin(h.geom, p.geom, {w!r})
WHERE h.status = 'open'
"""
# the join alone (planar candidates in degrees, no distance): DuckDB's floor for this lookup


def run_duckdb(
    store_path: Path, lons: np.ndarray, lats: np.ndarray, repeat: int
) -> tuple[dict[str, float], list[float], tuple[np.ndarray, np.ndarray, np.ndarray], str]:
    """DuckDB spatial: load (timed apart), then the batch query ``repeat`` times."""
    import pandas as pd
    from store import duckdb_load

    from demine.geo.coverage import window_deg

    c.log("DuckDB: hazards (WKB) + RTREE, points table ...")
    con, t_load, t_rtree = duckdb_load(store_path)
    con.register("pts_src", pd.DataFrame({"pid": np.arange(len(lons)), "lon": lons, "lat": lats}))
    t0 = time.perf_counter()
    con.execute("CREATE TABLE pts AS SELECT pid, lon, lat, ST_Point(lon, lat) AS geom FROM pts_src")
    t_pts = time.perf_counter() - t0
    con.unregister("pts_src")
    w = float(window_deg(float(np.abs(lats).max()), RADIUS_M))
    sql = DUCK_JOIN.format(w=w, r=RADIUS_M)
    plan = "\n".join(str(r[1]) for r in con.execute("EXPLAIN " + sql).fetchall())
    ts, ts_join = [], []
    rows: dict[str, Any] = {}
    for r in range(repeat):
        c.log(f"run {r + 1}/{repeat}: DuckDB batch join ...")
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchnumpy()
        ts.append(time.perf_counter() - t0)
        c.log(f"  {ts[-1]:.2f} s, {len(rows['pid']):,} pairs")
        t0 = time.perf_counter()
        cand = con.execute(DUCK_JOIN_ONLY.format(w=w)).fetchnumpy()
        ts_join.append(time.perf_counter() - t0)
        c.log(f"  the join alone: {ts_join[-1]:.2f} s, {len(cand['pid']):,} candidate pairs")
    con.close()
    load = {
        "from_wkb_s": t_load,
        "rtree_s": t_rtree,
        "points_s": t_pts,
        "window_deg": w,
        "join_only_s": ts_join,
        "join_only_pairs": int(len(cand["pid"])) if ts_join else 0,
    }
    res = (
        np.asarray(rows["pid"], np.int64),
        hazard_number(rows["source_id"]),
        np.asarray(rows["d"], np.float64),
    )
    return load, ts, res, plan


def reference_distance(lon: float, lat: float, geom: Any) -> float:
    """Geodesic distance (m) from a point to a polygon: AEQD centred on the point."""
    import shapely
    from pyproj import Transformer

    tr = Transformer.from_crs(
        "OGC:CRS84", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m", always_xy=True
    )
    g = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    g = shapely.segmentize(g, 1.0)  # straight in AEQD vs geodesic edges: negligible at 1 m
    return float(shapely.distance(shapely.Point(0, 0), g))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 points against 10,000 hazards")
    ap.add_argument("--hazards", type=int)
    ap.add_argument("--points", type=int)
    ap.add_argument(
        "--repeat",
        type=int,
        help="runs of each (default 3 quick, 1 full); the best run is compared",
    )
    ap.add_argument("--profile", action="store_true", help="also profile demine's within call")
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached store")
    ap.add_argument("--no-retry", action="store_true")
    args = ap.parse_args()
    n = args.hazards or (c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS)
    m = args.points or (c.QUICK_POINTS if args.quick else c.FULL_POINTS)
    repeat = args.repeat or (3 if args.quick else 1)

    import geopandas as gpd
    import pyogrio
    import shapely

    src = c.hazards_geojson(n, log=c.log)
    lons, lats = c.random_points(m)

    def build_store() -> Path:
        return c.hazard_store(n, fresh=args.fresh, log=c.log)

    store_path = (
        build_store()
        if args.no_retry
        else c.retry(
            "demine store", build_store, wait_s=RETRY_WAIT_S, until_s=RETRY_FOR_S, log=c.log
        )
    )

    # --- GeoPandas (the anchor) ---
    c.log("GeoPandas: reading hazards (not timed) ...")
    hz = pyogrio.read_dataframe(src)
    if "id" in hz.columns:  # file order = bench id order
        assert (hz["id"].to_numpy()[:5] == [c.hazard_id(i) for i in range(5)]).all()
    t_pts, t_proj, t_sjoin = [], [], []
    joined = None
    for r in range(repeat):
        c.log(f"run {r + 1}/{repeat}: GeoPandas points, to_crs, sjoin dwithin ...")
        t0 = time.perf_counter()
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lons, lats), crs="EPSG:4326")
        t1 = time.perf_counter()
        hz_utm = hz.to_crs(UTM)
        pts_utm = pts.to_crs(UTM)
        t2 = time.perf_counter()
        joined = gpd.sjoin(pts_utm, hz_utm, predicate="dwithin", distance=RADIUS_M)
        t3 = time.perf_counter()
        t_pts.append(t1 - t0)
        t_proj.append(t2 - t1)
        t_sjoin.append(t3 - t2)
        c.log(
            f"  points {t1 - t0:.2f} s, to_crs {t2 - t1:.2f} s, sjoin {t3 - t2:.2f} s, "
            f"{len(joined):,} pairs"
        )
    assert joined is not None
    g_pi = joined.index.to_numpy(np.int64)
    g_hi = joined["index_right"].to_numpy(np.int64)

    # --- DuckDB spatial (the second anchor) ---
    duck_load, t_duck, (k_pi, k_hf, k_dist), duck_plan = run_duckdb(store_path, lons, lats, repeat)

    # --- demine ---
    def run_demine() -> tuple[
        float,
        float,
        list[float],
        list[float],
        tuple[np.ndarray, np.ndarray, np.ndarray],
        np.ndarray,
        dict[str, Any],
    ]:
        c.log("demine: HazardIndex.from_store, then its coverage grid ...")
        idx, t_idx, t_grid, order = demine_index(store_path)
        assert len(idx.records) == n, f"index holds {len(idx.records)} of {n} hazards"
        g = idx._index.grid
        grid = {
            "levels": [
                {"side_deg": lv.side, "cells": lv.cells, "entries": len(lv.geom)} for lv in g.levels
            ],
            "inside_entries": int(sum(int(lv.inside.sum()) for lv in g.levels)),
            "bytes": g.nbytes,
        }
        ts, ts_exact = [], []
        res = ex = None
        for r in range(repeat):
            c.log(f"run {r + 1}/{repeat}: demine within (exact path, no grid) ...")
            t0 = time.perf_counter()
            ex = idx.within(lons, lats, RADIUS_M, exact=True)
            ts_exact.append(time.perf_counter() - t0)
            c.log(f"  {ts_exact[-1]:.2f} s, {len(ex[0]):,} pairs")
            c.log(f"run {r + 1}/{repeat}: demine within (grid) ...")
            t0 = time.perf_counter()
            res = idx.within(lons, lats, RADIUS_M)
            ts.append(time.perf_counter() - t0)
            c.log(f"  {ts[-1]:.2f} s, {len(res[0]):,} pairs")
        assert res is not None and ex is not None
        grid["same_as_exact"] = bool(
            np.array_equal(res[0], ex[0])
            and np.array_equal(res[1], ex[1])
            and np.array_equal(res[2], ex[2])
        )
        assert grid["same_as_exact"], "the grid's answers differ from the exact path's"
        return t_idx, t_grid, ts, ts_exact, res, order, grid

    t_idx, t_grid, t_within, t_exact, (d_pi, d_hi, d_dist), order, grid_info = (
        run_demine()
        if args.no_retry
        else c.retry(
            "demine lookup", run_demine, wait_s=RETRY_WAIT_S, until_s=RETRY_FOR_S, log=c.log
        )
    )
    d_hf = order[d_hi]  # file index of each hazard

    prof_text = None
    if args.profile:
        from demine.services.safety import HazardIndex  # noqa: F401
        from demine.store.gpkg import GeoPackageStore

        idx = HazardIndex.from_store(GeoPackageStore(store_path))
        prof = cProfile.Profile()
        prof.enable()
        idx.within(lons, lats, RADIUS_M)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(20)
        prof_text = s.getvalue()

    # --- agreement ---
    key_k = k_pi * n + k_hf
    key_dd = d_pi * n + order[d_hi]
    both_k, ia, ib = np.intersect1d(key_dd, key_k, return_indices=True)
    k_only_d = np.setdiff1d(key_dd, key_k)
    k_only_k = np.setdiff1d(key_k, key_dd)
    duck_agree = {
        "pairs_duckdb": int(len(key_k)),
        "pairs_both": int(len(both_k)),
        "demine_only": int(len(k_only_d)),
        "duckdb_only": int(len(k_only_k)),
        "duckdb_minus_demine_m": {
            "min": float((k_dist[ib] - d_dist[ia]).min()) if len(ia) else None,
            "max": float((k_dist[ib] - d_dist[ia]).max()) if len(ia) else None,
        },
    }
    key_d = d_pi * n + d_hf
    key_g = g_pi * n + g_hi
    both = np.intersect1d(key_d, key_g)
    only_d = np.setdiff1d(key_d, key_g)
    only_g = np.setdiff1d(key_g, key_d)
    hz_geoms = hz.geometry.to_numpy()
    # distances on common pairs: demine geodesic vs UTM
    pos_d = {int(k): i for i, k in enumerate(key_d)}
    sel = np.array([pos_d[int(k)] for k in both], np.int64)
    hz_utm_geoms = hz.to_crs(UTM).geometry.to_numpy()
    pts_utm_xy = np.column_stack(
        __import__("pyproj")
        .Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
        .transform(lons, lats)
    )
    utm_d = shapely.distance(shapely.points(pts_utm_xy[both // n]), hz_utm_geoms[both % n])
    dd = d_dist[sel]
    diff = utm_d - dd
    far = dd >= 10.0  # relative differences mean little for a point a few cm from an edge
    rel = diff[far] / dd[far]
    # reference geodesic distances for a sample of the common pairs and for every disagreement
    rng = np.random.default_rng(1)
    sample = rng.choice(len(both), size=min(REF_SAMPLE, len(both)), replace=False)
    c.log(
        f"reference distances for {len(sample)} common pairs and "
        f"{min(len(only_d), REF_SAMPLE) + min(len(only_g), REF_SAMPLE)} disagreements ..."
    )
    ref_err = [
        reference_distance(lons[both[k] // n], lats[both[k] // n], hz_geoms[both[k] % n]) - dd[k]
        for k in sample
    ]

    def classify(keys: np.ndarray) -> dict[str, Any]:
        refs = [
            reference_distance(lons[k // n], lats[k // n], hz_geoms[k % n])
            for k in keys[:REF_SAMPLE]
        ]
        return {
            "count": int(len(keys)),
            "checked": len(refs),
            "reference_within_radius": int(sum(x <= RADIUS_M for x in refs)),
            "reference_distance_m_min": min(refs) if refs else None,
            "reference_distance_m_max": max(refs) if refs else None,
        }

    agree = {
        "pairs_demine": int(len(key_d)),
        "pairs_geopandas": int(len(key_g)),
        "pairs_both": int(len(both)),
        "demine_only": classify(only_d),
        "geopandas_only": classify(only_g),
        "points_inside_a_hazard": int(np.unique(d_pi[d_dist == 0]).size),
        "utm_vs_geodesic_distance_rel_diff": {
            "pairs": int(rel.size),
            "where": "geodesic distance >= 10 m",
            "median": float(np.median(rel)) if rel.size else None,
            "min": float(rel.min()) if rel.size else None,
            "max": float(rel.max()) if rel.size else None,
        },
        "utm_minus_geodesic_m": {
            "min": float(diff.min()) if diff.size else None,
            "max": float(diff.max()) if diff.size else None,
            "max_abs": float(np.abs(diff).max()) if diff.size else None,
        },
        "demine_minus_reference_m": {
            "max_abs": float(np.max(np.abs(ref_err))) if ref_err else None,
            "sample": len(ref_err),
        },
    }

    gpd_total = min(p + s for p, s in zip(t_proj, t_sjoin, strict=True))
    within = min(t_within)
    duck = min(t_duck)
    rep = c.Report(
        "lookup",
        f"Lookups: {m:,} points × {n:,} hazards, radius {RADIUS_M:g} m",
        quick=args.quick and not (args.hazards or args.points),
    )
    rep.params = {
        "hazards": n,
        "points": m,
        "radius_m": RADIUS_M,
        "anchor_crs": UTM,
        "repeat": repeat,
        "compared": "best of the runs",
    }
    rep.rows.append(
        c.Row(
            f"within(), {m:,} points (geodesic)",
            within,
            "to_crs + sjoin dwithin (UTM)",
            gpd_total,
            "≤ 1× GeoPandas",
            1.0,
        )
    )
    rep.rows.append(
        c.Row(
            f"within(), {m:,} points (geodesic)",
            within,
            "DuckDB spatial join + ST_Distance_Spheroid",
            duck,
            "≤ 2× DuckDB",
            2.0,
        )
    )
    rep.rows.append(
        c.Row(
            "  the same within()",
            within,
            "DuckDB: the spatial join alone (candidates in degrees, no distance)",
            min(duck_load["join_only_s"]),
        )
    )
    rep.rows.append(
        c.Row(
            "  within(exact=True), no grid (the code before)",
            min(t_exact),
            "DuckDB",
            duck,
        )
    )
    rep.rows.append(c.Row("  GeoPandas: to_crs (both layers)", None, "to_crs", min(t_proj)))
    rep.rows.append(c.Row("  GeoPandas: sjoin dwithin", None, "sjoin", min(t_sjoin)))
    rep.rows.append(
        c.Row(
            "HazardIndex.from_store, without the grid (not in the ratio)",
            t_idx,
            "points_from_xy (not in the ratio)",
            min(t_pts),
        )
    )
    rep.rows.append(
        c.Row(
            "coverage grid build (not in the ratio)",
            t_grid,
            "DuckDB: ST_GeomFromWKB + RTREE + points table (not in the ratio)",
            duck_load["from_wkb_s"] + duck_load["rtree_s"] + duck_load["points_s"],
        )
    )
    rep.details = {
        "demine_grid_build_s": t_grid,
        "demine_within_exact_s": t_exact,
        "grid": grid_info,
        "duckdb_query_s": t_duck,
        "duckdb_load": duck_load,
        "duckdb_plan": duck_plan,
        "duckdb_agreement": duck_agree,
        "geopandas_points_s": t_pts,
        "geopandas_to_crs_s": t_proj,
        "geopandas_sjoin_s": t_sjoin,
        "demine_from_store_s": t_idx,
        "demine_within_s": t_within,
        "agreement": agree,
    }
    if prof_text:
        rep.details["profile"] = prof_text
    a = agree
    rep.notes.append(
        f"pairs: demine {a['pairs_demine']:,}, GeoPandas {a['pairs_geopandas']:,}, both "
        f"{a['pairs_both']:,}; demine only {a['demine_only']['count']:,} (reference ≤ "
        f"{RADIUS_M:g} m: {a['demine_only']['reference_within_radius']}/"
        f"{a['demine_only']['checked']}), GeoPandas only {a['geopandas_only']['count']:,} "
        f"(reference ≤ {RADIUS_M:g} m: {a['geopandas_only']['reference_within_radius']}/"
        f"{a['geopandas_only']['checked']})"
    )
    da = duck_agree
    rep.notes.append(
        f"DuckDB: {da['pairs_duckdb']:,} pairs, {da['pairs_both']:,} also found by demine; "
        f"demine only {da['demine_only']:,}, DuckDB only {da['duckdb_only']:,} (DuckDB's "
        f"closest point is taken in degrees, so its distance is never shorter than the "
        f"geodesic one); grid: {grid_info['bytes'] / 1e6:.0f} MB, answers identical to the "
        f"exact path: {grid_info['same_as_exact']}"
    )
    u = a["utm_vs_geodesic_distance_rel_diff"]
    if u["median"] is not None:
        ua = a["utm_minus_geodesic_m"]
        rep.notes.append(
            f"UTM distance vs demine's geodesic distance on common pairs (≥ 10 m): "
            f"median {u['median']:+.3%}, range {u['min']:+.3%} .. {u['max']:+.3%}; "
            f"UTM − geodesic {ua['min']:+.2f} .. {ua['max']:+.2f} m; demine "
            f"vs reference geodesic: max |error| "
            f"{a['demine_minus_reference_m']['max_abs']:.3f} m "
            f"({a['demine_minus_reference_m']['sample']} pairs)"
        )
    rep.print()
    if prof_text:
        print(prof_text)
    print(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
