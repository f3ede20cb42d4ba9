"""Duplicates (issue 12): repeated ids in import files, exact and near duplicate records, and
overlapping open hazards.

* **Repeated ids.** A record id (UUID) or source id carried by several features of the files of
  one import is one located fault naming every file and feature index that carries it; none of
  those features is stored (which of them is meant cannot be told).
* **Exact and near duplicates.** Two records of one kind are duplicates when their identity
  fields (:data:`IDENTITY`; dates compared by day) are equal and their geometries are
  identical after normalisation (*exact*, coordinates on a 1e-9° grid) or near (*near*: points
  within ``tolerance_m`` metres; polygons whose symmetric difference is under
  :data:`NEAR_AREA_RATIO` of their union). Distances and areas are measured in a local
  equirectangular plane (longitude scaled by the cosine of each vertex's latitude), which is
  within a fraction of a per cent of the geodesic figure at the metre scale compared here.
  Candidate pairs come from one STRtree query, so 36,000 points take a fraction of a second.
* **Overlapping open hazards.** Pairs of open hazards whose polygons overlap with an area > 0,
  with the geodesic overlap area.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from demine.errors import Fault, ValidationError
from demine.model.schema import Record
from demine.store.base import Store

# the fields that make a record's identity, per kind (besides its geometry); date and datetime
# fields are compared by day
IDENTITY: dict[str, tuple[str, ...]] = {
    "hazards": ("hazard_type", "status"),
    "finds": ("device_type", "found_at"),
    "eo_reports": ("reported_at",),
    "accidents": ("occurred_at", "accident_type"),
    "emplacements": ("device_type",),
    "releases": ("release_type", "released_on"),
}
DATE_FIELDS = frozenset({"found_at", "reported_at", "occurred_at", "released_on"})
DEFAULT_TOLERANCE_M = 1.0
MAX_TOLERANCE_M = 1000.0  # beyond, near pairs could grow with the square of the records
NEAR_AREA_RATIO = 0.01  # polygons: symmetric difference under 1 % of the union is "near"
EXACT_GRID_DEG = 1e-9  # "identical after normalisation": coordinates on this grid
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0


# --- repeated ids ---------------------------------------------------------------------------


def _places(where: Sequence[tuple[str, int]]) -> str:
    by_file: dict[str, list[int]] = {}
    for src, idx in where:
        by_file.setdefault(src, []).append(idx)
    return "; ".join(
        f"{src}: feature{'s' if len(ix) > 1 else ''} {', '.join(str(i) for i in ix)}"
        for src, ix in by_file.items()
    )


def repeated_ids(
    occurrences: Iterable[tuple[str, int, str, str]],
) -> tuple[list[Fault], set[tuple[str, int]]]:
    """The faults of ids carried by more than one feature, and the (file, index) of every such
    feature. ``occurrences``: (file, feature index, "id" or "source_id", value)."""
    occ = occurrences if isinstance(occurrences, list) else list(occurrences)
    # first the values carried more than once (counted in C), then their places
    counts = Counter((what, value) for _, _, what, value in occ)
    twice = {k for k, n in counts.items() if n > 1}
    seen: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for src, idx, what, value in occ if twice else ():
        if (what, value) not in twice:
            continue
        places = seen.setdefault((what, value), [])
        if (src, idx) not in places:
            places.append((src, idx))
    faults: list[Fault] = []
    drop: set[tuple[str, int]] = set()
    for (what, value), places in seen.items():
        if len(places) < 2:
            continue
        label = "source id" if what == "source_id" else "record id"
        faults.append(
            Fault(
                f"{label} {value!r} is carried by {len(places)} features ({_places(places)}); "
                "none of them is stored: give each feature its own id",
                places[0][1],
                what,
                places[0][0],
                feature_id=value if what == "id" else None,
                source_id=value if what == "source_id" else None,
            )
        )
        drop.update(places)
    return faults, drop


def record_occurrences(
    src: str, records: Sequence[Record], indexes: Sequence[int]
) -> list[tuple[str, int, str, str]]:
    """The ids of ``records`` (feature indexes ``indexes``) as :func:`repeated_ids` takes them."""
    out: list[tuple[str, int, str, str]] = []
    for r, idx in zip(records, indexes, strict=True):
        out.append((src, idx, "id", r.id))
        if r.source_id is not None:
            out.append((src, idx, "source_id", r.source_id))
    return out


# --- exact and near duplicates --------------------------------------------------------------


@dataclass
class Group:
    """Duplicate records: positions in the list given, the first is the one kept."""

    members: list[int]
    classes: list[int]  # per member: the same number for members identical to each other
    fields: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exact(self) -> bool:
        return len(set(self.classes)) == 1

    @property
    def label(self) -> str:
        return "exact" if self.exact else "near"

    def label_of(self, a: int, b: int) -> str:
        """ "exact" or "near": how members ``a`` and ``b`` (positions) match."""
        c = dict(zip(self.members, self.classes, strict=True))
        return "exact" if c[a] == c[b] else "near"


def _norm(name: str, v: Any) -> Any:
    if v is None:
        return None
    if name in DATE_FIELDS:
        return str(v)[:10]
    if isinstance(v, list):
        return tuple(sorted(str(x) for x in v))
    return v


def identity_fields(kind: str) -> tuple[str, ...]:
    if kind not in IDENTITY:
        raise ValidationError(
            f"no duplicate rule for {kind!r}",
            [Fault(f"expected one of {', '.join(IDENTITY)}", field="KIND")],
        )
    return IDENTITY[kind]


def _local_metres(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    def tf(c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(
            [c[:, 0] * np.cos(np.radians(c[:, 1])) * _M_PER_DEG_LON, c[:, 1] * _M_PER_DEG_LAT]
        )

    out: npt.NDArray[np.object_] = shapely.transform(geoms, tf)
    return out


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _codes(fields: tuple[str, ...], properties: Sequence[dict[str, Any]]) -> Any:
    """One integer per record, equal for records whose identity fields are equal."""
    codes = np.zeros(len(properties), dtype=np.int64)
    for f in fields:
        seen: dict[Any, int] = {}
        values = [p.get(f) for p in properties]
        if all(type(v) is str or v is None for v in values):
            # text (most imports): each distinct value keyed once, in order of first
            # appearance, so the codes are those of the general way below
            code_of = {
                v: seen.setdefault(_key(_norm(f, v)), len(seen)) for v in dict.fromkeys(values)
            }
            col = np.fromiter(map(code_of.__getitem__, values), np.int64, len(values))
        else:
            col = np.fromiter(
                (seen.setdefault(_key(_norm(f, v)), len(seen)) for v in values),
                dtype=np.int64,
                count=len(values),
            )
        codes = np.unique(codes * (len(seen) + 1) + col, return_inverse=True)[1].ravel()
    return codes


def _key(v: Any) -> Any:
    try:
        hash(v)
    except TypeError:
        return repr(v)
    return (type(v).__name__, v)


def _components(m: int, a: npt.NDArray[np.intp], b: npt.NDArray[np.intp]) -> Any:
    """Each of ``m`` nodes' component (its smallest member) in the graph of edges a-b: the
    edges are few (the duplicates), so a union-find over them alone."""
    labels = np.arange(m)
    if not len(a):
        return labels
    nodes = np.unique(np.concatenate([a, b]))
    at = {int(x): i for i, x in enumerate(nodes.tolist())}
    uf = _Union(len(nodes))  # its roots are the smallest positions, so the smallest nodes
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        uf.join(at[x], at[y])
    labels[nodes] = nodes[[uf.find(i) for i in range(len(nodes))]]
    return labels


@dataclass
class GeometryKeys:
    """What the duplicate search needs of each geometry, made ahead (:func:`geometry_keys`;
    an import in two processes makes each half's in its process): whether it has one, and
    for those that do, in order, its exact key (the normalised geometry's WKB on the
    :data:`EXACT_GRID_DEG` grid) and the geometry in local metres (for "near")."""

    ok: npt.NDArray[np.bool_]
    exact: npt.NDArray[np.object_]
    local: npt.NDArray[np.object_]

    @staticmethod
    def join(parts: Sequence[GeometryKeys]) -> GeometryKeys:
        return GeometryKeys(
            np.concatenate([p.ok for p in parts]),
            np.concatenate([p.exact for p in parts]),
            np.concatenate([p.local for p in parts]),
        )


def geometry_keys(geometries: Sequence[Any], *, digest: bool = False) -> GeometryKeys:
    """The keys of these geometries; with ``digest`` each exact key is the 32-byte BLAKE2b
    digest of the WKB (smaller to hand to another process; equal WKB, equal digests)."""
    geoms = np.empty(len(geometries), dtype=object)
    geoms[:] = list(geometries)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    g = geoms[ok]
    digits = round(-np.log10(EXACT_GRID_DEG))
    exact = shapely.to_wkb(shapely.normalize(shapely.transform(g, lambda c: np.round(c, digits))))
    if digest:
        import hashlib

        blake = hashlib.blake2b
        exact = np.fromiter((blake(w).digest() for w in exact), dtype=object, count=len(exact))
    return GeometryKeys(ok, exact, _local_metres(g))


def find_groups(
    kind: str,
    geometries: Sequence[Any],
    properties: Sequence[dict[str, Any]],
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    keys: GeometryKeys | None = None,
) -> list[Group]:
    """The groups of duplicates among records of ``kind`` (geometries and properties, in one
    order), each in position order; ``tolerance_m`` 0 finds exact duplicates only. ``keys``:
    the geometries' keys made ahead (then ``geometries`` are not read)."""
    fields = identity_fields(kind)
    if not 0 <= tolerance_m <= MAX_TOLERANCE_M:
        raise ValidationError(
            "bad duplicate tolerance",
            [Fault(f"{tolerance_m} m: expected 0 to {MAX_TOLERANCE_M:g}", field="tolerance_m")],
        )
    if keys is None:
        keys = geometry_keys(geometries)
    pos = np.flatnonzero(keys.ok)
    if len(pos) < 2:
        return []
    codes = _codes(fields, [properties[int(i)] for i in pos])
    wkb = keys.exact
    # exact classes: the identity code and the normalised geometry's bytes
    seen: dict[bytes, int] = {}
    wkb_code = np.fromiter((seen.setdefault(w, len(seen)) for w in wkb), np.int64, len(wkb))
    _, first, cls = np.unique(
        codes * (len(seen) + 1) + wkb_code, return_index=True, return_inverse=True
    )
    cls = cls.ravel()
    exact_first = first[cls]  # per record: the first of its exact class (positions in pos)
    m = len(pos)
    a = np.flatnonzero(exact_first != np.arange(m))
    b = exact_first[a]
    if tolerance_m > 0:
        na, nb = _near_pairs(keys.local, codes, first, tolerance_m)
        a, b = np.concatenate([a, na]), np.concatenate([b, nb])
    labels = _components(m, a, b)
    order = np.argsort(labels, kind="stable")
    order = order[np.bincount(labels)[labels[order]] > 1]  # in groups of two or more
    if not len(order):
        return []
    cuts = [0, *(np.flatnonzero(np.diff(labels[order])) + 1).tolist(), len(order)]
    members, classes = pos[order].tolist(), cls[order].tolist()
    out = [Group(members[x:y], classes[x:y], fields) for x, y in zip(cuts, cuts[1:], strict=False)]
    out.sort(key=lambda gr: gr.members[0])
    return out


def _near_pairs(
    local: npt.NDArray[np.object_],
    codes: npt.NDArray[np.int64],
    reps: npt.NDArray[np.intp],
    tolerance_m: float,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The pairs of exact classes (``reps``: one position each) whose geometries are near, as
    positions (``local``: each one in local metres)."""
    rg = local[reps]
    dims = shapely.get_dimensions(rg)
    tree = shapely.STRtree(rg)
    outa, outb = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)]
    for dim in np.unique(dims):
        sel = np.flatnonzero(dims == dim)
        if dim == 2:  # boxes that meet: the cheap tests below first, "intersects" last
            a, b = tree.query(rg[sel])
        else:
            a, b = tree.query(rg[sel], predicate="dwithin", distance=tolerance_m)
        a = sel[a]
        keep = (a < b) & (dims[b] == dim) & (codes[reps[a]] == codes[reps[b]])
        a, b = a[keep], b[keep]
        if dim == 2 and len(a):
            # near needs sym <= r * union, and sym >= |A - B|, union <= A + B (A, B: the two
            # areas; the polygons are valid: checked on import and on write): so pairs whose
            # areas differ by more than r * (A + B) are not near, and are not overlaid
            ar = shapely.area(rg[a]), shapely.area(rg[b])
            could = np.abs(ar[0] - ar[1]) <= NEAR_AREA_RATIO * (ar[0] + ar[1]) * (1 + 1e-6)
            a, b = a[could], b[could]
            meet = shapely.intersects(rg[a], rg[b])  # polygons near each other meet
            a, b = a[meet], b[meet]
            sym = shapely.area(shapely.symmetric_difference(rg[a], rg[b]))
            union = shapely.area(shapely.union(rg[a], rg[b]))
            near = sym <= NEAR_AREA_RATIO * np.maximum(union, 1e-12)
            a, b = a[near], b[near]
        elif len(a):  # lines, multipoints: every vertex near the other
            near = shapely.hausdorff_distance(rg[a], rg[b]) <= tolerance_m
            a, b = a[near], b[near]
        outa.append(reps[a])
        outb.append(reps[b])
    return np.concatenate(outa), np.concatenate(outb)


# --- overlapping hazards --------------------------------------------------------------------


@dataclass
class Overlap:
    first: int
    second: int
    area_m2: float


def _overlap_pairs(geometries: Sequence[Any]) -> tuple[Any, Any, Any]:
    """Positions (a < b) of polygons that overlap with an area > 0, and the overlaps."""
    a, b, inter, _ = _overlap_pairs_valid(geometries)
    return a, b, inter


def _overlap_pairs_valid(geometries: Sequence[Any]) -> tuple[Any, Any, Any, Any]:
    """:func:`_overlap_pairs`, and the polygons made valid (None: not a polygon)."""
    geoms = np.empty(len(geometries), dtype=object)
    geoms[:] = list(geometries)
    poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    geoms[~poly] = None
    geoms[poly] = shapely.make_valid(geoms[poly])
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    inter = shapely.intersection(geoms[a], geoms[b])
    some = shapely.area(inter) > 0
    return a[some], b[some], inter[some], geoms


def overlaps(geometries: Sequence[Any]) -> list[Overlap]:
    """Pairs of polygons (positions, first < second) that overlap with an area > 0, with the
    geodesic area of the overlap."""
    from demine.geo.geodesy import geodesic_area

    a, b, inter = _overlap_pairs(geometries)
    areas = geodesic_area(inter)
    return [Overlap(int(x), int(y), float(m2)) for x, y, m2 in zip(a, b, areas, strict=True)]


def overlapping_union(geometries: Sequence[Any]) -> tuple[list[int], float]:
    """The positions of the polygons that overlap another (area > 0), and the geodesic area of
    their union in m². Each cluster of overlapping polygons is merged on its own (quicker than
    one union of all: 16,000 hazards, 6,000 of them overlapping, take about three seconds)."""
    clusters, areas = overlap_clusters(geometries)
    involved = sorted(i for c in clusters for i in c)
    return involved, float(np.asarray(areas, dtype=np.float64).sum())


def overlap_clusters(geometries: Sequence[Any]) -> tuple[list[list[int]], list[float]]:
    """The clusters of polygons that overlap (area > 0; each a list of positions, ascending;
    the clusters in the order of their first position) and the geodesic area in m² of each
    cluster's union: what :func:`overlapping_union` adds up (in this order)."""
    from demine.geo.geodesy import geodesic_area

    a, b, _, valid = _overlap_pairs_valid(geometries)
    if not len(a):
        return [], []
    uf = _Union(len(geometries))
    for x, y in zip(a, b, strict=True):
        uf.join(int(x), int(y))
    involved = sorted({int(i) for i in (*a, *b)})
    clusters: dict[int, list[int]] = {}
    for i in involved:
        clusters.setdefault(uf.find(i), []).append(i)
    # every polygon of a pair is made valid already (the same make_valid of the same polygon)
    merged = [shapely.union_all(valid[c]) for c in clusters.values()]
    return list(clusters.values()), [float(m) for m in geodesic_area(merged)]


# --- at import ------------------------------------------------------------------------------


@dataclass
class Batch:
    """The good records of one file of an import, with their feature indexes."""

    source: str
    records: list[Record]
    indexes: list[int]
    warnings: list[Fault] = field(default_factory=list)
    drop: set[int] = field(default_factory=set)  # positions in records not to store
    duplicates: int = 0
    of_stored: int = 0  # of the duplicates, those of a stored record


def _what(label: str, group: Group) -> str:
    return f"same {'geometry' if label == 'exact' else 'place'}, {', '.join(group.fields)}"


def flag_duplicates(
    kind: str,
    batches: Sequence[Batch],
    existing: Sequence[Record] = (),
    *,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    skip: bool = False,
    keys: GeometryKeys | None = None,
) -> None:
    """Mark the duplicates among the records of ``batches`` and against ``existing`` (the stored
    records of the kind that the import does not update): one warning per duplicate feature,
    naming the feature or stored record it duplicates; with ``skip`` the duplicates go into each
    batch's ``drop`` (the first of a group in the files is kept; a duplicate of a stored record
    is never stored again)."""
    if kind not in IDENTITY:
        return
    where: list[tuple[int, int]] = [
        (b, p) for b, bt in enumerate(batches) for p in range(len(bt.records))
    ]
    recs = [batches[b].records[p] for b, p in where]
    n_new = len(recs)
    updated = {r.id for r in recs} | {r.source_id for r in recs if r.source_id is not None}
    old = [
        r
        for r in existing
        if r.id not in updated and (r.source_id is None or r.source_id not in updated)
    ]
    allr = recs + old
    if keys is not None and old:
        keys = GeometryKeys.join([keys, geometry_keys([r.geometry for r in old])])
    groups = find_groups(
        kind, [r.geometry for r in allr], [r.properties for r in allr], tolerance_m, keys
    )
    for gr in groups:
        new = [m for m in gr.members if m < n_new]
        stored_at = [m for m in gr.members if m >= n_new]
        ref = stored_at[0] if stored_at else new[0]
        first = None if stored_at else new[0]
        for m in new:
            if m == first:
                continue
            b, p = where[m]
            bt = batches[b]
            if stored_at:
                s = allr[ref]
                sid = f" (source id {s.source_id!r})" if s.source_id is not None else ""
                of = f"stored record {s.id}{sid}"
            else:
                fb, fp = where[ref]
                of = f"{batches[fb].source} feature {batches[fb].indexes[fp]}"
            r = recs[m]
            bt.warnings.append(
                Fault(
                    f"{gr.label_of(m, ref)} duplicate of {of}: {_what(gr.label_of(m, ref), gr)}"
                    + ("; skipped" if skip else "; stored (--skip-duplicates skips it)"),
                    bt.indexes[p],
                    "geometry",
                    bt.source,
                    source_id=r.source_id,
                )
            )
            bt.duplicates += 1
            bt.of_stored += bool(stored_at)
            if skip:
                bt.drop.add(p)


# --- among stored records (demine duplicates) -----------------------------------------------


def stored_duplicates(
    store: Store, kind: str, *, tolerance_m: float = DEFAULT_TOLERANCE_M, role: str = "analyst"
) -> dict[str, Any]:
    """The exact and near duplicate groups among the stored records of ``kind`` (and, for
    hazards, the pairs of open hazards that overlap), JSON-ready: ids, source ids, what
    matched."""
    from demine.services.access import can_read_field, require_read

    fields = identity_fields(kind)
    k = store.kind(kind)
    require_read(k, role)
    shown = [f.name for f in k.fields if f.name in fields and can_read_field(f.access, role)]
    recs = list(store.list(k.name))
    groups = find_groups(
        kind, [r.geometry for r in recs], [r.properties for r in recs], tolerance_m
    )

    def ref(r: Record) -> dict[str, Any]:
        return {"id": r.id, "source_id": r.source_id}

    out: dict[str, Any] = {
        "kind": kind,
        "fields": list(fields),
        "tolerance_m": tolerance_m,
        "records": len(recs),
        "groups": [
            {
                "match": g.label,
                "matched": ["geometry" if g.exact else "place", *fields],
                "values": {f: _norm(f, recs[g.members[0]].properties.get(f)) for f in shown},
                "records": [
                    ref(recs[m]) | {"match": g.label_of(m, g.members[0])} for m in g.members
                ],
            }
            for g in groups
        ],
    }
    if kind == "hazards":
        open_ = [r for r in recs if r.properties.get("status") == "open"]
        out["overlapping_open_hazards"] = [
            {
                "first": ref(open_[o.first]) | {"name": open_[o.first].properties.get("name")},
                "second": ref(open_[o.second]) | {"name": open_[o.second].properties.get("name")},
                "overlap_m2": round(o.area_m2, 1),
            }
            for o in overlaps([r.geometry for r in open_])
        ]
    return out
