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
from demine.services.submitting import payload_record
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
) -> dict[str, Any]:
    """Approve a submission: claim it (a second reviewer gets a Conflict), write it through
    the write path (every rule checked again against today's store), and if the write is
    refused put it back as it was with an event saying why, and raise the refusal. With two
    approval levels (:mod:`.two_level`) an operator of the submission's organisation approves
    first (-> ``approved_operator``, nothing written), a reviewer then.
    ``update``: reconcile a new record as an update (replace) of this existing record of the
    same kind instead (IMSMA's "update-replace"). Returns ``{"id", "state", "ids"}``."""
    sub = lv.decider(store, sid, role, actor)
    if not can_review(role):  # the operator's QA, the first of two levels
        return _operator_approve(store, sub, actor, reason, update)
    if lv.needs_operator_qa(store, sub):
        raise lv.qa_conflict(sub)
    was = sub["state"] if sub["state"] in OPEN else "submitted"
    if update is not None:
        sub = _as_update(store, sub, update)
    what = f"approved as an update of {sub['target_id']}" if update is not None else "approved"
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
    ctx = WriteContext(
        role=None, actor=sub["submitter"], reason=approval_reason(sub, actor, reason)
    )
    try:
        ids = _write(store, sub, ctx)
    except DemineError as e:
        store.change_submission(
            sid,
            state=was,
            actor=actor,
            reason=f"approval refused: {e.message}",
            expect=("approved",),
        )
        raise
    return {"id": sid, "state": "approved", "ids": ids}


def _operator_approve(
    store: Store, sub: dict[str, Any], actor: str, reason: str | None, update: str | None
) -> dict[str, Any]:
    """The first of two levels: the operator's QA passes its organisation's submission on to
    the authority (nothing is written yet)."""
    from demine.errors import Fault, ValidationError

    if update is not None:
        raise ValidationError(
            "only a reviewer reconciles a submission as an update of a stored record",
            [Fault("approve without an update (the reviewer decides that)", field="update")],
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
    batch = [payload_record(kind.name, item) for item in p.get("features") or []]
    res = records.write_many(store, kind, batch, ctx=ctx)
    return [*res.created, *res.updated, *res.unchanged]
