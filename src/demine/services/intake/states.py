"""The states of a submission and who may see and move them (docs/intake.md).

::

    draft --submit--> submitted --approve--> approved
                        |   ^  \\--reject--> rejected
              return    |   |  resubmit (the submitter's organisation, corrected)
                        v   |
                      returned

    two approval levels (:mod:`.two_level`): submitted --operator's QA--> approved_operator
    --reviewer--> approved (reject and return at either level)

A draft is its organisation's only (no reviewer sees it) until it is submitted.
A batch whose checks find faults is stored ``returned`` at once, every fault located. Every
change is an event (who, when, why) in ``demine_submission_events``. Reviewers
(``services.access.REVIEWERS``) see every organisation's submissions; a submitter (``field``,
``operator``) sees its own organisation's only, and another's answers 404 as if it did not
exist; other roles see none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from demine.errors import Fault, NotFound, PermissionDenied, ValidationError
from demine.services.access import can_review, submits
from demine.services.intake import two_level as levels
from demine.services.submitting import STATES, organisation_of, quality_of
from demine.store.base import Store

OPEN = ("submitted", "approved_operator")  # waiting for a decision


def scope(store: Store, role: str | None, user: str | None) -> str | None:
    """The organisation whose submissions ``role`` may see (None: every organisation)."""
    if can_review(role):
        return None
    if submits(role) and user:
        return organisation_of(store, user)
    raise PermissionDenied(
        f"the {role} role cannot see submissions (submitters see their organisation's, "
        "reviewers every one)"
    )


def listing(
    store: Store, role: str | None, user: str | None, state: str | None = None
) -> list[dict[str, Any]]:
    """The submissions ``role`` may see, newest first (without payloads)."""
    if state is not None and state not in STATES:
        raise ValidationError(
            f"unknown state {state!r}",
            [Fault(f"expected one of {', '.join(STATES)}", field="state")],
        )
    rows = store.submissions(organisation=scope(store, role, user), state=state)
    mine = organisation_of(store, user) if user else None
    return [
        {k: v for k, v in r.items() if k != "payload"}
        for r in rows
        if r["state"] != "draft" or r["organisation"] == mine
    ]


def get(store: Store, sid: str, role: str | None, user: str | None) -> dict[str, Any]:
    """One submission as ``role`` may see it, with its events; NotFound for another
    organisation's (its existence is not told)."""
    org = scope(store, role, user)
    rows = store.submissions(sid=sid)
    if not rows or (org is not None and rows[0]["organisation"] != org):
        raise NotFound(f"no submission {sid!r}")
    if rows[0]["state"] == "draft" and rows[0]["organisation"] != (
        organisation_of(store, user) if user else None
    ):
        raise NotFound(f"no submission {sid!r}")  # a draft is its organisation's only
    return {**visible(store, rows[0], role), "events": store.submission_events(sid)}


def _reason(reason: str | None, what: str) -> str:
    if not reason or not reason.strip():
        raise ValidationError(
            f"{what} needs a reason", [Fault("give why (--reason)", field="reason")]
        )
    return reason.strip()


def _decide(
    store: Store,
    sid: str,
    role: str | None,
    actor: str,
    state: str,
    reason: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """Reject or return: a reviewer at either level, an operator (two levels) its own
    organisation's submitted ones (:mod:`.two_level`)."""
    sub = levels.decider(store, sid, role, actor)
    expect = OPEN if can_review(role) else levels.operator_expect(sub)
    store.change_submission(
        sid, state=state, actor=actor, reason=reason, expect=expect, changes=changes
    )


def reject(store: Store, sid: str, *, role: str | None, actor: str, reason: str | None) -> None:
    _decide(store, sid, role, actor, "rejected", _reason(reason, "a rejection"))


def return_(
    store: Store,
    sid: str,
    *,
    role: str | None,
    actor: str,
    reason: str | None,
    faults: Sequence[Fault] = (),
) -> None:
    """Return a submission to its organisation for correction, with a reason (and faults)."""
    _decide(
        store,
        sid,
        role,
        actor,
        "returned",
        _reason(reason, "returning a submission"),
        {"faults": [f.to_dict() for f in faults]} if faults else None,
    )


def resubmit(
    store: Store,
    sid: str,
    actor: str,
    payload: dict[str, Any],
    faults: Sequence[Fault],
    reason: str | None,
    *,
    draft: bool = False,
) -> dict[str, Any]:
    """A returned submission (or a draft) corrected by its organisation: the new payload
    replaces the old, its quality is assessed again; with no fault left it is submitted again
    (a ``draft`` stays a draft), else it stays returned (or a draft) with the new faults."""
    sub = levels.own(store, sid, actor)
    state = "draft" if draft else ("returned" if faults else "submitted")
    store.change_submission(
        sid,
        state=state,
        actor=actor,
        reason=reason or "corrected",
        expect=("returned", "draft"),
        changes={
            "payload": payload,
            "faults": [f.to_dict() for f in faults],
            "quality": quality_of(store, {**sub, "payload": payload}),
        },
    )
    return store.submissions(sid=sid)[0]


def submit_draft(
    store: Store, sid: str, *, role: str | None, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """A draft sent for review by its organisation (checked again: a draft with faults is
    refused, every fault listed; its quality is assessed again against today's store)."""
    scope(store, role, actor)  # a role that sees no submissions: PermissionDenied
    sub = levels.own(store, sid, actor)
    if sub["state"] == "draft" and sub["faults"]:
        raise ValidationError(
            f"draft {sid} has {len(sub['faults'])} fault(s): correct them first ('demine "
            f"submit FILE --resubmit {sid}')",
            [Fault(f.get("reason", ""), f.get("index"), f.get("field")) for f in sub["faults"]],
        )
    store.change_submission(
        sid,
        state="submitted",
        actor=actor,
        reason=reason or "submitted for review",
        expect=("draft",),
        changes={"quality": quality_of(store, sub)},
    )
    return store.submissions(sid=sid)[0]


def visible(store: Store, sub: dict[str, Any], role: str | None) -> dict[str, Any]:
    """A submission as ``role`` may read it: the payload's fields the role may not read (an
    import keeps a record's hidden fields for approval) and the extra source fields (below
    analyst) left out."""
    from demine.services.access import at_least, can_read_field

    if role is None or can_review(role) or not sub.get("payload"):
        return sub
    kind = store.kind(sub["kind"])
    hidden = {f.name for f in kind.fields if not can_read_field(f.access, role)}
    extra_ok = at_least(role, "analyst")

    def clean(item: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in item.items() if extra_ok or k != "extra"}
        for key in ("properties", "changes"):
            if isinstance(out.get(key), dict):
                out[key] = {k: v for k, v in out[key].items() if k not in hidden}
        return out

    payload = clean(sub["payload"])
    if isinstance(payload.get("features"), list):
        payload["features"] = [clean(f) for f in payload["features"]]
    return {**sub, "payload": payload}
