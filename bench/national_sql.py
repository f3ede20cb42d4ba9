"""The anchor of bench/national_commands.py: what ``demine stats``, ``stats --by admin_areas``
and ``prioritize --top 10`` compute on the national store, written by hand in PostGIS SQL over
the store's record tables (as an analyst with psql would: the tables' GiST indexes on
``geom`` and b-tree indexes on ``hazard_id``; areas with ``ST_Area(geography)``; distances
with ``ST_DWithin(geography)`` behind an index prefilter; overlapping hazards counted once
with ``ST_Union``). No demine code and no derived table is used.

What it leaves out, so it does somewhat less than demine: the crediting of releases in date
order (two releases of a hazard overlapping: here ``ST_Union`` of a hazard's releases merges
them, the released area by type is each release's part inside its hazard, so an overlap would
count twice; the synthetic releases do not overlap), the precision grids and sliver rules, the
rounding of each piece to whole m², the counts of hazards and releases by status and the
casualty tables of ``stats``, the explanations of ``prioritize``, and the residual-risk
estimate (no emplacement records in the store: every hazard takes the fallback, here the
constant)."""

from __future__ import annotations

import time
from typing import Any

# each hazard's unreleased part: the hazard minus the union of its releases
REMAINING = """
CREATE TEMP TABLE anchor_remaining AS
SELECT h.id, COALESCE(ST_Difference(h.geom, u.g), h.geom) AS g
FROM hazards h
LEFT JOIN (SELECT hazard_id, ST_Union(geom) AS g FROM releases GROUP BY hazard_id) u
  ON u.hazard_id = h.id
WHERE h.status = 'open';
CREATE INDEX ON anchor_remaining USING gist (g);
ANALYZE anchor_remaining;
"""

STATS = (
    # land released by type and year: each release's part inside its hazard
    """
SELECT r.release_type, extract(year FROM r.released_on)::int AS year, count(*) AS releases,
       sum(ST_Area(ST_Intersection(r.geom, h.geom)::geography)) AS m2
FROM releases r JOIN hazards h ON h.id = r.hazard_id
GROUP BY 1, 2 ORDER BY 1, 2
""",
    # remaining area of the open hazards, overlapping hazards counted once
    """
SELECT count(*) AS hazards, sum(ST_Area(g::geography)) AS sum_m2,
       ST_Area(ST_Union(g)::geography) AS union_m2
FROM anchor_remaining
""",
)

STATS_BY = (
    # released land by admin area, type and year
    """
SELECT a.id, r.release_type, extract(year FROM r.released_on)::int AS year,
       sum(ST_Area(ST_Intersection(ST_Intersection(r.geom, h.geom), a.geom)::geography)) AS m2
FROM releases r
JOIN hazards h ON h.id = r.hazard_id
JOIN admin_areas a ON a.geom && r.geom AND ST_Intersects(a.geom, r.geom)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
""",
    # remaining area by admin area, overlapping hazards counted once in each area
    """
SELECT a.id, count(*) AS hazards,
       ST_Area(ST_Union(ST_Intersection(x.g, a.geom))::geography) AS remaining_m2
FROM anchor_remaining x
JOIN admin_areas a ON a.geom && x.g AND ST_Intersects(a.geom, x.g)
GROUP BY a.id ORDER BY a.id
""",
)

# the ranking with the factors the national store has (no impact layers, no population
# raster, no emplacement records: those take their fallback 1.0, a constant 10.0 in weights)
# and the built-in weights: accidents and EO reports within 2 km (the GiST index of the points
# prefilters by a box of 0.05 degree, more than 2 km below 60 degrees of latitude), the area
# still to release.
PRIORITIZE = (
    """
WITH acc AS (
  SELECT x.id, count(p.fid) AS n FROM anchor_remaining x
  LEFT JOIN accidents p ON p.geom && ST_Expand(x.g, 0.05)
   AND ST_DWithin(x.g::geography, p.geom::geography, 2000)
  GROUP BY x.id
), eo AS (
  SELECT x.id, count(p.fid) AS n FROM anchor_remaining x
  LEFT JOIN eo_reports p ON p.geom && ST_Expand(x.g, 0.05)
   AND ST_DWithin(x.g::geography, p.geom::geography, 2000)
  GROUP BY x.id
), area AS (
  SELECT id, ST_Area(g::geography) / 10000 AS ha FROM anchor_remaining
)
SELECT area.id, 10.0
       + 2.0 * acc.n / (acc.n + 1.0)
       + 1.0 * eo.n / (eo.n + 2.0)
       + 0.5 * area.ha / (area.ha + 10.0) AS score,
       acc.n AS accidents, eo.n AS eo_reports, area.ha
FROM area JOIN acc USING (id) JOIN eo USING (id)
ORDER BY score DESC, area.id LIMIT 10
""",
)

ANCHORS = {
    "stats": STATS,
    "stats --by admin_areas": STATS_BY,
    "prioritize --top 10": PRIORITIZE,
}


def run_anchor(
    pg_url: str, schema: str, what: str, timeout_min: float = 20.0
) -> tuple[float | None, dict[str, Any]]:
    """Wall time (s) of the hand-written SQL of ``what`` on the national store in ``schema``
    (the hazards' remaining parts made first, in the same timing), and what it gave (row
    counts, the first rows). None when it ran past the statement timeout."""
    import psycopg

    info: dict[str, Any] = {"statement_timeout_min": timeout_min}
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(f'SET search_path TO "{schema}", public')
        c.execute(f"SET statement_timeout = '{int(timeout_min * 60_000)}'")
        t0 = time.perf_counter()
        try:
            c.execute("DROP TABLE IF EXISTS anchor_remaining")
            c.execute(REMAINING)
            info["remaining_s"] = round(time.perf_counter() - t0, 3)
            for k, sql in enumerate(ANCHORS[what]):
                rows = c.execute(sql).fetchall()
                info[f"query_{k + 1}_rows"] = len(rows)
                info[f"query_{k + 1}_first"] = [[_plain(v) for v in r] for r in rows[:3]]
            if what.startswith("prioritize"):
                info["top_ids"] = [r[0] for r in rows]
        except psycopg.errors.QueryCanceled:
            info["timed_out"] = True
            return None, info
        dt = time.perf_counter() - t0
    return dt, info


def _plain(v: Any) -> Any:
    return v if isinstance(v, (int, str)) or v is None else round(float(v), 3)
