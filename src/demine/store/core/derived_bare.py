"""The derived rows of a chunk of hazards with nothing released (issue 16): the common case
of an import, where every hazard is new. :meth:`.derived.Derived._derive` calls
:func:`bare_hazard_rows` for such a chunk: the same rows as its general way, with the work
that only released hazards need (overlays, pieces, the released polygons, the statistics'
measures of what remains) left out, and the rows built by position, not through dictionaries
by hazard id.

An account with nothing released (:func:`demine.geo.release.unreleased`, or one made ahead by
the import: :func:`demine.geo.release.take_prepared`) has no pieces, released nothing (its
``released`` column is the empty MultiPolygon's WKB), and remains its hazard's own polygon: the
``remaining`` column is NULL then (read from the hazard), its WKB (and precision grid) only when
the polygon was cleaned (not polygonal or not valid: written outside demine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from demine.store.core.derived_schema import EMPTY_WKB


def bare_hazard_rows(
    rows: Sequence[tuple[str, Any]],
    last: dict[str, str | None],
    at: str,
    wkb_keys: Callable[[Sequence[Any]], list[Any] | None],
    decode: Callable[[Sequence[Any]], Any],
) -> list[tuple[Any, ...]]:
    """The ``demine_derived_hazard`` rows (:data:`.derived_schema.HAZARD_COLS` order) of these
    hazards (id, stored geometry as ``GEOM_OUT`` selects it), none with a release: those
    whose geometry is NULL or does not decode have none. ``last``: each one's latest activity
    date; ``at``: when computed; ``wkb_keys`` and ``decode``: the backend's."""
    import numpy as np
    import shapely

    from demine.geo.release import Account, take_prepared, unreleased

    n = len(rows)
    blobs = [r[1] for r in rows]
    keys = wkb_keys(blobs)
    accs: list[Account | None] = [None] * n if keys is None else take_prepared(keys)
    own: list[Any] = [None if a is None else a.remaining for a in accs]  # the hazard's polygon
    todo = [i for i, a in enumerate(accs) if a is None]
    if todo:
        for i, g in zip(todo, decode([blobs[i] for i in todo]), strict=True):
            own[i] = g
        made = [i for i in todo if own[i] is not None]
        for i, a in zip(made, unreleased([own[i] for i in made]), strict=True):
            accs[i] = a
    keep = [i for i, a in enumerate(accs) if a is not None]
    done: list[Account] = [a for a in accs if a is not None]
    if not done:
        return []
    polys = [own[i] for i in keep]
    # the remaining polygon is the hazard's own (NULL) unless it was cleaned
    remaining: list[Any] = [
        None if a.remaining is g else a.remaining for a, g in zip(done, polys, strict=True)
    ]
    grids = [0.0] * len(done)
    other = [i for i, g in enumerate(remaining) if g is not None]
    if other:
        same = shapely.equals_identical(
            np.asarray([remaining[i] for i in other], dtype=object),
            np.asarray([polys[i] for i in other], dtype=object),
        )
        redo = [i for i, eq in zip(other, same.tolist(), strict=True) if not eq]
        for i in other:
            remaining[i] = None
        if redo:
            kept = np.asarray([done[i].remaining for i in redo], dtype=object)
            for i, w, p in zip(
                redo, shapely.to_wkb(kept), shapely.get_precision(kept), strict=True
            ):
                remaining[i], grids[i] = bytes(w), float(p)
    # the statistics' figures: the bounding box; nothing measured (as stat_figures)
    bounds = shapely.bounds(np.asarray(polys, dtype=object)).reshape(-1, 4).tolist()
    dumps = orjson.dumps
    return [
        (
            rows[i][0],
            a.hazard_m2,
            a.released_m2,
            a.remaining_m2,
            dumps(a.by_type).decode(),
            0,
            last.get(rows[i][0]),
            EMPTY_WKB,
            rem,
            grid,
            at,
            *b,
            a.remaining_m2,
            a.hazard_m2,
            a.hazard_m2,
        )
        for i, a, rem, grid, b in zip(keep, done, remaining, grids, bounds, strict=True)
    ]


def new_hazard_rows(
    rows: Sequence[tuple[str, Any]], areas: Sequence[float], at: str
) -> list[tuple[Any, ...]]:
    """The rows :func:`bare_hazard_rows` makes for new hazards (id, polygon) whose polygons an
    import checked (valid, polygonal) and measured (``areas``: each one's geodesic area, as
    :func:`demine.geo.geodesy.geodesic_area` gives it, before rounding), made from those
    alone: the account of such a hazard is its own polygon and area (nothing released), so
    none is made (:func:`demine.geo.release.unreleased`). Those without a polygon have none."""
    import numpy as np
    import shapely

    from demine.geo.release import RELEASE_TYPES

    if len(areas) != len(rows):
        raise ValueError("one area per hazard")
    keep = [i for i, r in enumerate(rows) if r[1] is not None]
    polys = np.asarray([rows[i][1] for i in keep], dtype=object)
    bounds = shapely.bounds(polys).reshape(-1, 4).tolist() if keep else []
    nothing = orjson.dumps(dict.fromkeys(RELEASE_TYPES, 0.0)).decode()
    out = []
    for i, b in zip(keep, bounds, strict=True):
        a = float(areas[i])
        out.append((rows[i][0], a, 0.0, a, nothing, 0, None, EMPTY_WKB, None, 0.0, at, *b, a, a, a))
    return out
