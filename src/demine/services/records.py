"""One write path: create, replace, patch, delete and restore records of any kind.

Every face that writes records calls this module: file imports
(:mod:`demine.services.imports`), ``demine update``, the OGC API Part 4 handlers
(:mod:`demine.api.ogc`) and risk learning (:mod:`demine.services.risk.learning`, through
:func:`write_many`, all or nothing). So every rule lives here once (the checks themselves in
:mod:`demine.services.record_rules`, importable from here too), and a bad record gets the
same located faults whichever face it came through:

- properties: their types, ranges, enums and required fields (``model.schema``), and which
  fields a role may set (``services.access``);
- geometry: the import's checks (validity, allowed types, GICHD geocheck, area of interest);
  an empty geometry is no geometry;
- ``device_type`` against the catalogue;
- natural keys (``device_types.code``, ``risk_updates.key``) unique within the kind;
- links between records and the land-release rules (``services.release_rules.check_write``).

A write either stores the whole record or raises (nothing half-stored).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from demine.errors import Conflict, Fault, NotFound, PermissionDenied, ValidationError
from demine.ids import is_uuid, normalise_id, uuid7
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services.record_rules import (
    CRS84,
    MAX_JUMP_M,
    RESERVED,
    check_geometry,
    check_properties,
    check_records,
    derive,
    device_type_fault,
    known_device_types,
    natural_key_faults,
    promote,
    require_settable,
)
from demine.services.release_rules import closure_reasons
from demine.services.submitting import Submitted, geojson, pending
from demine.store.base import Revision, Store, UpsertResult

__all__ = [
    "CRS84",
    "DEPENDENTS",
    "LOCAL",
    "MAX_JUMP_M",
    "RESERVED",
    "Submitted",
    "WriteContext",
    "check_geometry",
    "check_properties",
    "check_records",
    "create",
    "current_actor",
    "delete",
    "derive",
    "device_type_fault",
    "known_device_types",
    "natural_key_faults",
    "patch",
    "promote",
    "record_id",
    "replace",
    "require_settable",
    "restore",
    "update",
    "write_many",
]


def _submit(store: Store, ctx: WriteContext, kind: str, action: str, **kw: Any) -> None:
    """A field team's or an operator's write, checked as a write is: stored as a submission
    (raises :class:`Submitted`); any other writer's goes on to the store."""
    from demine.services.access import submits

    if submits(ctx.role):
        state = "draft" if ctx.draft else "submitted"
        if ctx.sync is not None:  # an item of the field app's outbox (services/sync.py)
            sync = dict(ctx.sync)
            kw["client_id"], kw["conflict"] = sync.pop("client_id"), sync.pop("conflict", None)
            kw["payload"] = {**kw["payload"], "sync": sync}
        raise Submitted(
            pending(
                store,
                actor=ctx.who(),
                kind=kind,
                action=action,
                reason=ctx.reason,
                state=state,
                **kw,
            )
        )


# records that others refer to cannot be deleted while referred to: (kind, field) referring
DEPENDENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "hazards": (("activities", "hazard_id"), ("releases", "hazard_id")),
    "activities": (("releases", "activity_id"),),
    "accidents": (("victims", "accident_id"),),
}


def current_actor() -> str:
    env = os.environ.get("DEMINE_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no user name on this system
        return "unknown"


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, why, and in which CRS the geometry comes: the same for every write of one
    request or command.

    ``role``: the writer's role, whose rights are checked (``services.access``); None is a
    local user at the command line with no ``--role``, who may write anything. ``actor``: the
    name kept in history (None: ``DEMINE_USER`` or the login name). ``reason``: why (kept in
    history). ``crs``: the CRS of a GeoJSON geometry given to the write (stored in CRS84).
    ``organisation``: the organisation a new record is made by (None: the actor's, as the store
    finds it; an approval gives the submission's).
    ``draft``: a write that becomes a submission is kept as a draft (HTTP ``Prefer: draft``).
    ``sync``: an item of the field app's outbox: its ``client_id``, ``conflict`` (or None) and
    what the device said of it (``device``, ``captured_at``, ``accuracy_m``), kept with the
    submission (:mod:`demine.services.sync`)."""

    role: str | None = None
    actor: str | None = None
    reason: str | None = None
    crs: str = CRS84
    organisation: str | None = None
    draft: bool = False
    sync: dict[str, Any] | None = None

    def who(self) -> str:
        """The name history keeps for this write."""
        return self.actor or current_actor()


LOCAL = WriteContext()  # a local user with every right, named by DEMINE_USER or the login


def record_id(text: str) -> str:
    if not is_uuid(text):
        raise ValidationError(
            f"{text!r} is not a record id (a UUID)", [Fault("not a UUID", field="ID")]
        )
    return normalise_id(text)


def _check(
    store: Store,
    kind: Kind,
    props: dict[str, Any],
    geometry: Any,
    *,
    rid: str,
    ctx: WriteContext,
    keep: dict[str, Any] | None,
    current: Any,
    what: str,
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Every rule for one record; ValidationError with every fault. ``geometry`` is ...
    (Ellipsis) to keep ``current``."""
    fid = rid or None
    clean, extra, faults = check_properties(store, kind, props, role=ctx.role, keep=keep, rid=fid)
    geom = None
    if geometry is not ...:
        geom, gfaults = check_geometry(store, kind, geometry, crs=ctx.crs, rid=fid)
        faults += gfaults
    if not faults:
        now = Record(kind.name, rid, clean, geom if geom is not None else current)
        faults = check_records(store, kind, [now])
    if faults:
        raise ValidationError(f"cannot {what}", faults)
    derive(kind, clean, geom if geom is not None else current)
    return clean, extra, geom


def _writable(kind: Kind, role: str | None, given: Iterable[str] = ()) -> None:
    """PermissionDenied when ``role`` may not write ``kind`` or set a field it ``given`` may not
    read (:func:`require_settable`): before any other check, the same on every face."""
    require_settable(kind, given, role)
    if role is not None:
        from demine.services.access import require_write

        require_write(kind, role)


# --- the writes ------------------------------------------------------------------------------


def create(
    store: Store,
    kind: Kind,
    properties: dict[str, Any],
    geometry: Any = None,
    *,
    rid: str | None = None,
    ctx: WriteContext = LOCAL,
) -> tuple[Record, bool]:
    """Create one record (``rid``: the client's id). Returns the record and whether it was
    created: repeating a create of the same content under the same id is no change."""
    role = ctx.role
    _writable(kind, role, properties)
    clean, extra, geom = _check(
        store,
        kind,
        properties,
        geometry,
        rid=rid or "",
        ctx=ctx,
        keep=None,
        current=None,
        what=f"create this {kind.name} record",
    )
    payload = {"properties": properties, "geometry": geojson(geom), "id": rid}
    _submit(store, ctx, kind.name, "create", payload=payload)
    if rid is not None:
        try:
            existing: Record | None = store.get(kind.name, rid)
        except NotFound:
            existing = None
        if existing is not None:
            if not _same(kind, existing, clean, geom, role):
                raise Conflict(
                    f"a record with id {rid} exists with other content; replace or update it "
                    "to change it"
                )
            return existing, False
        if _has_history(store, rid):
            raise Conflict(
                f"id {rid} belonged to a record that was deleted or is of another kind; "
                "choose another id (an analyst can restore a deleted record)"
            )
    rec = Record(
        kind=kind.name,
        id=rid or uuid7(),
        properties=clean,
        geometry=geom,
        extra=extra,
        record_organisation=ctx.organisation,
    )
    res = store.upsert(kind.name, [rec], actor=ctx.who(), reason=ctx.reason)
    return store.get(kind.name, rec.id), bool(res.created)


def write_many(
    store: Store,
    kind: Kind,
    batch: Sequence[Record],
    *,
    ctx: WriteContext = LOCAL,
    origin: str = "user",
) -> UpsertResult:
    """Create or replace many records of one kind (each by its id, a new one by a new id) in
    one transaction: every record passes the rules of :func:`create` and :func:`replace`, the
    batch is checked as a whole (natural keys, links), and any fault refuses all of it (a
    ValidationError locating each fault by its index in ``batch``). The store writes all or
    nothing, and a record whose content is unchanged gets no new revision. A role that may not
    write the kind is refused even for an empty batch."""
    role = ctx.role
    _writable(kind, role)
    stored = {r.id: r for r in store.get_many(kind.name, [r.id for r in batch if r.id])}
    faults: list[Fault] = []
    checked: list[Record] = []
    for i, r in enumerate(batch):
        rid = r.id or uuid7()
        cur = stored.get(rid)
        keep = cur.properties if cur is not None else None
        clean, extra, pfaults = check_properties(store, kind, r.properties, role=role, keep=keep)
        geom, gfaults = check_geometry(store, kind, r.geometry, crs=ctx.crs)
        faults += [
            dataclasses.replace(f, index=i, source=kind.name, feature_id=rid)
            for f in pfaults + gfaults
        ]
        derive(kind, clean, geom)
        checked.append(
            Record(
                kind.name,
                rid,
                clean,
                geom,
                source_id=r.source_id,
                extra={**r.extra, **extra},
                record_organisation=ctx.organisation,
            )
        )
    if not faults:
        faults = check_records(store, kind, checked, source=kind.name)
    if faults:
        raise ValidationError(f"cannot write these {kind.name} records: nothing stored", faults)
    return store.upsert(kind.name, checked, actor=ctx.who(), reason=ctx.reason, origin=origin)


def replace(
    store: Store,
    kind: Kind,
    rid: str,
    properties: dict[str, Any],
    geometry: Any = None,
    *,
    if_revision: int | None = None,
    ctx: WriteContext = LOCAL,
) -> Record:
    """Replace a record's properties (and geometry: None keeps the stored one)."""
    role = ctx.role
    _writable(kind, role, properties)
    cur = store.get(kind.name, rid)
    clean, extra, geom = _check(
        store,
        kind,
        properties,
        geometry,
        rid=cur.id,
        ctx=ctx,
        keep=cur.properties,
        current=cur.geometry,
        what=f"replace {kind.name} record {cur.id}",
    )
    payload = {"replace": True, "properties": properties, "geometry": geojson(geom)}
    _submit(
        store,
        ctx,
        kind.name,
        "update",
        payload=payload,
        target_id=cur.id,
        base_revision=if_revision if if_revision is not None else cur.revision,
    )
    from demine.services.access import at_least

    if role is not None and not at_least(role, "analyst"):
        extra = {**cur.extra, **extra}  # what it cannot see is kept
    return store.update(
        kind.name,
        cur.id,
        properties=clean,
        geometry=geom,
        if_revision=if_revision if if_revision is not None else cur.revision,
        actor=ctx.who(),
        reason=ctx.reason,
        extra=extra,
    )


def patch(
    store: Store,
    kind: Kind,
    rid: str,
    changes: dict[str, Any],
    geometry: Any = ...,
    *,
    if_revision: int | None = None,
    ctx: WriteContext = LOCAL,
    retries: int = 50,
) -> Record:
    """Change some properties (None clears one) and, unless ``geometry`` is ``...``, the
    geometry. Without ``if_revision`` the read-merge-write is retried when another writer got
    in between, so no change is lost; with it, a stale revision is a Conflict."""
    from demine.services.access import can_read_field

    role = ctx.role
    _writable(kind, role, changes)  # a hidden field cleared (None) is refused too

    def readable(k: str) -> bool:
        return (
            role is None or k not in kind.field_names or can_read_field(kind.field(k).access, role)
        )

    for _ in range(retries):
        cur = store.get(kind.name, rid)
        merged = {
            k: v
            for k, v in cur.properties.items()
            if readable(k) and not (k in kind.field_names and kind.field(k).derived)
        }
        for k, v in changes.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        clean, extra, geom = _check(
            store,
            kind,
            merged,
            geometry,
            rid=cur.id,
            ctx=ctx,
            keep=cur.properties,
            current=cur.geometry,
            what=f"update {kind.name} record {cur.id}",
        )
        payload = {"changes": changes, "geometry": ... if geometry is ... else geojson(geom)}
        if payload["geometry"] is ...:
            del payload["geometry"]
        _submit(
            store,
            ctx,
            kind.name,
            "update",
            payload=payload,
            target_id=cur.id,
            base_revision=if_revision if if_revision is not None else cur.revision,
        )
        try:
            return store.update(
                kind.name,
                cur.id,
                properties=clean,
                geometry=geom,
                if_revision=if_revision if if_revision is not None else cur.revision,
                actor=ctx.who(),
                reason=ctx.reason,
                extra={**cur.extra, **extra},
            )
        except Conflict:
            if if_revision is not None:
                raise
    raise Conflict(f"record {rid} kept changing under {retries} attempts; try again")


def update(
    store: Store,
    record_id_: str,
    changes: dict[str, Any],
    *,
    geometry: Any = None,
    if_revision: int | None = None,
    ctx: WriteContext = LOCAL,
    retries: int = 50,
) -> Record:
    """``demine update``: :func:`patch` a record found by its id alone (geometry None keeps
    the stored one). A role setting a field it may not read is refused (PermissionDenied),
    as on every face."""
    rid = record_id(record_id_)
    kind = store.kind(store.locate(rid).kind)
    return patch(
        store,
        kind,
        rid,
        changes,
        ... if geometry is None else geometry,
        if_revision=if_revision,
        ctx=ctx,
        retries=retries,
    )


def delete(
    store: Store,
    record_id_: str,
    *,
    if_revision: int | None = None,
    ctx: WriteContext = LOCAL,
) -> Revision:
    """Delete a record that nothing refers to. With ``role`` (a web caller's), a role that may
    not read every kind that can refer to the record may not delete it at all (403 whatever
    the data): otherwise a refusal would tell it that hidden records (an accident's victims)
    exist."""
    cur = store.locate(record_id(record_id_))
    role = ctx.role
    if role is not None:
        from demine.services.access import can_read_kind, require_write

        require_write(store.kind(cur.kind), role)
        hidden = [
            k for k, _ in DEPENDENTS.get(cur.kind, ()) if not can_read_kind(store.kind(k), role)
        ]
        if hidden:
            raise PermissionDenied(
                f"the {role} role cannot delete {cur.kind} records: records it may not read "
                f"({', '.join(hidden)}) can refer to them"
            )
    for kind, fname in DEPENDENTS.get(cur.kind, ()):
        n = store.count(kind, where={fname: cur.id})
        if n:
            raise Conflict(
                f"{n} {kind} record(s) refer to {cur.kind} record {cur.id} (field {fname}); "
                "delete or relink them first"
            )
    _submit(
        store,
        ctx,
        cur.kind,
        "delete",
        payload={},
        target_id=cur.id,
        base_revision=if_revision if if_revision is not None else cur.revision,
    )
    return store.delete(
        cur.kind, cur.id, if_revision=if_revision, actor=ctx.who(), reason=ctx.reason
    )


def restore(
    store: Store,
    record_id_: str,
    revision: int,
    *,
    ctx: WriteContext = LOCAL,
) -> Record:
    """Bring back an earlier revision (of a deleted record too), as a new revision."""
    rid = record_id(record_id_)
    revs = store.history(rid)
    if ctx.role is not None and revs:
        _writable(store.kind(revs[-1].kind), ctx.role)
    target = next((h for h in revs if h.revision == revision), None)
    if target is not None and target.kind == "hazards" and target.state is not None:
        # bringing back a closed state is a closure: the land-release rule applies
        status = target.state.properties.get("status")
        try:
            now = store.get("hazards", rid).properties.get("status")
        except NotFound:
            now = None
        if status in ("closed", "handed_over") and now != status:
            why = closure_reasons(
                store,
                rid,
                geometry=target.state.geometry,
                closed_on=target.state.properties.get("closed_on"),
            )
            if why:
                raise Conflict(
                    f"restoring revision {revision} would close hazard {rid}, which cannot close "
                    "now: " + "; ".join(why)
                )
    if revs:
        _submit(
            store,
            ctx,
            revs[-1].kind,
            "restore",
            payload={"revision": revision},
            target_id=rid,
            base_revision=revs[-1].revision,
        )
    return store.restore(rid, revision, actor=ctx.who(), reason=ctx.reason)


# --- helpers ---------------------------------------------------------------------------------


def _same(kind: Kind, rec: Record, clean: dict[str, Any], geom: Any, role: str | None) -> bool:
    """Whether a create repeats the stored record, compared on what ``role`` may read only (so
    the answer never depends on a field the caller cannot see)."""
    from demine.services.access import can_read_field, visible_record

    if role is not None and not visible_record(kind, rec, role):
        return False

    def seen(k: str) -> bool:
        if k in kind.field_names:
            f = kind.field(k)
            return not f.derived and (role is None or can_read_field(f.access, role))
        return True

    a = {k: v for k, v in rec.properties.items() if seen(k)}
    b = {k: v for k, v in clean.items() if seen(k)}
    if a != b:
        return False
    if (rec.geometry is None) != (geom is None):
        return False
    return geom is None or bool(shapely.equals_exact(rec.geometry, geom, 1e-9))


def _has_history(store: Store, rid: str) -> bool:
    try:
        return bool(store.history(rid))
    except NotFound:
        return False
