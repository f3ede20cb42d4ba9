"""A write that becomes a submission (issue 13, docs/intake.md).

A write by a role of :data:`demine.services.access.SUBMITTERS` (``field``, ``operator``) is
checked exactly as a write is (by :mod:`demine.services.records` and
:mod:`demine.services.imports`, the one write path), then stored as a submission instead of a
record, and :class:`Submitted` is raised: every face answers it (HTTP 202 with the
submission's URL, the CLI prints the submission's id). Nothing of it is a record until the
authority approves it (:mod:`demine.services.intake`), so the map, the safety API, tiles,
statistics and OGC items, which read records only, never show it.

This module stores submissions; it imports no write (so the write path may import it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely.geometry

from demine.errors import Fault
from demine.ids import uuid7
from demine.model.schema import Record, now_utc
from demine.store.base import Store
from demine.store.core import AUTHORITY

ACTIONS = ("create", "update", "delete", "restore", "batch", "attach")
SUBMISSION = "submission"  # the owner kind of a submission's attachments
STATES = ("draft", "submitted", "returned", "approved_operator", "approved", "rejected")


class Submitted(Exception):  # noqa: N818 - an outcome, not an error: every face answers it
    """A write became a submission: ``submission`` is what was stored (see
    :func:`pending`). Not a :class:`demine.errors.DemineError`: the write succeeded."""

    def __init__(self, submission: dict[str, Any]) -> None:
        super().__init__(f"submission {submission['id']} ({submission['state']})")
        self.submission = submission


def geojson(geom: Any) -> dict[str, Any] | None:
    """A shapely geometry as a GeoJSON mapping (CRS84), None for none."""
    if geom is None:
        return None
    return dict(shapely.geometry.mapping(geom))


def organisation_of(store: Store, actor: str) -> str:
    """The organisation a user writes for: their own, or the authority for a name the store
    does not know (a local user at the command line)."""
    return store.user_organisation(actor) or AUTHORITY


def pending(
    store: Store,
    *,
    actor: str,
    kind: str,
    action: str,
    payload: dict[str, Any],
    reason: str | None = None,
    target_id: str | None = None,
    base_revision: int | None = None,
    state: str = "submitted",
    faults: Sequence[Fault] = (),
    organisation: str | None = None,
    client_id: str | None = None,
    conflict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a new submission (with its first event) and return it. ``client_id``: the id a
    field app's device gave it (unique in the organisation); ``conflict``: an update made on a
    revision that is not the record's current one (``{"base_revision", "current_revision"}``)."""
    at = now_utc()
    sub = {
        "id": uuid7(),
        "organisation": organisation or organisation_of(store, actor),
        "submitter": actor,
        "kind": kind,
        "action": action,
        "target_id": target_id,
        "base_revision": base_revision,
        "payload": payload,
        "state": state,
        "quality": None,
        "faults": [f.to_dict() for f in faults],
        "created_at": at,
        "updated_at": at,
        "client_id": client_id,
        "conflict": conflict,
    }
    sub["quality"] = quality_of(store, sub)
    store.add_submission(sub, actor, reason)
    return sub


def quality_of(store: Store, sub: dict[str, Any]) -> dict[str, Any] | None:
    """The quality of what a submission proposes (:func:`demine.services.quality.assess`):
    of a create or update its ``to_dict()`` (an update: the stored record with the changes);
    of a batch each feature's ``index``, ``score`` and ``missing`` and the ``mean_score``;
    None for a delete or restore."""
    import orjson

    from demine.errors import DemineError
    from demine.services.quality import assess

    kind, p = sub["kind"], orjson.loads(orjson.dumps(sub["payload"] or {}))  # JSON arrays

    def stored(rid: Any) -> Record | None:
        if not rid:
            return None
        try:
            return store.get(kind, str(rid))
        except DemineError:  # not stored (yet), or not an id
            return None

    if sub["action"] == "batch":
        feats: list[dict[str, Any]] = []
        for i, item in enumerate(p.get("features") or []):
            q = assess(
                store,
                kind,
                dict(item.get("properties") or {}),
                item.get("geometry"),
                existing=stored(item.get("id")),
            )
            feats.append({"index": i, "score": q.score, "missing": q.missing})
        mean = round(sum(f["score"] for f in feats) / len(feats), 1) if feats else None
        return {"kind": kind, "features": feats, "mean_score": mean}
    if sub["action"] == "create":
        return assess(store, kind, dict(p.get("properties") or {}), p.get("geometry")).to_dict()
    if sub["action"] != "update":
        return None
    cur = stored(sub["target_id"])
    if p.get("replace"):
        props, geom = dict(p.get("properties") or {}), p.get("geometry")
    else:
        props = {**(cur.properties if cur else {}), **(p.get("changes") or {})}
        geom = p.get("geometry", cur.geometry if cur else None)
    return assess(store, kind, props, geom, existing=cur).to_dict()


def record_payload(rec: Record) -> dict[str, Any]:
    """One record of a submission: its id (if any), source id, properties, extra fields and
    geometry (GeoJSON, CRS84), as :func:`payload_record` reads it back."""
    out: dict[str, Any] = {"properties": rec.properties, "geometry": geojson(rec.geometry)}
    if rec.id:
        out["id"] = rec.id
    if rec.source_id is not None:
        out["source_id"] = rec.source_id
    if rec.extra:
        out["extra"] = rec.extra
    return out


def payload_record(kind: str, item: dict[str, Any]) -> Record:
    geom = item.get("geometry")
    return Record(
        kind=kind,
        id=item.get("id") or "",
        properties=dict(item.get("properties") or {}),
        geometry=None if geom is None else shapely.geometry.shape(geom),
        source_id=item.get("source_id"),
        extra=dict(item.get("extra") or {}),
    )
