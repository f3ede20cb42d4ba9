"""What else was recorded near a place: EO reports and accidents within the radius of a safety
lookup (``demine check --include``, ``GET /api/v1/safety/point?include=...``).

A civilian's EO report is not a confirmed hazard and an accident's place is not a hazardous
area, but either is a reason for caution: :func:`demine.services.safety.answer` says so. What a
caller is shown goes through :mod:`demine.services.access`: a kind the role may not read is
refused, the public sees only EO reports marked public (the others do not count towards its
warning level either, so that the answer does not betray them), and each item carries only the
fields of :data:`NEARBY_FIELDS` the role may read. Reporters' names and contacts, and victims
(any role), are never part of a safety answer; no geometry is either, only the distance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from demine.errors import Fault, ValidationError
from demine.model.schema import Record
from demine.services.access import can_read_field, require_read, visible_record
from demine.services.safety import check_place_args, search_boxes
from demine.store.base import Store

# the kinds a lookup may include, and the fields of each item (each shown only to a role that
# may read it): the date, the type or status, the device, the hazard it is linked to
NEARBY_FIELDS: dict[str, tuple[str, ...]] = {
    "eo_reports": ("reported_at", "status", "description", "hazard_id"),
    "accidents": (
        "occurred_at",
        "accident_type",
        "device_category",
        "device_type",
        "hazard_id",
        "description",  # field and above: what happened (never who was hurt)
    ),
}
INCLUDABLE = tuple(NEARBY_FIELDS)
MAX_NEARBY = 100  # items listed per kind, nearest first; `counts` gives how many in all
# an EO report checked and found to be nothing is no reason for caution
_LEFT_OUT = {"eo_reports": ("status", "dismissed")}


def parse_include(values: list[str] | str | None, field: str = "--include") -> tuple[str, ...]:
    """``eo_reports,accidents`` (one string or several, comma-separated) as a tuple of kinds,
    in the order of :data:`INCLUDABLE`; an unknown name is a fault naming it."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else values
    names = [n.strip() for v in items for n in v.split(",") if n.strip()]
    bad = [n for n in names if n not in NEARBY_FIELDS]
    if bad:
        raise ValidationError(
            "cannot include that",
            [
                Fault(
                    f"{n!r} is not a kind a safety lookup can include: expected "
                    f"{' or '.join(INCLUDABLE)}, comma-separated",
                    field=field,
                )
                for n in bad
            ],
        )
    return tuple(k for k in INCLUDABLE if k in names)


def _records_in(
    store: Store, kind: str, boxes: list[tuple[float, float, float, float]]
) -> list[Record]:
    seen: dict[str, Record] = {}
    left_out = _LEFT_OUT.get(kind)
    for box in boxes:
        for r in store.list(kind, bbox=box):
            if r.id in seen or r.geometry is None:
                continue
            if left_out and r.properties.get(left_out[0]) == left_out[1]:
                continue
            seen[r.id] = r
    return list(seen.values())


def check_nearby(
    store: Store,
    lat: float,
    lon: float,
    radius_m: float,
    kinds: tuple[str, ...],
    role: str,
    *,
    limit: int = MAX_NEARBY,
) -> dict[str, Any]:
    """The records of ``kinds`` within ``radius_m`` of the place as ``role`` may see them:
    ``{kind: [item, ...], "counts": {kind: n}}``, each list nearest first and at most ``limit``
    long, each item ``id``, ``distance_m`` and the readable fields of :data:`NEARBY_FIELDS`.
    A kind the role may not read raises :class:`PermissionDenied`."""
    from demine.geo.geodesy import distance_to_geometries

    check_place_args(lat, lon, radius_m)
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    boxes = search_boxes(lat, lon, radius_m) if kinds else []
    for name in kinds:
        kind = store.kind(name)
        require_read(kind, role)
        cands = [r for r in _records_in(store, name, boxes) if visible_record(kind, r, role)]
        found: list[tuple[float, Record]] = []
        if cands:
            d = distance_to_geometries(
                lon, lat, np.asarray([r.geometry for r in cands], dtype=object)
            )
            found = [(float(x), r) for r, x in zip(cands, d, strict=True) if x <= radius_m]
        found.sort(key=lambda t: (t[0], t[1].id))
        readable = [
            f.name
            for f in kind.fields
            if f.name in NEARBY_FIELDS[name] and can_read_field(f.access, role)
        ]
        counts[name] = len(found)
        out[name] = [
            {
                "id": r.id,
                "distance_m": round(dist, 1),
                **{k: r.properties.get(k) for k in readable},
            }
            for dist, r in found[:limit]
        ]
    out["counts"] = counts
    return out
