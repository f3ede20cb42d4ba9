"""What a reviewer compares a submission with (``review show``, ``GET /api/v1/submissions/{id}``):

* ``candidates``: stored records of its kind that may be the same
  (:func:`demine.services.candidates.candidates`), strongest first, each with ``id``, ``kind``,
  ``rank`` (the score), ``matches`` and ``reasons`` (why), ``distance_m``; a batch's say which
  ``feature`` (its index) they match, for its first :data:`MAX_FEATURES` features;
* ``current``: the stored record an update, delete or restore would change (a batch: those its
  features name), as GeoJSON with only the fields the role may read; None when there is none.
* ``stale``: for an update or delete made on a revision the record has since left (another
  approval overtook it, or a field device edited an old copy), ``{"base_revision",
  "current_revision"}``: its approval is refused (409) until it is returned and made again;
* ``concurrent``: the other pending submissions (submitted, approved at the first level, or
  returned) that change the same record — two teams who edited it offline. Approving one makes
  the others stale (their approval is refused, 409), so the reviewer decides between them with
  both in view. A submitter sees only its own organisation's.

The public sees neither (it sees no submission)."""

from __future__ import annotations

from typing import Any

import orjson
import shapely

from demine.errors import NotFound
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services.access import can_review, visible_properties, visible_record
from demine.services.candidates import candidates
from demine.store.base import Store

MAX_FEATURES = 20  # features of a batch whose candidates are looked for
LIMIT = 5  # candidates a feature, at most


def _feature(kind: Kind, rec: Record, role: str) -> dict[str, Any]:
    geom = None if rec.geometry is None else orjson.loads(shapely.to_geojson(rec.geometry))
    return {
        "type": "Feature",
        "id": rec.id,
        "revision": rec.revision,
        "properties": visible_properties(kind, rec, role),
        "geometry": geom,
    }


def _cands(
    store: Store, k: Kind, item: dict[str, Any], role: str, exclude: str | None
) -> list[dict[str, Any]]:
    found = candidates(
        store,
        k.name,
        item.get("properties") or {},
        item.get("geometry"),
        source_id=item.get("source_id"),
        exclude_id=exclude,
        limit=LIMIT,
    )
    if not found:
        return []
    seen = {
        r.id for r in store.get_many(k.name, [c.id for c in found]) if visible_record(k, r, role)
    }
    return [{**c.to_dict(), "kind": k.name} for c in found if c.id in seen]


def side_by_side(store: Store, sub: dict[str, Any], role: str | None) -> dict[str, Any]:
    """``{"candidates": [...], "current": ...}`` of a submission, as ``role`` may see them."""
    role = role or "admin"
    k = store.kind(sub["kind"])
    p, action, target = sub.get("payload") or {}, sub["action"], sub.get("target_id")
    cands: list[dict[str, Any]] = []
    current: Any = None
    stale: dict[str, Any] | None = None
    if action == "create" or (action == "update" and p.get("replace")):
        cands = _cands(store, k, p, role, target)
    if action == "batch":
        items = [f for f in p.get("features") or [] if isinstance(f, dict)]
        for i, item in enumerate(items[:MAX_FEATURES]):
            cands += [{**c, "feature": i} for c in _cands(store, k, item, role, item.get("id"))]
        named = [str(f["id"]) for f in items if f.get("id")]
        stored = [r for r in store.get_many(k.name, named) if visible_record(k, r, role)]
        if stored:
            current = {
                "type": "FeatureCollection",
                "features": [_feature(k, r, role) for r in stored],
            }
    elif target:
        try:
            rec = store.get(k.name, target)
        except NotFound:
            rec = None
        if rec is not None and visible_record(k, rec, role):
            current = _feature(k, rec, role)
        base = sub.get("base_revision")
        pending = sub["state"] in PENDING or sub["state"] == "draft"
        if pending and rec is not None and base is not None and rec.revision != base:
            stale = {"base_revision": base, "current_revision": rec.revision}
    out = {"candidates": cands, "current": current, "concurrent": concurrent(store, sub, role)}
    return {**out, "stale": stale}


PENDING = ("submitted", "approved_operator", "returned")


def concurrent(store: Store, sub: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The other pending submissions on the record ``sub`` changes, oldest first."""
    target = sub.get("target_id")
    if not target or sub["action"] == "create":
        return []
    mine = None if can_review(role) else sub["organisation"]
    return [
        {
            "id": o["id"],
            "state": o["state"],
            "action": o["action"],
            "base_revision": o["base_revision"],
            "created_at": o["created_at"],
            "organisation": o["organisation"],
        }
        for o in sorted(store.submissions(organisation=mine, state=PENDING), key=_created)
        if o["id"] != sub["id"] and o.get("target_id") == target and o["kind"] == sub["kind"]
    ]


def _created(o: dict[str, Any]) -> str:
    return str(o["created_at"])
