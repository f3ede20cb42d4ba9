"""Merge and link (issue 13, reconciling; docs/intake.md "Reconciling: merge, link, update").

:func:`merge` makes one record of two of the same kind: the survivor stays, the other is
deleted through the one write path (:mod:`demine.services.records`) with a reason naming the
survivor, the records that refer to the other (every reference field naming its kind, e.g. a
find's or an activity's ``hazard_id``, a release's ``activity_id``) are changed to refer to
the survivor through the write path too (every rule checked again), its attachments move to
the survivor, the survivor's history gets a revision saying what was merged into it, and the
old id redirects to the survivor (:meth:`Store.redirect`). All of it is one transaction
(:meth:`Store.atomically`): a refusal half way stores nothing."""

from __future__ import annotations

from typing import Any

from demine.errors import Conflict, Fault, NotFound, PermissionDenied, ValidationError
from demine.ids import is_uuid, normalise_id
from demine.model.kinds import Kind
from demine.model.schema import FieldType
from demine.services import records
from demine.services.access import can_read_kind, require_review, require_write
from demine.services.records import WriteContext
from demine.services.release_rules import REFERENCES
from demine.store.base import Store


def referrers(store: Store, kind: str) -> list[tuple[str, str]]:
    """The (kind, field) pairs whose reference field names a record of ``kind``, in the
    store's order of kinds (a release's derived ``hazard_id`` follows its activity)."""
    return [
        (k.name, f.name)
        for k in store.kinds()
        if not k.is_layer
        for f in k.fields
        if f.type is FieldType.UUID and not f.derived and REFERENCES.get(f.name) == kind
    ]


def parse_id(text: str, field: str) -> str:
    if not is_uuid(text):
        raise ValidationError(
            f"{text!r} is not a record id (a UUID)", [Fault("not a UUID", field=field)]
        )
    return normalise_id(text)


def require_live(store: Store, kind: Kind, rid: str, field: str) -> None:
    """NotFound, a ValidationError (another kind) or a Conflict (deleted) unless ``rid`` is a
    live record of ``kind``."""
    try:
        revs = store.history(rid)
    except NotFound:
        revs = []
    if not revs:
        raise NotFound(f"no {kind.name} record with id {rid} ({field})")
    last = revs[-1]
    if last.kind != kind.name:
        raise ValidationError(
            f"record {rid} is a {last.kind} record, not {kind.name}: only records of one "
            "kind merge",
            [Fault(f"a {kind.name} record", field=field)],
        )
    if last.op == "delete":
        into = store.redirect(rid)
        why = f" (it was merged into {into})" if into else ""
        raise Conflict(
            f"{kind.name} record {rid} ({field}) was deleted at revision {last.revision}{why}: "
            "only live records merge"
        )


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise ValidationError(
            "a merge needs a reason", [Fault("give why (--reason)", field="reason")]
        )
    return reason.strip()


def check(
    store: Store, kind: str, survivor: str, other: str, role: str | None
) -> tuple[Kind, str, str]:
    """Every check of :func:`merge` before it writes: the kind, the two ids, and who merges."""
    require_review(role)
    k = store.kind(kind)
    if k.is_layer:
        raise ValidationError(
            f"{k.name} is a reference layer: only records merge",
            [Fault("a record kind", field="KIND")],
        )
    if role is not None:
        require_write(k, role)
        hidden = [
            rk for rk, _ in referrers(store, k.name) if not can_read_kind(store.kind(rk), role)
        ]
        if hidden:
            raise PermissionDenied(
                f"the {role} role cannot merge {k.name} records: records it may not read "
                f"({', '.join(sorted(set(hidden)))}) can refer to them"
            )
    s, o = parse_id(survivor, "into"), parse_id(other, "other")
    if s == o:
        raise ValidationError(
            f"record {s} cannot be merged into itself",
            [Fault("another record of the kind", field="into")],
        )
    require_live(store, k, s, "into")
    require_live(store, k, o, "other")
    return k, s, o


def merge(
    store: Store,
    kind: str,
    survivor: str,
    other: str,
    *,
    role: str | None,
    actor: str,
    reason: str | None,
) -> dict[str, Any]:
    """Merge record ``other`` into ``survivor`` (both live, of ``kind``; reviewer or admin).
    Returns ``{"survivor", "merged", "kind", "repointed": [{"kind", "id", "field"}],
    "attachments": n}``."""
    k, s, o = check(store, kind, survivor, other, role)
    why = _reason(reason)

    def body() -> dict[str, Any]:
        ref_ctx = WriteContext(role=role, actor=actor, reason=f"merge: {o} merged into {s}: {why}")
        repointed: list[dict[str, str]] = []
        for rk, field in referrers(store, k.name):
            rkind = store.kind(rk)
            for rec in list(store.list(rk, where={field: o})):
                records.patch(store, rkind, rec.id, {field: s}, ctx=ref_ctx)
                repointed.append({"kind": rk, "id": rec.id, "field": field})
        moved = len(store.move_attachments(k.name, o, k.name, s))
        records.patch(
            store,
            k,
            s,
            {},
            ctx=WriteContext(role=role, actor=actor, reason=f"merged {o} into this record: {why}"),
        )
        records.delete(
            store, o, ctx=WriteContext(role=role, actor=actor, reason=f"merged into {s}: {why}")
        )
        store.add_redirect(o, s, k.name, actor=actor, reason=why)
        return {
            "survivor": s,
            "merged": o,
            "kind": k.name,
            "repointed": repointed,
            "attachments": moved,
        }

    return store.atomically(body)


def merged_into(store: Store, kind: str, record_id: str, role: str | None) -> str | None:
    """The live record of ``kind`` that ``record_id`` (not found) was merged into, when
    ``role`` may see it; None otherwise (the face answers 404 as before)."""
    from demine.services.access import visible_record

    if not is_uuid(record_id):
        return None
    new = store.redirect(normalise_id(record_id))
    if new is None:
        return None
    try:
        rec = store.get(kind, new)
    except NotFound:
        return None
    k = store.kind(kind)
    if role is not None and not (can_read_kind(k, role) and visible_record(k, rec, role)):
        return None
    return rec.id
