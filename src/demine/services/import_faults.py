"""The faults, warnings and repairs of an import as people read them.

* Every fault names its file, feature index, feature id and source id: the reading and checking
  (:mod:`demine.services.import_check`) records, for each feature index, the feature's id and
  the source id of the record it becomes (:data:`FeatureIds`), and :func:`name_faults` fills
  them in on any fault found later (links, rules across records, duplicates).
* Rejected features are grouped by file and index (:func:`group_rejects`), each fault once:
  the ``--json`` output carries nothing twice.
* A repair made on import goes into the history of the record it changed
  (:func:`repair_notes`); a polygon left without area is a fault (:func:`zero_area_faults`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from demine.errors import Fault

__all__ = [
    "FeatureIds",
    "group_rejects",
    "name_faults",
    "rejected_text",
    "repair_notes",
    "zero_area_faults",
]

# feature index in the file -> (the feature's id in the file, the source id of its record)
FeatureIds = dict[int, tuple[str | None, str | None]]


def name_faults(faults: Iterable[Fault], ids: FeatureIds, source: str | None = None) -> list[Fault]:
    """``faults`` with the feature id and source id of their feature filled in where missing
    (only faults of ``source``, the file name, when it is given)."""
    out: list[Fault] = []
    for f in faults:
        got = ids.get(f.index) if f.index is not None else None
        if got is None or (source is not None and f.source not in (None, source)):
            out.append(f)
            continue
        fid, sid = got
        if (f.feature_id is None and fid is not None) or (f.source_id is None and sid is not None):
            f = dataclasses.replace(
                f,
                feature_id=f.feature_id if f.feature_id is not None else fid,
                source_id=f.source_id if f.source_id is not None else sid,
                source=f.source if f.source is not None else source,
            )
        out.append(f)
    return out


def group_rejects(faults: Sequence[Fault]) -> list[dict[str, Any]]:
    """The faults grouped by feature (file and index), in order: each group names the file,
    the index, the feature id and the source id once, then lists its faults (field, reason and
    whether ``--repair`` can repair it), each once."""
    by_feature: dict[tuple[str | None, int | None], list[Fault]] = {}
    for f in faults:
        by_feature.setdefault((f.source, f.index), []).append(f)
    out = []
    for (source, idx), fs in by_feature.items():
        fid = next((f.feature_id for f in fs if f.feature_id is not None), None)
        sid = next((f.source_id for f in fs if f.source_id is not None), None)
        items = []
        for f in fs:
            d: dict[str, Any] = {"field": f.field, "reason": f.reason}
            if f.repairable:
                d["repairable"] = True
            items.append(d)
        out.append(
            {"source": source, "index": idx, "feature_id": fid, "source_id": sid, "faults": items}
        )
    return out


def rejected_text(group: dict[str, Any]) -> str:
    """A group of :func:`group_rejects` as one line: where, then each fault."""
    where = Fault(
        "",
        group.get("index"),
        None,
        group.get("source"),
        group.get("feature_id"),
        source_id=group.get("source_id"),
    ).where()
    what = "; ".join(
        (f"{x['field']}: {x['reason']}" if x.get("field") else x["reason"])
        + (" (--repair can repair this)" if x.get("repairable") else "")
        for x in group["faults"]
    )
    return f"{where}: {what}" if where else what


# warnings that say a geometry was changed without --repair (services.import_check): kept in
# the history with the repairs
_CHANGED = (" snapped to ", "the height (Z) was dropped")


def repair_notes(
    repairs: Sequence[Fault], indexes: Sequence[int], warnings: Sequence[Fault] = ()
) -> list[str | None]:
    """For each feature index of ``indexes`` (the stored records, in order), the note its
    revision's history keeps of the repairs made on import (and of the changes made without
    ``--repair``: coordinates snapped to ±180/±90, Z dropped), or None."""
    by_index: dict[int | None, list[str]] = {}
    for r in repairs:
        by_index.setdefault(r.index, []).append(r.reason)
    changed: dict[int | None, list[str]] = {}
    for w in warnings:
        if any(c in w.reason for c in _CHANGED):
            changed.setdefault(w.index, []).append(w.reason)
    if not by_index and not changed:  # the usual import: nothing repaired or changed
        return [None] * len(indexes)
    out: list[str | None] = []
    for i in indexes:
        parts = []
        if by_index.get(i):
            parts.append("repaired on import: " + "; ".join(by_index[i]))
        if changed.get(i):
            parts.append("changed on import: " + "; ".join(changed[i]))
        out.append("; ".join(parts) or None)
    return out


def zero_area_faults(
    areas: Sequence[float | None], indexes: Sequence[int], repaired: set[int], src: str, kind: str
) -> dict[int, Fault]:
    """The positions (in ``areas``, None where a record is no polygon) of polygons whose area
    rounds to 0 m², each with its fault: a record of a kind with an area is never stored with
    ``area_m2 = 0``."""
    out: dict[int, Fault] = {}
    if len(areas) != len(indexes):
        raise ValueError("one area per index")
    import numpy as np

    # NaN where a record is no polygon; only areas under 0.01 m² can round to 0.00
    arr = np.array([np.nan if a is None else a for a in areas], dtype=np.float64)
    for pos in np.flatnonzero(arr < 0.01).tolist():
        a, idx = areas[pos], indexes[pos]
        if a is None or round(a, 2) > 0:
            continue
        after = " after repair" if idx in repaired else ""
        out[pos] = Fault(
            f"zero area{after}: the polygon's geodesic area is {a:.2g} m² (0.00 m² rounded), "
            f"{kind} need an area: check the coordinates (a polygon drawn along a line, or a "
            "few millimetres across)",
            idx,
            "geometry",
            src,
        )
    return out


def without_empty_warning(warnings: list[Fault], faults: Sequence[Fault]) -> list[Fault]:
    """The reader's warning that an empty geometry is taken as null, dropped when the kind
    needs a geometry: the fault "empty geometry" says it."""
    if not any(f.reason.startswith("empty geometry") for f in faults):
        return warnings
    return [w for w in warnings if "taken as a null geometry" not in w.reason]
