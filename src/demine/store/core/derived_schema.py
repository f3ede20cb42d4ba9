"""The derived tables' layout (see :mod:`.derived`): their columns, what the rows mean
(:data:`DEFINITION`), and the helpers that write and read their polygons."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

DERIVED_KINDS = ("hazards", "releases", "activities")
# what the rows mean (demine_derived_state's ``definition``); rows of another are made again
# (marked not built): 2 (GeoPackage schema 14, PostGIS 13): the account of a hazard with
# nothing released is its own polygon as stored, with its area as the import measured it
DEFINITION = "2"
DERIVED_BY_HAZARD = ("demine_derived_piece", "demine_derived_hazard", "demine_derived_zonal")
HAZARD_COLS: tuple[str, ...] = (
    "hazard_id",
    "hazard_m2",
    "released_m2",
    "remaining_m2",
    "by_type",
    "releases",
    "last_activity_on",
    "released",
    "remaining",
    "remaining_grid",
    "computed_at",
)
# the columns of schema 12 (GeoPackage; PostGIS 11): the hazard's bounding box and the areas
# the statistics measure (see derived_stats.stat_figures); a store made before gets its tables
# made again, not built
STAT_COLS = {
    "demine_derived_hazard": (
        "minx",
        "miny",
        "maxx",
        "maxy",
        "remaining_stat_m2",
        "bare_m2",
        "bare_stat_m2",
    ),
    "demine_derived_piece": ("credited_stat_m2", "remaining_after_stat_m2"),
}
HAZARD_COLS += STAT_COLS["demine_derived_hazard"]
PIECE_COLS = (
    "hazard_id",
    "seq",
    "release_id",
    "release_type",
    "released_on",
    "recorded_m2",
    "credited_m2",
    "overlap_m2",
    "overlaps_with",
    "outside_m2",
    "credited",
    "outside",
    "remaining_after",
    "remaining_after_m2",
    "released_after",
    "credited_stat_m2",
    "remaining_after_stat_m2",
)
# (table, description, columns): {B} is the backend's blob type. FLOAT is a double in both
# SQLite (REAL affinity) and PostgreSQL (float8), and a GeoPackage column type.
LAYOUT_TABLES: tuple[tuple[str, str, str], ...] = (
    # the polygons (blobs) last: reading a row's figures then never walks a polygon's pages
    (
        "demine_derived_hazard",
        "Each hazard's land-release account, kept up to date on write",
        "hazard_id TEXT NOT NULL UNIQUE, hazard_m2 FLOAT NOT NULL, released_m2 FLOAT NOT NULL, "
        "remaining_m2 FLOAT NOT NULL, by_type TEXT NOT NULL, releases INTEGER NOT NULL, "
        "last_activity_on TEXT, remaining_grid FLOAT NOT NULL, computed_at TEXT NOT NULL, "
        "minx FLOAT, miny FLOAT, maxx FLOAT, maxy FLOAT, remaining_stat_m2 FLOAT, "
        "bare_m2 FLOAT, bare_stat_m2 FLOAT, released {B}, remaining {B}",
    ),
    (
        "demine_derived_piece",
        "What each release credited to its hazard, in crediting order",
        "hazard_id TEXT NOT NULL, seq INTEGER NOT NULL, release_id TEXT NOT NULL, "
        "release_type TEXT, released_on TEXT, recorded_m2 FLOAT NOT NULL, "
        "credited_m2 FLOAT NOT NULL, overlap_m2 FLOAT NOT NULL, overlaps_with TEXT NOT NULL, "
        "outside_m2 FLOAT NOT NULL, remaining_after_m2 FLOAT, credited_stat_m2 FLOAT, "
        "remaining_after_stat_m2 FLOAT, credited {B}, outside {B}, remaining_after {B}, "
        "released_after {B}",
    ),
    (
        "demine_derived_zonal",
        "How each hazard's derived polygons split among the areas of a reference layer",
        "layer TEXT NOT NULL, layer_hash TEXT NOT NULL, hazard_id TEXT NOT NULL, "
        "computed_at TEXT NOT NULL, what TEXT NOT NULL, parts TEXT NOT NULL, "
        "UNIQUE (layer, hazard_id, what)",
    ),
    (
        "demine_derived_state",
        "Whether the derived tables are complete (built: yes or no)",
        "key TEXT NOT NULL UNIQUE, value TEXT",
    ),
)


# the released polygon of an account with no release (shapely's WKB of MultiPolygon())
EMPTY_WKB = bytes.fromhex("010600000000000000")


def wkb_of(g: Any) -> bytes | None:
    import shapely

    return None if g is None else bytes(shapely.to_wkb(g))


def geom_of(b: Any) -> Any:
    import shapely

    return None if b is None else shapely.from_wkb(bytes(b))


def on_grid(
    blobs: Sequence[Any],
    grids: Sequence[Any],
    own: Sequence[Any] | None = None,
    decode: Callable[[Sequence[Any]], Any] | None = None,
) -> Any:
    """Remaining polygons (WKB) decoded on the precision grid each was made on (one cleaned
    is on the 1e-9 degree grid): later operations on them (segmentize, overlays) then give
    what they give on the computed ones. Where a blob is None the remaining polygon is the
    hazard's own: ``own`` (its stored geometry, as selected by :func:`own_geom_sql`),
    decoded by ``decode`` (the store's)."""
    import numpy as np
    import shapely

    out = np.empty(len(blobs), dtype=object)
    kept = [i for i, b in enumerate(blobs) if b is not None]
    if kept:
        out[kept] = shapely.from_wkb(np.asarray([bytes(blobs[i]) for i in kept], dtype=object))
    if len(kept) < len(blobs):
        assert own is not None and decode is not None, "a hazard's own polygon is needed"
        mine = [i for i, b in enumerate(blobs) if b is None]
        out[mine] = np.asarray(builtins.list(decode([own[i] for i in mine])), dtype=object)
    g = np.asarray([float(x) for x in grids], dtype=np.float64)
    if (g > 0).any():
        out[g > 0] = shapely.set_precision(out[g > 0], g[g > 0], mode="pointwise")
    return out


def own_geom_sql(geom_out: str) -> str:
    """A select expression of the hazard's polygon (``h``, as ``geom_out`` selects it) where
    its derived row (``d``) keeps no remaining polygon: nothing released, the remaining is
    the hazard's own (schema 13). NULL elsewhere: that polygon is not read."""
    return f"CASE WHEN d.remaining IS NULL THEN {geom_out.replace('geom', 'h.geom')} END"
