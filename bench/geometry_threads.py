"""The geometry work of a large import on two threads (each half the features) against one.

The synthetic hazards file of ``import_hazards.py`` is read once (``read_source``); then, with
Python's cyclic garbage collector paused as during an import, the geometry work an import does
beside the property checks (``ParsedFile.check_geometries``, promotion to MultiPolygons,
geodesic areas):

* anchor (what demine did before): all features on one thread;
* demine: ``services/import_geometry.submit_parts``, each half on its own thread.

The median of ``--repeat`` runs of each, alternating which goes first; the results are checked
equal (every fault, repair and geometry).

    python bench/geometry_threads.py            # 100,000 polygons
    python bench/geometry_threads.py --quick    # 10,000
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 polygons")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each side (median)")
    args = ap.parse_args()
    import shapely

    from demine.geo.geodesy import geodesic_area
    from demine.io.sources import read_source
    from demine.model.kinds import KINDS
    from demine.services import import_geometry as ig
    from demine.services.import_check import _allowed, _promote

    n = c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS
    src = c.hazards_geojson(n, log=c.log)
    parsed = read_source(src)
    kind = KINDS["hazards"]
    allowed = _allowed(kind)

    def check(span: tuple[int, int] | None) -> list[Any]:
        return parsed.check_geometries(max_jump_m=5000.0, allowed=allowed, span=span)

    def derive(checks: list[Any]) -> tuple[Any, Any]:
        import numpy as np

        geoms = _promote(np.asarray([x.geometry for x in checks], dtype=object), "MULTIPOLYGON")
        return geoms, geodesic_area(geoms)

    def one() -> tuple[list[Any], Any]:
        got = check(None)
        return got, derive(got)

    def two() -> tuple[list[Any], Any]:
        pool = ThreadPoolExecutor(max_workers=2)
        _, checked, joined = ig.submit_parts(pool, ig.halves(n), check, derive)
        out = checked.result(), joined.result()
        pool.shutdown()
        return out

    assert len(ig.halves(n)) == 2, "fewer features than the split starts at"
    times: dict[str, list[float]] = {"one thread (anchor)": [], "two threads": []}
    results: dict[str, Any] = {}
    gc.disable()
    for r in range(args.repeat):
        order = (("one thread (anchor)", one), ("two threads", two))
        for name, f in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            results[name] = f()
            times[name].append(time.perf_counter() - t0)
            c.log(f"run {r + 1}: {name} {times[name][-1]:.2f} s")
    gc.enable()
    (c1, (g1, a1)), (c2, (g2, a2)) = results["one thread (anchor)"], results["two threads"]
    assert [(x.faults, x.repairs, x.warnings) for x in c1] == [
        (x.faults, x.repairs, x.warnings) for x in c2
    ]
    assert bool(shapely.equals_identical(g1, g2).all()) and (a1 == a2).all()

    med = {k: statistics.median(v) for k, v in times.items()}
    rep = c.Report(
        "geometry_threads",
        f"The geometry work of an import of {n:,} polygons, on two threads against one",
        quick=args.quick,
    )
    rep.params = {"polygons": n, "repeat": args.repeat, "compared": "medians"}
    rep.rows.append(
        c.Row(
            "checks, promotion and geodesic areas, each half on its own thread",
            med["two threads"],
            "the same on one thread",
            med["one thread (anchor)"],
        )
    )
    rep.details = {"times_s": times, "load_average_after": list(__import__("os").getloadavg())}
    rep.print()
    c.log(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
