"""Duplicates and overlaps: the work issue 12 added to every import and to ``demine stats``.

Two cases, each with an anchor run in the same process:

- **Exact duplicates in a file of 36,000 points, each twice** (the shape of a real landmine-event
  file): ``services.duplicates.find_groups`` (exact *and* near, identity fields compared) against
  GeoPandas finding the exact duplicates only (``GeoDataFrame.drop_duplicates`` over WKB bytes
  and the identity fields) — a lower bound for any tool that looks at exact equality alone.
- **Open hazards counted once**: ``services.stats.land.overlap_union`` on 16,000 round hazards
  (some 6,000 overlapping) against ``shapely.union_all`` of the same polygons followed by one
  geodesic area (what a hand-written union costs).

    python bench/duplicates.py
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402


def main() -> None:
    import geopandas as gpd
    import shapely

    from demine.geo.geodesy import geodesic_area
    from demine.services.duplicates import find_groups
    from demine.services.stats.land import overlap_union

    rows: list[dict[str, Any]] = []

    n = 36_000
    pts = shapely.points([(30 + (i % 3000) * 0.001, 48 + (i // 3000) * 0.001) for i in range(n)])
    geoms = list(pts) * 2
    props = [{"device_type": "uxo", "found_at": "2025-01-01"} for _ in range(2 * n)]
    t_demine, groups = c.best_of(lambda: find_groups("finds", geoms, props))
    gdf = gpd.GeoDataFrame(
        {"device_type": ["uxo"] * (2 * n), "found_at": ["2025-01-01"] * (2 * n)},
        geometry=geoms,
        crs="EPSG:4326",
    )

    def gpd_exact() -> int:
        keyed = gdf.assign(wkb=shapely.to_wkb(gdf.geometry.values))
        return int(keyed.duplicated(subset=["wkb", "device_type", "found_at"]).sum())

    t_gpd, dup = c.best_of(gpd_exact)
    assert len(groups) == n and dup == n, (len(groups), dup)
    rows.append(
        {
            "case": "72,000 points (36,000 twice): duplicate groups",
            "demine_s": round(t_demine, 3),
            "anchor": "GeoPandas duplicated() over WKB (exact only)",
            "anchor_s": round(t_gpd, 3),
            "ratio": round(t_demine / t_gpd, 2),
        }
    )

    rnd = random.Random(1)
    hz = [
        shapely.Point(rnd.uniform(35, 38), rnd.uniform(47, 50)).buffer(rnd.uniform(0.001, 0.008))
        for _ in range(16_000)
    ]
    m2 = [round(x) for x in geodesic_area(hz)]
    t_union, out = c.best_of(lambda: overlap_union(hz, m2), repeat=2)
    t_anchor, area = c.best_of(lambda: float(geodesic_area([shapely.union_all(hz)])[0]), repeat=2)
    rows.append(
        {
            "case": f"16,000 hazards ({out['overlapping']:,} overlapping): area counted once",
            "demine_s": round(t_union, 3),
            "anchor": "shapely.union_all of all, then one geodesic area",
            "anchor_s": round(t_anchor, 3),
            "ratio": round(t_union / t_anchor, 2),
            "union_m2_demine": out["remaining_m2"],
            "union_m2_anchor": round(area),
        }
    )
    for r in rows:
        c.log(
            f"{r['case']:62s} demine {r['demine_s']:7.3f} s   anchor {r['anchor_s']:7.3f} s"
            f"   ratio {r['ratio']:.2f}"
        )
    dest = c.RESULTS / "duplicates.json"
    dest.write_text(json.dumps({"machine": c.machine(), "rows": rows}, indent=2) + "\n")
    c.log(f"wrote {dest}")


if __name__ == "__main__":
    main()
