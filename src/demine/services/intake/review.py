"""Approval: a submission written through the one write path (:mod:`demine.services.records`)
with the submitter as author (history's actor) and the reviewer as approver (named in the
revision's reason), all of a batch in one transaction."""

from __future__ import annotations

from typing import Any

from demine.errors import DemineError
from demine.services import records
from demine.services.access import can_review
from demine.services.intake import two_level as lv
from demine.services.intake.states import OPEN
from demine.services.records import WriteContext
from demine.services.submitting import SUBMISSION, payload_record
from demine.store.base import Store


def approval_reason(sub: dict[str, Any], reviewer: str, reason: str | None) -> str:
    """What the history of an approved record says: whose submission, who approved it."""
    text = (
        f"submission {sub['id']} by {sub['submitter']} ({sub['organisation']}), "
        f"approved by {reviewer}"
    )
    return f"{text}: {reason}" if reason else text


def approve(
    store: Store,
    sid: str,
    *,
    role: str | None,
    actor: str,
    reason: str | None = None,
    update: str | None = None,
    merge_into: str | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """Approve a submission: claim it (a second reviewer gets a Conflict), write it through
    the write path (every rule checked again against today's store), and if the write is
    refused put it back as it was with an event saying why, and raise the refusal. With two
    approval levels (:mod:`.two_level`) an operator of the submission's organisation approves
    first (-> ``approved_operator``, nothing written), a reviewer then.
    ``update``: reconcile a new record as an update (replace) of this existing record of the
    same kind instead (IMSMA's "update-replace"). ``merge_into``: approve a new record and
    merge it into this existing one (:mod:`.merge`: the existing one survives), in one
    transaction; ``link``: approve it as new, linked to this existing one (its history says so).
    Returns ``{"id", "state", "ids"}`` (and ``merged_into`` or ``linked_to``)."""
    sub = lv.decider(store, sid, role, actor)
    if not can_review(role):  # the operator's QA, the first of two levels
        given = {"update": update, "merge_into": merge_into, "link": link}
        return _operator_approve(
            store, sub, actor, reason, next((k for k, v in given.items() if v is not None), None)
        )
    if lv.needs_operator_qa(store, sub):
        raise lv.qa_conflict(sub)
    was = sub["state"] if sub["state"] in OPEN else "submitted"
    if update is not None:
        sub = _as_update(store, sub, update)
    what = f"approved as an update of {sub['target_id']}" if update is not None else "approved"
    extra: dict[str, Any] = {}
    if merge_into is not None or link is not None:
        key, target = reconcile_target(store, sub, update, merge_into, link)
        what = (
            f"approved and merged into {target}"
            if key == "merged_into"
            else (f"approved, linked to {target}")
        )
        extra = {key: target}
    store.change_submission(
        sid,
        state="approved",
        actor=actor,
        reason=f"{what}: {reason}" if reason else what,
        expect=("approved_operator",) if lv.two_level(store, sub) else OPEN,
        changes={"target_id": sub["target_id"], "base_revision": sub["base_revision"]}
        if update is not None
        else None,
    )
    text = approval_reason(sub, actor, reason)
    if "linked_to" in extra:
        text += f"; linked to {extra['linked_to']}"
    ctx = WriteContext(
        role=None, actor=sub["submitter"], reason=text, organisation=sub["organisation"]
    )
    try:
        if extra:
            ids = _reconciled(store, sub, ctx, role, actor, reason, extra)
        else:
            ids = _write(store, sub, ctx)
            _files_follow(store, sub, ids)
    except DemineError as e:
        store.change_submission(
            sid,
            state=was,
            actor=actor,
            reason=f"approval refused: {e.message}",
            expect=("approved",),
        )
        raise
    return {"id": sid, "state": "approved", "ids": ids, **extra}


def reconcile_target(
    store: Store,
    sub: dict[str, Any],
    update: str | None,
    merge_into: str | None,
    link: str | None,
) -> tuple[str, str]:
    """The check of approving with ``merge_into`` or ``link`` before anything is decided:
    one of update, merge_into, link; a new record's submission (or a batch of one); a live
    record of its kind."""
    from demine.errors import Fault, ValidationError
    from demine.services.intake.merge import parse_id, require_live

    field, given = ("merge_into", merge_into) if merge_into is not None else ("link", link)
    if sum(x is not None for x in (update, merge_into, link)) > 1:
        raise ValidationError(
            "approve with one of update, merge_into and link",
            [Fault("only one of them", field=field)],
        )
    assert given is not None
    features = (sub["payload"] or {}).get("features") or []
    if not (sub["action"] == "create" or (sub["action"] == "batch" and len(features) == 1)):
        raise ValidationError(
            f"submission {sub['id']} is a {sub['action']}"
            + (f" of {len(features)} records" if sub["action"] == "batch" else "")
            + ": only a new record (or a batch of one) can be merged into or linked to another",
            [Fault("a create submission", field=field)],
        )
    target = parse_id(given, field)
    require_live(store, store.kind(sub["kind"]), target, field)
    return ("merged_into" if merge_into is not None else "linked_to"), target


def _files_follow(store: Store, sub: dict[str, Any], ids: list[str]) -> None:
    """A submission's files go to the one record its approval wrote."""
    if len(ids) == 1 and sub["action"] != "delete":
        store.move_attachments(SUBMISSION, sub["id"], sub["kind"], ids[0])


def _reconciled(
    store: Store,
    sub: dict[str, Any],
    ctx: WriteContext,
    role: str | None,
    actor: str,
    reason: str | None,
    extra: dict[str, Any],
) -> list[str]:
    """Write a new record and merge it into, or link it to, the existing one: one
    transaction."""
    from demine.services.intake.merge import merge

    def body() -> list[str]:
        (new,) = _write(store, sub, ctx)
        _files_follow(store, sub, [new])  # and on with the merge to the survivor
        if "merged_into" in extra:
            why = f"submission {sub['id']} is a duplicate" + (f": {reason}" if reason else "")
            merge(store, sub["kind"], extra["merged_into"], new, role=role, actor=actor, reason=why)
        else:
            store.add_link(new, extra["linked_to"], sub["kind"], actor=actor, reason=reason)
        return [new]

    return store.atomically(body)


def _operator_approve(
    store: Store, sub: dict[str, Any], actor: str, reason: str | None, reconcile: str | None
) -> dict[str, Any]:
    """The first of two levels: the operator's QA passes its organisation's submission on to
    the authority (nothing is written yet)."""
    from demine.errors import Fault, ValidationError

    if reconcile is not None:
        raise ValidationError(
            "only a reviewer reconciles a submission with a stored record (update, merge, link)",
            [Fault(f"approve without {reconcile} (the reviewer decides that)", field=reconcile)],
        )
    what = "approved by the operator's QA"
    store.change_submission(
        sub["id"],
        state="approved_operator",
        actor=actor,
        reason=f"{what}: {reason}" if reason else what,
        expect=lv.operator_expect(sub),
    )
    return {"id": sub["id"], "state": "approved_operator", "ids": []}


def _as_update(store: Store, sub: dict[str, Any], update: str) -> dict[str, Any]:
    """A new record's submission reconciled as a replace of the stored record ``update``."""
    from demine.errors import Fault, ValidationError

    if sub["action"] != "create":
        raise ValidationError(
            f"submission {sub['id']} is a {sub['action']}: only a new record can be approved "
            "as an update of another",
            [Fault("a create submission", field="update")],
        )
    rid = records.record_id(update)
    cur = store.get(sub["kind"], rid)  # NotFound: no such record of this kind
    p = sub["payload"] or {}
    payload = {"replace": True, "properties": p.get("properties"), "geometry": p.get("geometry")}
    return {
        **sub,
        "action": "update",
        "target_id": cur.id,
        "base_revision": cur.revision,
        "payload": payload,
    }


def _write(store: Store, sub: dict[str, Any], ctx: WriteContext) -> list[str]:
    kind = store.kind(sub["kind"])
    p, action, target = sub["payload"] or {}, sub["action"], sub["target_id"]
    base = sub["base_revision"]
    if action == "create":
        rec, _ = records.create(
            store, kind, p.get("properties") or {}, p.get("geometry"), rid=p.get("id"), ctx=ctx
        )
        return [rec.id]
    if action == "update" and p.get("replace"):
        rec = records.replace(
            store,
            kind,
            target,
            p.get("properties") or {},
            p.get("geometry"),
            if_revision=base,
            ctx=ctx,
        )
        return [rec.id]
    if action == "update":
        rec = records.patch(
            store,
            kind,
            target,
            p.get("changes") or {},
            p.get("geometry", ...),
            if_revision=base,
            ctx=ctx,
        )
        return [rec.id]
    if action == "delete":
        records.delete(store, target, if_revision=base, ctx=ctx)
        return [target]
    if action == "restore":
        return [records.restore(store, target, int(p["revision"]), ctx=ctx).id]
    if action == "attach":  # a file on an official record: the record must still be there
        return [store.get(kind.name, target).id]
    batch = [payload_record(kind.name, item) for item in p.get("features") or []]
    res = records.write_many(store, kind, batch, ctx=ctx)
    return [*res.created, *res.updated, *res.unchanged]
