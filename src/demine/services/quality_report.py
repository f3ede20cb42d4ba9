"""``demine quality``: the quality and the candidate matches of each feature of a file, as a
submission of it would get them, or of one stored record (services.quality,
services.candidates). JSON-ready; what a role may not read is left out of the messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demine.errors import Fault, NotFound, PermissionDenied, ValidationError
from demine.ids import is_uuid, normalise_id
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services.access import (
    at_least,
    can_read_field,
    for_role,
    require_read,
    visible_record,
)
from demine.services.candidates import NEAR_M, Candidate, candidates
from demine.services.quality import Quality, assess, minimum_data
from demine.store.base import Store

MAX_FEATURES = 10_000  # a file assessed at once, at most (each feature makes two small queries)


def _shown(kind: Kind, q: Quality, role: str) -> dict[str, Any]:
    d = q.to_dict()
    hidden = {f.name for f in kind.fields if not can_read_field(f.access, role)}
    for i in d["issues"]:
        if i["field"] in hidden:
            i["message"] = f"{i['field']}: a finding on a field the {role} role may not read"
    return d


def _visible(store: Store, k: Kind, cands: list[Candidate], role: str) -> list[dict[str, Any]]:
    """The candidates ``role`` may see (the public sees only EO reports marked public)."""
    if not cands:
        return []
    seen = {
        r.id for r in store.get_many(k.name, [c.id for c in cands]) if visible_record(k, r, role)
    }
    return [c.to_dict() for c in cands if c.id in seen]


def _one(
    store: Store,
    k: Kind,
    props: dict[str, Any],
    geometry: Any,
    *,
    source_id: str | None,
    rid: str | None,
    role: str,
    near_m: float,
    limit: int,
) -> dict[str, Any]:
    existing: Record | None = None
    if rid is not None:
        existing = next(iter(store.list(k.name, where={"id": rid}, limit=1)), None)
    if existing is None and source_id:
        existing = next(iter(store.list(k.name, where={"source_id": source_id}, limit=1)), None)
    q = assess(store, k.name, props, geometry, existing=existing)
    cands = candidates(
        store,
        k.name,
        props,
        geometry,
        source_id=source_id,
        exclude_id=rid,
        limit=limit,
        near_m=near_m,
    )
    return {
        "source_id": source_id,
        "id": rid,
        "updates": None if existing is None else existing.id,
        "quality": _shown(k, q, role),
        "candidates": _visible(store, k, cands, role),
    }


def assess_file(
    store: Store,
    kind: str,
    path: Path,
    *,
    role: str = "analyst",
    near_m: float = NEAR_M,
    limit: int = 5,
) -> dict[str, Any]:
    """Each feature of ``path`` (GeoJSON, CSV, GeoPackage, ...) as a submission of ``kind``:
    its quality and its candidates. A feature's UUID id is the record it would change, any
    other id (or a ``source_id`` property) its source id, as an import reads them."""
    from demine.io.sources import read_source

    k = store.kind(kind)
    require_read(k, role)
    minimum_data(store)  # a bad store setting: one located error, before any feature
    parsed = read_source(path, geometry=bool(k.geometry_type))
    if parsed.faults:
        raise ValidationError(f"{path.name}: cannot be read", parsed.faults)
    if len(parsed.features) > MAX_FEATURES:
        raise ValidationError(
            f"{path.name}: too many features",
            [
                Fault(
                    f"{len(parsed.features)} features: at most {MAX_FEATURES} at once",
                    source=path.name,
                )
            ],
        )
    out = []
    for f in parsed.features:
        props = dict(f.properties)
        rid_prop = props.pop("id", None)
        source_id = props.pop("source_id", None)
        rid = next(
            (normalise_id(c) for c in (rid_prop, f.id) if c is not None and is_uuid(c)), None
        )
        if source_id is None:
            source_id = next(
                (str(c) for c in (f.id, rid_prop) if c is not None and not is_uuid(c)), None
            )
        one = _one(
            store,
            k,
            props,
            f.geometry,
            source_id=None if source_id is None else str(source_id),
            rid=rid,
            role=role,
            near_m=near_m,
            limit=limit,
        )
        out.append({"index": f.index, **one})
    scores = [o["quality"]["score"] for o in out]
    return {
        "kind": k.name,
        "file": path.name,
        "features": out,
        "mean_score": round(sum(scores) / len(scores), 1) if scores else None,
        "incomplete": sum(1 for o in out if o["quality"]["missing"]),
    }


def assess_record(
    store: Store,
    kind: str,
    record_id: str,
    *,
    role: str = "analyst",
    near_m: float = NEAR_M,
    limit: int = 5,
) -> dict[str, Any]:
    """A stored record's quality (as if submitted now) and its candidate matches."""
    k = store.kind(kind)
    require_read(k, role)
    r = store.get(k.name, record_id)
    if for_role(k, r, role) is None:
        raise NotFound(f"no {k.name} record {record_id}")
    q = assess(store, k.name, dict(r.properties), r.geometry)
    cands = candidates(
        store,
        k.name,
        dict(r.properties),
        r.geometry,
        source_id=r.source_id,
        exclude_id=r.id,
        limit=limit,
        near_m=near_m,
    )
    return {
        "kind": k.name,
        "id": r.id,
        "source_id": r.source_id,
        "quality": _shown(k, q, role),
        "candidates": _visible(store, k, cands, role),
    }


def require_settings_admin(role: str) -> None:
    """Only an admin changes the store's minimum data."""
    if not at_least(role, "admin"):
        raise PermissionDenied(f"the {role} role may not change the minimum data (admin only)")
