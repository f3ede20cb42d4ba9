"""Candidate matches of a submission among the stored records of its kind (issue 13): what a
reviewer should look at before approving it as new.

Ranked, strongest first (each candidate says why; the rank is the sum of what matched):

* **same source id** (:data:`RANK` ``source_id``): the record the submission most likely
  updates;
* **duplicate** (``duplicate``): an exact or near duplicate as ``demine duplicates`` finds
  them (:func:`demine.services.duplicates.find_groups`: identity fields and geometry);
* **overlap** (``overlap`` plus ``overlap_iou`` × the overlap's share of the union): polygons
  of the same kind that overlap;
* **near** (``near`` plus ``near_closeness`` × (1 - distance / ``near_m``)): geometries within
  ``near_m`` metres (default :data:`NEAR_M`);
* **same type and date nearby** (``same_identity``): the kind's identity fields
  (:data:`demine.services.duplicates.IDENTITY`, dates by day) equal, within ``nearby_m``
  (default :data:`NEARBY_M`).

The work is bounded: one query by source id, and one bounding-box query through the store's
spatial index (at most :data:`MAX_SCAN` records), never a scan of the kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from demine.errors import Fault, ValidationError
from demine.model.schema import Record, validate_properties
from demine.services.duplicates import DATE_FIELDS, IDENTITY, find_groups
from demine.store.base import Store

NEAR_M = 100.0  # geometries this close are near
NEARBY_M = 1000.0  # same type and date within this distance
MAX_DISTANCE_M = 10_000.0  # the largest near_m / nearby_m taken
MAX_SCAN = 2000  # records read from the bounding-box query, at most
DUPLICATE_TOLERANCE_M = 1.0  # as demine duplicates: points within 1 m are near duplicates
RANK: dict[str, float] = {
    "source_id": 10_000.0,  # above every sum of the others: strongest
    "duplicate": 300.0,
    "overlap": 500.0,
    "overlap_iou": 400.0,
    "near": 200.0,
    "near_closeness": 100.0,
    "same_identity": 100.0,
}


@dataclass(slots=True)
class Candidate:
    """A stored record that may be the same as the submission, and why."""

    id: str
    source_id: str | None
    rank: float = 0.0
    reasons: list[str] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)  # source_id, duplicate, overlap, ...
    distance_m: float | None = None
    overlap_share: float | None = None  # of the submission's area, covered by the record

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source_id": self.source_id,
            "rank": round(self.rank, 1),
            "matches": list(self.matches),
            "reasons": list(self.reasons),
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "overlap_share": None if self.overlap_share is None else round(self.overlap_share, 4),
        }


def _metres(geoms: list[Any], lon0: float, lat0: float) -> npt.NDArray[np.object_]:
    """Geometries in a local plane (metres) about (lon0, lat0): an equirectangular projection
    with the WGS 84 lengths of a degree at ``lat0``, within a fraction of a per cent of
    geodesic figures at the kilometre scale."""
    m_lat, m_lon = _degree_lengths(lat0)

    def tf(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack([(xy[:, 0] - lon0) * m_lon, (xy[:, 1] - lat0) * m_lat])

    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    out: npt.NDArray[np.object_] = shapely.transform(arr, tf)
    return out


def _degree_lengths(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at ``lat`` (WGS 84, series to 4φ)."""
    p = math.radians(lat)
    m_lat = 111_132.92 - 559.82 * math.cos(2 * p) + 1.175 * math.cos(4 * p)
    m_lon = 111_412.84 * math.cos(p) - 93.5 * math.cos(3 * p)
    return m_lat, max(m_lon, 1e-6)


def distance_m(a: Any, b: Any) -> float:
    """The distance between two geometries (CRS84) in metres (local plane about ``a``)."""
    if a is None or b is None or a.is_empty or b.is_empty:
        return 0.0
    p = a.representative_point()
    ga, gb = _metres([a, b], p.x, p.y)
    return float(shapely.distance(ga, gb))


def _shape(geometry: Any) -> Any:
    if geometry is None:
        return None
    if not hasattr(geometry, "geom_type"):
        try:
            geometry = shapely.geometry.shape(geometry)
        except Exception:  # unreadable: no spatial match (its quality names the fault)
            return None
    if geometry.is_empty:
        return None
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def _day(name: str, v: Any) -> Any:
    if v is None:
        return None
    return str(v)[:10] if name in DATE_FIELDS else v


def _same_identity(kind: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The identity fields of ``kind`` when all are set and equal in both, else []."""
    names = IDENTITY.get(kind, ())
    for n in names:
        va, vb = _day(n, a.get(n)), _day(n, b.get(n))
        if va is None or va != vb:
            return []
    return list(names)


def _window(geom: Any, metres: float) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = geom.bounds
    m_lat, m_lon = _degree_lengths(min(max(abs(miny), abs(maxy)), 89.0))
    dlat = metres / min(m_lat, 110_574.0) * 1.01  # a per cent to spare
    dlon = metres / m_lon * 1.01
    return (
        max(minx - dlon, -180.0),
        max(miny - dlat, -90.0),
        min(maxx + dlon, 180.0),
        min(maxy + dlat, 90.0),
    )


def candidates(
    store: Store,
    kind: str,
    properties: dict[str, Any],
    geometry: Any,
    source_id: str | None = None,
    exclude_id: str | None = None,
    limit: int = 10,
    *,
    near_m: float = NEAR_M,
    nearby_m: float = NEARBY_M,
) -> list[Candidate]:
    """The stored records of ``kind`` that may be the submission (``properties`` as given,
    ``geometry`` GeoJSON or shapely in CRS84, its ``source_id``), strongest first, at most
    ``limit``; ``exclude_id`` (the record the submission is) is never one."""
    faults = [
        Fault(f"{v:g} m: expected above 0 and at most {MAX_DISTANCE_M:g}", field=n)
        for n, v in (("near_m", near_m), ("nearby_m", nearby_m))
        if not 0 < v <= MAX_DISTANCE_M
    ]
    if not 1 <= limit <= 1000:
        faults.append(Fault(f"{limit}: expected 1 to 1000", field="limit"))
    if faults:
        raise ValidationError("bad candidate search", faults)
    k = store.kind(kind)
    found: dict[str, Candidate] = {}

    def cand(r: Record) -> Candidate:
        c = found.get(r.id)
        if c is None:
            c = found[r.id] = Candidate(r.id, r.source_id)
        return c

    if source_id:
        for r in store.list(k.name, where={"source_id": str(source_id)}, limit=10):
            if r.id == exclude_id:
                continue
            c = cand(r)
            c.rank += RANK["source_id"]
            c.matches.append("source_id")
            c.reasons.append(f"same source id {source_id!r}")
    geom = None
    if k.geometry_type:
        from demine.services.record_rules import promote

        geom = promote(_shape(geometry), k.geometry_type)  # as it would be stored
    if geom is not None:
        clean = validate_properties(k.fields, (), properties, partial=True)[0]
        _spatial(store, k.name, clean, geom, exclude_id, near_m, nearby_m, cand)
    out = sorted(
        found.values(),
        key=lambda c: (-c.rank, math.inf if c.distance_m is None else c.distance_m, c.id),
    )
    return out[:limit]


def _spatial(
    store: Store,
    kind: str,
    clean: dict[str, Any],
    geom: Any,
    exclude_id: str | None,
    near_m: float,
    nearby_m: float,
    cand: Any,
) -> None:
    reach = max(near_m, nearby_m)
    recs = [
        r
        for r in store.list(kind, bbox=_window(geom, reach), limit=MAX_SCAN)
        if r.geometry is not None and r.id != exclude_id
    ]
    if not recs:
        return
    p = geom.representative_point()
    local = _metres([geom, *(r.geometry for r in recs)], p.x, p.y)
    g0, others = local[0], local[1:]
    dist = shapely.distance(g0, others)
    polygonal = shapely.get_dimensions(g0) == 2
    dup: dict[int, str] = {}
    if kind in IDENTITY:
        groups = find_groups(
            kind,
            [geom, *(r.geometry for r in recs)],
            [clean, *(r.properties for r in recs)],
            DUPLICATE_TOLERANCE_M,
        )
        for gr in groups:
            if gr.members[0] == 0:
                for m in gr.members[1:]:
                    dup[m - 1] = gr.label_of(m, 0)
    area0 = float(shapely.area(g0)) if polygonal else 0.0
    for i, r in enumerate(recs):
        d = float(dist[i])
        reasons: list[str] = []
        matches: list[str] = []
        rank = 0.0
        share = None
        if i in dup:
            rank += RANK["duplicate"]
            matches.append("duplicate")
            reasons.append(f"{dup[i]} duplicate (same place and {', '.join(IDENTITY[kind])})")
        if polygonal and shapely.get_dimensions(others[i]) == 2 and d == 0:
            inter = float(shapely.area(shapely.intersection(g0, others[i])))
            if inter > 0:
                union = float(shapely.area(shapely.union(g0, others[i])))
                share = inter / area0 if area0 > 0 else 0.0
                of_rec = inter / max(float(shapely.area(others[i])), 1e-12)
                rank += RANK["overlap"] + RANK["overlap_iou"] * inter / max(union, 1e-12)
                matches.append("overlap")
                reasons.append(
                    f"overlaps: {share:.0%} of the submission, {of_rec:.0%} of the record"
                )
        if "overlap" not in matches and d <= near_m:
            rank += RANK["near"] + RANK["near_closeness"] * (1 - d / near_m)
            matches.append("near")
            reasons.append(f"within {d:,.0f} m (near: {near_m:g} m)")
        same = _same_identity(kind, clean, r.properties)
        if same and d <= nearby_m:
            rank += RANK["same_identity"]
            matches.append("same_identity")
            reasons.append(f"same {', '.join(same)} within {d:,.0f} m")
        if not matches:
            continue
        c = cand(r)
        c.rank += rank
        c.matches += matches
        c.reasons += reasons
        c.distance_m = d
        c.overlap_share = share
