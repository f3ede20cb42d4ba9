"""Benchmark (issue 12): CQL2 filters run in SQL against the same filters evaluated in Python by
the old code, items pages per second through the OGC API, in the same run.

``python bench/api.py --cql`` (or ``python bench/api_cql.py``). The store of 1,000,000
synthetic hazards of ``bench/api.py`` (``--quick``: 100,000) is served twice under uvicorn
(2 workers each): by this tree's ``create_app`` (filters compiled to SQL; on a GeoPackage a
spatial filter is prefiltered on the R-tree) and by the code of commit 9236e0a (main before
the CQL work: pygeofilter parses, every row is read and the filter evaluated in Python), checked
out with ``git worktree add /tmp/old-9236e0a 9236e0a`` (``--old-src``). Both servers run with
no request budget, so that the old code's slow pages are answered rather than cut off at 10 s.

Scenarios, each a rotation through 4,000 seeded paths, ``limit=100``:

(a) attribute: ``area_m2 BETWEEN a AND 1.04 a`` (about 1 % of the hazards: a page of 100 reads
    about 10,000 rows in the store's order);
(b) spatial: ``S_INTERSECTS(geometry, BBOX(...))`` with the random 0.1° boxes of the items
    scenario of ``bench/api.py`` (about 300 hazards each).

Goal: the SQL path at least 5× the old Python evaluation's pages per second in each. The old
spatial filter reads the whole table for a page, so it is loaded by ``--old-spatial-clients``
(2) connections for ``--old-spatial-duration`` (120 s), with a wrk timeout of 300 s: more
would only queue.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402
import api  # noqa: E402

GOAL_X = 5.0
OLD_SRC = Path("/tmp/old-9236e0a/src")
OLD_COMMIT = "9236e0a"
WINDOW = 1.04  # area_m2 BETWEEN a AND a * WINDOW: ln(1.04) / ln(50) = 1.0 % of log-uniform 1-50 ha


def cql_paths(n: int = api.N_PATHS, seed: int = api.SEED_API) -> dict[str, list[str]]:
    import urllib.parse

    import numpy as np

    rng = np.random.default_rng(seed + 12)
    lo, hi = math.log(10_000.0), math.log(500_000.0 / WINDOW)
    areas = np.exp(rng.uniform(lo, hi, n)).tolist()
    base = "/ogc/collections/hazards/items?limit=100&filter-lang=cql2-text&filter="
    attr = [f"area_m2 BETWEEN {a:.2f} AND {a * WINDOW:.2f}" for a in areas]
    spatial = [f"S_INTERSECTS(geometry, BBOX({b}))" for b in api.make_paths(n, seed)["bboxes"]]
    return {
        "attribute": [base + urllib.parse.quote(f) for f in attr],
        "spatial": [base + urllib.parse.quote(f) for f in spatial],
    }


def start(name: str, db: Path, src: Path, workers: int, work: Path) -> api.Server:
    env = c.subprocess_env()
    env["PYTHONPATH"] = str(src)
    env["DEMINE_BENCH_SRC"] = str(src)  # ahead of this tree's, which bench/_common.py puts first
    env["DEMINE_BENCH_DB"] = str(db)
    env["DEMINE_BENCH_BUDGET"] = "0"  # no request budget
    port = api.free_port()
    cmd = api.uvicorn_cmd("api:app_factory", port, workers, factory=True, app_dir=str(c.BENCH))
    return api.start_server(name, cmd, port, env, "/api/v1/health", work)


def check(new: api.Server, old: api.Server, paths: list[str], k: int) -> list[dict[str, Any]]:
    """The first page of ``k`` paths is the same from both servers."""
    import httpx

    out = []
    for p in paths[:k]:
        a = httpx.get(new.url + p, timeout=600).json()
        b = httpx.get(old.url + p, timeout=600).json()
        ids_a = [f["id"] for f in a["features"]]
        ids_b = [f["id"] for f in b["features"]]
        if ids_a != ids_b:
            raise SystemExit(f"the servers disagree on {p}: {len(ids_a)} vs {len(ids_b)} features")
        out.append({"path": p, "features": len(ids_a)})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 hazards, 5 s runs")
    ap.add_argument("--duration", type=float, help="seconds per measured run (15; quick 5)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up (3)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--old-src", type=Path, default=OLD_SRC, help=f"src/ of {OLD_COMMIT}")
    ap.add_argument("--old-spatial-clients", type=int, default=2)
    ap.add_argument("--old-spatial-duration", type=float, default=120.0)
    ap.add_argument("--wrk-timeout", type=float, default=300.0, help="seconds a request may take")
    ap.add_argument("--checks", type=int, default=2, help="paths compared between the servers")
    ap.add_argument(
        "--reuse-store",
        action="store_true",
        help="use the cached store file even if demine's store sources changed since it was made",
    )
    args = ap.parse_args(argv)
    if not (args.old_src / "demine").is_dir():
        sys.exit(f"{args.old_src} is not a demine src/: git worktree add /tmp/old-9236e0a 9236e0a")
    n = 100_000 if args.quick else 1_000_000
    args.duration = args.duration or (5.0 if args.quick else 15.0)
    cached = c.data_dir() / f"store_{n}_{c.VERTICES}v.gpkg"
    reuse = args.reuse_store and cached.exists()
    db = cached if reuse else c.hazard_store_chunked(n, log=c.log)
    work = c.data_dir() / "api"
    work.mkdir(exist_ok=True)
    paths = cql_paths()
    results: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    servers = api.SERVERS
    try:
        new = start("demine-sql", db, c.SRC, args.workers, work)
        servers.append(new)
        old = start(f"demine-{OLD_COMMIT}", db, args.old_src, args.workers, work)
        servers.append(old)
        c.log(f"servers: {new.url} (this tree), {old.url} ({OLD_COMMIT})")
        for key, k in (("attribute", args.checks), ("spatial", 1)):
            c.log(f"checking {key} ...")
            checks[key] = check(new, old, paths[key], k)
        for key in ("attribute", "spatial"):
            results[f"sql_{key}"] = api.load(new, paths[key], args, work, f"SQL {key}")
        results["old_attribute"] = api.load(old, paths["attribute"], args, work, "old attribute")
        results["old_spatial"] = api.load(
            old,
            paths["spatial"],
            args,
            work,
            "old spatial",
            clients=args.old_spatial_clients,
            duration=args.old_spatial_duration,
            warmup=False,
            drain=False,
        )
    finally:
        for s in servers:
            s.stop()
    report(args, n, db, checks, results)


def report(
    args: argparse.Namespace,
    n: int,
    db: Path,
    checks: dict[str, Any],
    results: dict[str, dict[str, Any]],
) -> None:
    rep = c.Report(
        "api-cql", f"CQL2 filters in SQL vs the old Python evaluation: {n:,} hazards", args.quick
    )
    rep.params = {
        "hazards": n,
        "store_mb": round(db.stat().st_size / 1e6),
        "server": f"uvicorn, {args.workers} worker processes each, 127.0.0.1, no request budget",
        "anchor": f"the same API at commit {OLD_COMMIT} (filters evaluated in Python)",
        "clients": args.clients,
        "old_spatial_clients": args.old_spatial_clients,
        "duration_s": args.duration,
        "old_spatial_duration_s": args.old_spatial_duration,
        "attribute_filter": f"area_m2 BETWEEN a AND {WINDOW} a (about 1 %)",
        "spatial_filter": f"S_INTERSECTS(geometry, BBOX(...)), {api.BBOX_DEG} degree boxes",
        "checks": checks,
    }
    for key in ("attribute", "spatial"):
        s, o = results[f"sql_{key}"], results[f"old_{key}"]
        rep.rows.append(
            c.Row(
                f"{key} filter, items page: time per page (1/throughput); SQL "
                f"{s['rps']:,.2f} pages/s (p50 {s['p50_us'] / 1e3:,.0f} ms, errors "
                f"{s['errors']}), old {o['rps']:,.3f} pages/s (p50 {o['p50_us'] / 1e3:,.0f} ms, "
                f"errors {o['errors']})",
                1 / s["rps"] if s["rps"] else None,
                f"old code ({OLD_COMMIT}), Python evaluation",
                1 / o["rps"] if o["rps"] else None,
                f"≥ {GOAL_X:g}× the old pages/s",
                1 / GOAL_X,
            )
        )
    rep.details = results
    rep.print()
    rep.write()


if __name__ == "__main__":
    main()
