"""Benchmark 2: batch safety lookups of random points against the synthetic hazards.

demine's batch call ``HazardIndex.from_store(store).within(lons, lats, 100.0)`` (geodesic
distances) against GeoPandas ``sjoin(points, hazards, predicate="dwithin", distance=100)`` on the
same data in the same run. GeoPandas gets a metric CRS: both layers projected to UTM 37N
(EPSG:32637); the ratio compares demine's ``within`` with GeoPandas' projection + sjoin. demine's
index building (reading the store) and GeoPandas' point construction are reported apart.
Goal: demine at least as fast as GeoPandas, with geodesic distances.

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


def demine_index(store_path: Path) -> tuple[Any, float, np.ndarray]:
    """(HazardIndex, seconds, file index of each indexed hazard)."""
    from demine.services.safety import HazardIndex
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(store_path)
    t0 = time.perf_counter()
    idx = HazardIndex.from_store(store)
    dt = time.perf_counter() - t0
    store.close()
    order = np.array([int(r.source_id.split("-")[1]) - 1 for r in idx.records], np.int64)
    return idx, dt, order


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

    # --- demine ---
    def run_demine() -> tuple[
        float, list[float], tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray
    ]:
        c.log("demine: HazardIndex.from_store ...")
        idx, t_idx, order = demine_index(store_path)
        assert len(idx.records) == n, f"index holds {len(idx.records)} of {n} hazards"
        ts = []
        res = None
        for r in range(repeat):
            c.log(f"run {r + 1}/{repeat}: demine within ...")
            t0 = time.perf_counter()
            res = idx.within(lons, lats, RADIUS_M)
            ts.append(time.perf_counter() - t0)
            c.log(f"  {ts[-1]:.2f} s, {len(res[0]):,} pairs")
        assert res is not None
        return t_idx, ts, res, order

    t_idx, t_within, (d_pi, d_hi, d_dist), order = (
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
    rep.rows.append(c.Row("  GeoPandas: to_crs (both layers)", None, "to_crs", min(t_proj)))
    rep.rows.append(c.Row("  GeoPandas: sjoin dwithin", None, "sjoin", min(t_sjoin)))
    rep.rows.append(
        c.Row(
            "HazardIndex.from_store (not in the ratio)",
            t_idx,
            "points_from_xy (not in the ratio)",
            min(t_pts),
        )
    )
    rep.details = {
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
