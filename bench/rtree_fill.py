"""The GeoPackage spatial index of a first large import: packed in bulk vs inserted row by row.

Two fresh demine GeoPackage stores (``init_store``) get the R-tree entries of the same 100,000
synthetic hazards (the MultiPolygons of ``import_hazards.py``, ``_common.hazard_rings``, as
GeoPackage blobs), inside one transaction each, as the bulk insert path of ``store.upsert``
does after the rows themselves:

* anchor (what demine did before): the envelope of each blob (``gpkg_format.envelope``), then
  ``INSERT INTO rtree_hazards_geom VALUES (?,?,?,?,?)`` row by row (executemany): SQLite's
  R-tree module inserts each entry;
* demine: ``gpkg_rtree.envelopes`` (the headers read in bulk) and ``gpkg_rtree.fill`` (STR
  packing in numpy, written to the shadow tables).

Timed, each side: the envelopes, the fill, the COMMIT, and their total; the median of
``--repeat`` runs, the two sides alternating. Both indexes are checked (``rtreecheck``, the
same boxes id by id). Also timed for information: 2,000 bbox queries (0.05°) on each tree,
answers checked equal.

    python bench/rtree_fill.py             # 100,000 envelopes
    python bench/rtree_fill.py --quick     # 10,000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

RTREE = "rtree_hazards_geom"


def _blobs(n: int) -> list[bytes | None]:
    """The GeoPackage geometry blobs of n synthetic hazards (MultiPolygons), as demine
    stores them."""
    import shapely

    from demine.store import gpkg_format as fmt

    rings, _ = c.hazard_rings(n)
    polys = shapely.multipolygons(shapely.polygons(rings), indices=range(n))
    return fmt.encode(polys)


def _fresh(tmp: Path, name: str) -> Any:
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(tmp / f"{name}.gpkg")
    init_store(store)
    return store


def _fill(store: Any, blobs: list[bytes | None], bulk: bool) -> tuple[float, float, float]:
    """Seconds to read the envelopes of the blobs, to fill the index, and the commit."""
    from demine.store import gpkg_format as fmt
    from demine.store import gpkg_rtree

    conn = store.conn
    fids = list(range(1, len(blobs) + 1))
    conn.execute("BEGIN IMMEDIATE")
    t0 = time.perf_counter()
    if bulk:
        ids, env = gpkg_rtree.envelopes(fids, blobs)
        t1 = time.perf_counter()
        assert gpkg_rtree.fill(conn, RTREE, ids, env) is True
    else:  # what demine did before: an envelope per blob, then SQLite's insert per row
        index = []
        for fid, blob in zip(fids, blobs, strict=True):
            e = fmt.envelope(blob)
            if e is not None:
                index.append((fid, *e))
        t1 = time.perf_counter()
        conn.executemany(f"INSERT INTO {RTREE} VALUES (?,?,?,?,?)", index)
    t2 = time.perf_counter()
    conn.execute("COMMIT")
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def _queries(store: Any, boxes: Any) -> tuple[float, list[int]]:
    conn = store.conn
    sql = f"SELECT count(*) FROM {RTREE} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?"
    t0 = time.perf_counter()
    counts = [conn.execute(sql, (x, x + 0.05, y, y + 0.05)).fetchone()[0] for x, y in boxes]
    return time.perf_counter() - t0, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 envelopes")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side (median)")
    args = ap.parse_args()
    import numpy as np

    n = c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS
    blobs = _blobs(n)
    rng = np.random.default_rng(c.SEED_CHECKS)
    boxes = np.stack(
        [rng.uniform(c.LON_MIN, c.LON_MAX, 2000), rng.uniform(c.LAT_MIN, c.LAT_MAX, 2000)], 1
    ).tolist()
    parts = ("envelopes", "fill", "commit", "total")
    times: dict[str, list[float]] = {f"{s}_{p}": [] for s in ("row", "bulk") for p in parts}
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for r in range(args.repeat):
            for bulk in (r % 2 == 1, r % 2 == 0):  # alternate which side goes first
                name = "bulk" if bulk else "row"
                store = _fresh(tmp, f"{name}{r}")
                took = _fill(store, blobs, bulk)
                for p, t in zip(parts, (*took, sum(took)), strict=True):
                    times[f"{name}_{p}"].append(t)
                c.log(
                    f"run {r + 1}: {name:4s} envelopes {took[0]:.3f} s, fill {took[1]:.3f} s, "
                    f"commit {took[2]:.3f} s"
                )
                if r == 0:
                    conn = store.conn
                    check = conn.execute("SELECT rtreecheck(?)", (RTREE,)).fetchone()[0]
                    assert check == "ok", check
                    info[name] = {
                        "nodes": conn.execute(f"SELECT count(*) FROM {RTREE}_node").fetchone()[0],
                        "depth": int.from_bytes(
                            conn.execute(
                                f"SELECT data FROM {RTREE}_node WHERE nodeno = 1"
                            ).fetchone()[0][:2],
                            "big",
                        ),
                        "content": conn.execute(f"SELECT * FROM {RTREE} ORDER BY id").fetchall(),
                    }
                    info[name]["query_s"], info[name]["counts"] = _queries(store, boxes)
                store.close()
    assert info["row"]["content"] == info["bulk"]["content"], "the two indexes differ"
    assert info["row"]["counts"] == info["bulk"]["counts"], "the two indexes answer differently"
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {
        "machine": c.machine(),
        "envelopes": n,
        "repeat": args.repeat,
        "times_s": times,
        "median_s": med,
        "ratio_fill": round(med["bulk_fill"] / med["row_fill"], 3),
        "ratio_total": round(med["bulk_total"] / med["row_total"], 3),
        "trees": {
            k: {"nodes": v["nodes"], "depth": v["depth"], "queries_2000_s": round(v["query_s"], 3)}
            for k, v in info.items()
        },
    }
    for line in c.machine_lines(out["machine"]):
        c.log(line)
    for p in parts:
        c.log(
            f"{p:9s}: row by row (anchor) {med['row_' + p]:.3f} s, "
            f"bulk {med['bulk_' + p]:.3f} s, ratio {med['bulk_' + p] / med['row_' + p]:.3f}"
        )
    for k, v in out["trees"].items():
        c.log(
            f"tree {k:4s}: {v['nodes']:,} nodes, depth {v['depth']}, "
            f"2,000 bbox queries {v['queries_2000_s']:.3f} s"
        )
    c.RESULTS.mkdir(exist_ok=True)
    dest = c.RESULTS / ("rtree_fill-quick.json" if args.quick else "rtree_fill.json")
    dest.write_text(json.dumps(out, indent=2) + "\n")
    c.log(f"wrote {dest}")


if __name__ == "__main__":
    main()
