"""How many polygons are split among the admin polygons of a layer at once (issue 16): the
parts :meth:`.areas.Areas.parts_of` gives for each, the same values, with the work done
together.

:meth:`.areas.Areas.parts_of` cuts a polygon by each admin polygon whose box meets it, in the
admin polygons' order: the part inside (an overlay on the 1e-9 degree grid), then the rest
outside; the parts are measured at the polygon's centre. Most polygons lie well inside one
admin polygon (:func:`deep_inside`): for them the other admin polygons give no part, the rest
after the one they lie in is empty, and the one part is the overlay of the polygon with that
admin polygon near it. That overlay of a polygon of one clockwise ring (as the overlay leaves
rings) well inside the other is the polygon with each vertex rounded to the grid, its ring
starting at its second vertex (:func:`_rounded`): made so without an overlay when a sample of
the polygons of the call shows that the overlay gives exactly those rings (else every polygon
is cut by the overlay).
All parts are measured in one :func:`demine.geo.geodesy.geodesic_area` call (each area
depends only on its polygon and centre)."""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import shapely

from demine.geo.geodesy import geodesic_area
from demine.geo.release import DENSIFY_DEG, GRID
from demine.geo.release import polygonal as _polygonal

if TYPE_CHECKING:
    from demine.store.base import Store

# the admin polygons (:class:`.areas.Areas`, which imports this module): its layer, geoms,
# tree, boundary_tree, layer_hash
Areas = Any


def whole_m2(x: float) -> int:
    """A figure rounded to the nearest whole m² (halves up)."""
    return int(math.floor(x + 0.5))


MARGIN_DEG = 1e-6  # "well inside": no admin boundary nearer than this (about 0.1 m)
PAD = 1e-3  # the admin polygon near a piece: clipped to the piece's box grown by this
SAMPLE = 16  # polygons cut both ways to check the rounded rings (per call)
CHUNK = 5_000  # hazards split (and kept) at once, between two looks at the clock
THREADED = True  # on the command line, chunks cut in worker threads (split_missing)
WORKERS = 2  # worker threads cutting chunks, each its own chunk

# what a caller with a time budget (the HTTP API) has looked at between two chunks: called with
# the layer, how many hazards are split and kept and how many were to be; it may raise
_CHECK: contextvars.ContextVar[Callable[[str, int, int], None] | None] = contextvars.ContextVar(
    "demine_split_check", default=None
)


@contextlib.contextmanager
def checked(check: Callable[[str, int, int], None]) -> Iterator[None]:
    """Have :func:`split_missing` call ``check(layer, done, total)`` between two chunks (in
    this context: the thread of one request)."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def split_missing(
    store: Store,
    until: date | None,
    areas: Areas,
    missing: Mapping[str, tuple[int, str, list[str]]],
    kept: MutableMapping[tuple[str, str], str],
) -> None:
    """Split what the zonal table does not hold (by hazard id: its figures' index, its
    account's ``computed_at``, the polygons: ``p<seq>`` a credited piece, ``r``, ``b`` or
    ``a<seq>`` the remaining polygon of the account up to ``until``, ``pt`` the hazard's
    representative point), :data:`CHUNK` hazards at once, each chunk kept in the zonal table
    (and in ``kept``) as it is made, in order.

    With no one looking between two chunks (the command line), the chunks are cut in
    :data:`WORKERS` worker threads, each its own chunk, while the main thread reads the next
    and keeps the ones cut, in order. A worker does what the main thread would with its
    chunk (:func:`_made`: the same calls on the same polygons); the workers only read
    ``areas`` (geometries are immutable; its STRtrees, made before the workers start, are
    built when made, and queries of a built tree are safe from several threads) and never
    use the store, which only the main thread does. So the same splits are kept, in the same
    order; the cutting (shapely's array functions and GEOS release the GIL) runs on both
    cores, alongside the reads and writes of the store."""
    assert areas.layer is not None
    ids = list(missing)
    chunks = [ids[s : s + CHUNK] for s in range(0, len(ids), CHUNK)]
    check = _CHECK.get()
    if check is not None or len(chunks) < 2 or not THREADED:
        for n, chunk in enumerate(chunks):
            if check is not None and n:
                check(areas.layer, n * CHUNK, len(ids))
            job = _read(store, until, missing, chunk)
            _keep(store, areas, kept, job, _made(areas, job))
        return
    areas.boundary_tree  # noqa: B018 (made here: the workers only read it)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="demine-split") as pool:
        pending: deque[tuple[_Job, Future[list[Any]]]] = deque()
        for chunk in chunks:
            job = _read(store, until, missing, chunk)
            while len(pending) >= WORKERS:  # the oldest kept before another is cut
                done, fut = pending.popleft()
                _keep(store, areas, kept, done, fut.result())
            pending.append((job, pool.submit(_made, areas, job)))
        while pending:
            done, fut = pending.popleft()
            _keep(store, areas, kept, done, fut.result())


@dataclass(slots=True)
class _Job:
    """A chunk's polygons to cut (``todo``: hazard id, computed_at, which) with their
    centres, and the representative points to place (``points``: hazard id, computed_at)."""

    todo: list[tuple[str, str, str]]
    polys: list[Any]
    centres: list[tuple[float, float]]
    points: list[tuple[str, str]]
    where: list[Any]


def _read(
    store: Store,
    until: date | None,
    missing: Mapping[str, tuple[int, str, list[str]]],
    chunk: list[str],
) -> _Job:
    """What a chunk of hazards needs cut and placed, read from the store."""
    from demine.services.release import accounts as release_accounts

    # only credited pieces and the remaining polygons kept: read as such (else the
    # accounts up to ``until``)
    light = all(w[0] == "p" or w == "r" for h in chunk for w in missing[h][2])
    if light:
        credited = store.derived_credited(chunk)
        kept_rem = dict(zip(chunk, store.derived_remaining(chunk), strict=True))
        light = all(g is not None for g in kept_rem.values())
    if not light:
        accs = release_accounts(store, until, chunk)
    todo: list[tuple[str, str, str]] = []  # (hazard id, computed_at, what)
    polys: list[Any] = []
    centres: list[tuple[float, float]] = []
    points: list[tuple[str, str]] = []  # (hazard id, computed_at)
    where: list[Any] = []  # their representative points
    # the hazards' geometries only (for their centres and representative points)
    got = store.geometries_of("hazards", chunk)
    hids = [hid for hid, _ in got]
    garr = np.empty(len(got), dtype=object)
    garr[:] = [g for _, g in got]
    boxes = shapely.bounds(garr).tolist()  # their centres, as hazards.centre makes them
    pt = np.asarray(["pt" in missing[hid][2] for hid in hids], dtype=bool)
    reps = np.full(len(hids), None, dtype=object)
    reps[pt] = shapely.point_on_surface(garr[pt])  # as Geometry.representative_point
    for hid, b, rep in zip(hids, boxes, reps, strict=True):
        _, at, lost = missing[hid]
        c = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        for w in lost:
            if w == "pt":
                points.append((hid, at))
                where.append(rep)
            else:
                k = int(w[1:]) if w.startswith("p") else -1
                todo.append((hid, at, w))
                if light:
                    polys.append(credited[(hid, k)] if k >= 0 else kept_rem[hid])
                else:
                    acc = accs[hid]
                    polys.append(acc.pieces[k].credited if k >= 0 else acc.remaining)
                centres.append(c)
    return _Job(todo, polys, centres, points, where)


def _made(areas: Areas, job: _Job) -> list[Any]:
    """A chunk's polygons cut and measured together, its points placed together."""
    return [*areas.parts_many(job.polys, job.centres), *areas.indexes_of(job.where)]


def _keep(
    store: Store, areas: Areas, kept: MutableMapping[tuple[str, str], str], job: _Job, made: Any
) -> None:
    """A chunk's splits kept in the zonal table and in ``kept``."""
    todo = job.todo + [(hid, a, "pt") for hid, a in job.points]
    new: list[tuple[str, str, str, str]] = []
    for (hid, at, w), parts in zip(todo, made, strict=True):
        text = orjson.dumps(parts).decode()
        kept[(hid, w)] = text
        new.append((hid, at, w, text))
    store.zonal_write(areas.layer, areas.layer_hash, new)


def _near(admin: Any, g: Any) -> Any:
    """The admin polygon near ``g``, its edges cut like the account's (edges straight in
    CRS84 stay straight where the areas are measured)."""
    x0, y0, x1, y1 = (float(v) for v in shapely.bounds(g))
    near = shapely.clip_by_rect(admin, x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD)
    return _polygonal(shapely.segmentize(near, DENSIFY_DEG))


def cut(areas: Areas, g: Any) -> list[tuple[int, Any]]:
    """The parts of ``g`` (not empty) in each admin polygon (its index; -1: in none), in the
    order they are cut, not measured."""
    parts: list[tuple[int, Any]] = []
    rest = g
    hits = sorted(int(i) for i in areas.tree.query(g)) if areas.tree is not None else []
    for i in hits:
        if shapely.is_empty(rest):
            break
        near = _near(areas.geoms[i], g)
        part = _polygonal(shapely.intersection(rest, near, grid_size=GRID))
        if shapely.is_empty(part):
            continue
        parts.append((i, part))
        rest = _polygonal(shapely.difference(rest, near, grid_size=GRID))
    if not shapely.is_empty(rest):
        parts.append((-1, rest))
    return parts


def cut_many(areas: Areas, arr: Any) -> list[list[tuple[int, Any]]]:
    """:func:`cut` of each polygon of ``arr`` (none empty), the same calls made together:
    in round k every polygon still to cut is cut by its k-th admin polygon (in their order,
    as :func:`cut` goes), the overlays of a round in one array call each."""
    out: list[list[tuple[int, Any]]] = [[] for _ in range(len(arr))]
    rest = arr.copy()
    if areas.tree is not None and len(arr):
        a, b = areas.tree.query(arr)
        order = np.lexsort((b, a))  # by polygon, then admin polygon
        a, b = a[order], b[order]
        count = np.bincount(a, minlength=len(arr))
        first = np.concatenate(([0], np.cumsum(count)[:-1]))
        admins = np.empty(len(areas.geoms), dtype=object)
        admins[:] = areas.geoms
        box = shapely.bounds(arr)
        for k in range(int(count.max(initial=0))):
            now = np.nonzero(count > k)[0]
            now = now[~shapely.is_empty(rest[now])]
            if not len(now):
                break
            hit = b[first[now] + k]
            near = np.empty(len(now), dtype=object)  # each as _near makes it
            near[:] = [
                shapely.clip_by_rect(admins[i], x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD)
                for i, (x0, y0, x1, y1) in zip(hit, box[now].tolist(), strict=True)
            ]
            near = _polygonals(shapely.segmentize(near, DENSIFY_DEG))
            part = _polygonals(shapely.intersection(rest[now], near, grid_size=GRID))
            got = ~shapely.is_empty(part)
            for j in np.nonzero(got)[0]:
                out[now[j]].append((int(hit[j]), part[j]))
            cut = now[got]
            rest[cut] = _polygonals(shapely.difference(rest[cut], near[got], grid_size=GRID))
    for j in np.nonzero(~shapely.is_empty(rest))[0]:
        out[j].append((-1, rest[j]))
    return out


def _polygonals(arr: Any) -> Any:
    """:func:`demine.geo.release.polygonal` of each geometry."""
    out = np.empty(len(arr), dtype=object)
    out[:] = [_polygonal(g) for g in arr]
    return out


def deep_inside(areas: Areas, arr: Any) -> Any:
    """For each polygon of ``arr``: the admin polygon it lies in, no admin boundary nearer
    than :data:`MARGIN_DEG`, meeting no other; -1 when there is none such."""
    out = np.full(len(arr), -1, dtype=np.int64)
    if areas.tree is None or not len(arr):
        return out
    a, b = areas.tree.query(arr, predicate="intersects")
    count = np.bincount(a, minlength=len(arr))
    one = np.full(len(arr), -1, dtype=np.int64)
    one[a] = b
    # a polygon (connected) meeting one admin polygon and no boundary lies in it; the parts
    # of the others are looked at
    within = shapely.get_type_id(arr) == 3
    multi = np.nonzero(~within & (count == 1))[0]
    wa, wb = areas.tree.query(arr[multi], predicate="within")
    wa = multi[wa]
    within[wa[one[wa] == wb]] = True
    close = np.zeros(len(arr), bool)
    na, _ = areas.boundary_tree.query(arr, predicate="dwithin", distance=MARGIN_DEG)
    close[na] = True
    ok = (count == 1) & within & ~close
    out[ok] = one[ok]
    return out


def _rounded(arr: Any, grids: Any) -> Any:
    """Each simple polygon of ``arr`` as the overlay on the grid gives it when nothing cuts
    it: its vertices rounded to the grid, its ring starting at its second vertex, with the
    precision grid of the polygon it was cut from (``grids``); None where rounding makes two
    neighbouring vertices one (left to the overlay)."""
    out = np.full(len(arr), None, dtype=object)
    if not len(arr):
        return out
    rings = shapely.set_precision(shapely.get_exterior_ring(arr), GRID, mode="pointwise")
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    n = np.bincount(ring, minlength=len(arr))
    start = np.concatenate(([0], np.cumsum(n)[:-1]))
    pos = np.arange(len(ring)) - start[ring]
    # the ring from its second vertex round to it again: the closed ring c0 c1 .. c0 made
    # c1 .. c0 c1 (as long)
    closed = xy[start[ring] + 1 + pos % np.maximum(n[ring] - 1, 1)]
    same = np.all(closed[1:] == closed[:-1], axis=1) & (ring[1:] == ring[:-1])
    bad = np.zeros(len(arr), bool)
    bad[ring[1:][same]] = True
    bad |= n < 4
    good = np.nonzero(~bad)[0]
    if not len(good):
        return out
    keep = ~bad[ring]
    made = shapely.polygons(
        shapely.linearrings(closed[keep], indices=(np.cumsum(~bad) - 1)[ring[keep]])
    )
    # with the polygon's precision grid, as the overlay leaves it (a later segmentize rounds
    # the vertices it adds to it): no vertex moves, they are on the grid
    grid = shapely.get_precision(grids[good])
    made[grid > 0] = shapely.set_precision(made[grid > 0], grid[grid > 0], mode="pointwise")
    out[good] = made
    return out


def one_ring(arr: Any, deep: Any) -> tuple[Any, Any]:
    """The polygons of ``arr`` well inside an admin polygon (``deep``) that are one clockwise
    ring (a polygon without holes or a multipolygon of one such, for which the overlay gives
    a polygon; clockwise as the overlay leaves rings, it turns the others): their indexes and
    those polygons."""
    kind = shapely.get_type_id(arr)
    one = (deep >= 0) & ((kind == 3) | ((kind == 6) & (shapely.get_num_geometries(arr) == 1)))
    base = arr.copy()
    base[one & (kind == 6)] = shapely.get_geometry(arr[one & (kind == 6)], 0)
    one &= shapely.get_num_interior_rings(base) == 0
    one[one] = ~shapely.is_ccw(shapely.get_exterior_ring(base[one]))
    fast = np.nonzero(one)[0]
    return fast, base[fast]


def parts_many(
    areas: Areas, geoms: Sequence[Any], centres: Sequence[tuple[float, float]]
) -> list[list[tuple[int, Any]]]:
    """The parts of each polygon (as :func:`cut` gives them), not measured."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    todo = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    out: list[list[tuple[int, Any]]] = [[] for _ in geoms]
    if areas.layer is None:
        for k in np.nonzero(todo)[0]:
            out[k] = [(-1, arr[k])]
        return out
    deep = deep_inside(areas, arr)
    deep[~todo] = -1
    fast, base = one_ring(arr, deep)
    kind = shapely.get_type_id(arr)
    rounded = _rounded(base, arr[fast])
    for sort in (3, 6):  # a sample of each
        of = kind[fast] == sort
        if not _sample_agrees(areas, arr[fast][of], deep[fast][of], rounded[of]):
            rounded[:] = None
    for k, r in zip(fast, rounded, strict=True):
        if r is not None:
            out[k] = [(int(deep[k]), r)]
            todo[k] = False
    inside = np.nonzero(todo & (deep >= 0))[0]
    if len(inside):
        # the one part: the overlay with the admin polygon near it (the rest is empty)
        nears = np.empty(len(inside), dtype=object)
        nears[:] = [_near(areas.geoms[deep[k]], arr[k]) for k in inside]
        got = shapely.intersection(arr[inside], nears, grid_size=GRID)
        for k, p in zip(inside, got, strict=True):
            p = _polygonal(p)
            if not shapely.is_empty(p):  # (else cut below, as ever)
                out[k] = [(int(deep[k]), p)]
                todo[k] = False
    rest = np.nonzero(todo)[0]
    for k, parts in zip(rest, cut_many(areas, arr[rest]), strict=True):
        out[k] = parts
    return out


def _sample_agrees(areas: Areas, arr: Any, deep: Any, rounded: Any) -> bool:
    """Whether the overlay gives exactly the rounded rings on a sample of the polygons."""
    if not len(arr):
        return True
    picks = np.linspace(0, len(arr) - 1, min(SAMPLE, len(arr))).astype(np.int64)
    for k in sorted(set(picks.tolist())):
        if rounded[k] is None:
            continue
        near = _near(areas.geoms[deep[k]], arr[k])
        exact = _polygonal(shapely.intersection(arr[k], near, grid_size=GRID))
        if not same_rings(exact, rounded[k]):
            return False
    return True


def same_rings(a: Any, b: Any) -> bool:
    """The same type, rings, coordinates in the same order and precision grid."""
    return bool(
        shapely.get_type_id(a) == shapely.get_type_id(b)
        and shapely.get_precision(a) == shapely.get_precision(b)
        and shapely.get_num_geometries(a) == shapely.get_num_geometries(b)
        and shapely.get_num_interior_rings(a) == shapely.get_num_interior_rings(b)
        and np.array_equal(shapely.get_coordinates(a), shapely.get_coordinates(b))
    )


def measured(
    pieces: Sequence[list[tuple[int, Any]]], centres: Sequence[tuple[float, float]]
) -> list[list[tuple[int, int]]]:
    """Each polygon's parts measured at its centre, in whole m² (one rounding each)."""
    flat = [p for ps in pieces for _, p in ps]
    where = [c for ps, c in zip(pieces, centres, strict=True) for _ in ps]
    if not flat:
        return [[] for _ in pieces]
    arr = np.empty(len(flat), dtype=object)
    arr[:] = flat
    areas = geodesic_area(
        shapely.segmentize(arr, DENSIFY_DEG),
        centre=np.asarray(where, dtype=np.float64).reshape(-1, 2),
    )
    it = iter(areas.tolist())
    return [[(i, whole_m2(next(it))) for i, _ in ps] for ps in pieces]
