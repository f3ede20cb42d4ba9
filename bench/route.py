"""Safety routes: the work one ``POST /api/v1/safety/route`` may cost, within the caps.

``check_route(store, coords, radius)`` on the synthetic hazards (the service behind the HTTP
route), best of 3 each: a 2-position route across the antimeridian (179.9 → -179.9, which was
once read as a 359.8° line around the world: seconds, and a wrong answer); the longest route
the default caps allow (10,000 positions, ~990 km zig-zagging through the study area) at radii
of 200 m, 5 km and 10 km (the widest route radius allowed by default). No anchor: the
figures show that one request is bounded.

    python bench/route.py            # 100,000 hazards
    python bench/route.py --quick    # 10,000 hazards
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="store of 10,000 hazards")
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached store")
    args = ap.parse_args()
    n = c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS
    path = c.hazard_store(n, fresh=args.fresh, log=c.log)

    from demine.services.safety import MAX_ROUTE_VERTICES, check_route, route_length_m
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(path)
    k = MAX_ROUTE_VERTICES
    lons = np.linspace(c.LON_MIN + 0.2, c.LON_MAX - 0.2, k)
    wave = np.sin(np.linspace(0, 60 * np.pi, k))
    lo, hi = 0.0, 2.0  # the wave's amplitude (degrees) that makes the route ~990 km
    for _ in range(40):
        amp = (lo + hi) / 2
        xy = np.column_stack([lons, (c.LAT_MIN + c.LAT_MAX) / 2 + amp * wave])
        lo, hi = (amp, hi) if route_length_m(xy) < 990_000 else (lo, amp)
    lats = (c.LAT_MIN + c.LAT_MAX) / 2 + lo * wave
    long_route = np.column_stack([lons, lats]).tolist()
    cases = [
        ("antimeridian, 2 positions, 200 m", [[179.9, 48.5], [-179.9, 48.5]], 200.0),
        (f"{k:,} positions, 200 m", long_route, 200.0),
        (f"{k:,} positions, 5 km", long_route, 5_000.0),
        (f"{k:,} positions, 10 km", long_route, 10_000.0),
    ]
    rows = []
    for name, coords, radius in cases:
        dt, hits = c.best_of(
            lambda coords=coords, radius=radius: check_route(store, coords, radius)
        )
        rows.append(
            {
                "case": name,
                "length_km": round(route_length_m(coords) / 1000, 1),
                "hazards_found": len(hits),
                "seconds": round(dt, 4),
            }
        )
        c.log(f"{name:40s} {rows[-1]['length_km']:8.1f} km {len(hits):7d} hits {dt:8.3f} s")
    store.close()
    out = c.RESULTS / f"route{'-quick' if args.quick else ''}.json"
    out.write_text(
        json.dumps({"machine": c.machine(), "hazards": n, "rows": rows}, indent=2) + "\n"
    )
    c.log(f"wrote {out}")


if __name__ == "__main__":
    main()
