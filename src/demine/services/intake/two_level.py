"""Two-level approval (docs/intake.md "Two-level approval").

The store setting :data:`SETTING` (``approval_levels``) is 1 (the default: a reviewer approves
a submission) or 2: a submission of an operator organisation is first approved by an
``operator`` user of the SAME organisation (its data manager / QA) -> ``approved_operator``,
then by a reviewer -> ``approved`` (written through the write path). A reviewer approving one
still ``submitted`` gets a Conflict naming the operator's QA step. The authority's own
submissions (a field team of the authority) skip the first level. At level 2 an operator may
also return (to its own field team) or reject its organisation's ``submitted`` submissions;
another organisation's answer 404, as everywhere in intake."""

from __future__ import annotations

from typing import Any

from demine.errors import Conflict, Fault, NotFound, PermissionDenied, ValidationError
from demine.services.access import REVIEWERS, can_review, require_user_admin
from demine.services.submitting import organisation_of
from demine.store.base import Store

SETTING = "approval_levels"
LEVELS = (1, 2)
QA_ROLE = "operator"  # who approves at the first level (its own organisation's)


def levels(store: Store) -> int:
    """The store's approval levels: 1 (default) or 2."""
    v = store.setting(SETTING)
    return 2 if v == 2 else 1


def set_levels(store: Store, n: int, *, role: str) -> int:
    """Set the approval levels (admin only)."""
    require_user_admin(role)
    if n not in LEVELS:
        raise ValidationError(
            f"approval levels must be 1 or 2, not {n}",
            [Fault("1 (a reviewer approves) or 2 (the operator's QA first)", field="LEVELS")],
        )
    store.set_setting(SETTING, n)
    return n


def two_level(store: Store, sub: dict[str, Any]) -> bool:
    """Is ``sub`` approved at two levels (the setting is 2, its organisation not the
    authority)?"""
    if levels(store) != 2:
        return False
    try:
        return bool(store.organisation(sub["organisation"])["type"] != "authority")
    except NotFound:  # pragma: no cover - a submission names a known organisation
        return True


def needs_operator_qa(store: Store, sub: dict[str, Any]) -> bool:
    """Does ``sub`` (still ``submitted``) wait for its operator's QA before a reviewer?"""
    return sub["state"] == "submitted" and two_level(store, sub)


def own(store: Store, sid: str, actor: str) -> dict[str, Any]:
    """A submission of ``actor``'s organisation, or NotFound (another's is not told)."""
    rows = store.submissions(sid=sid)
    if not rows or rows[0]["organisation"] != organisation_of(store, actor):
        raise NotFound(f"no submission {sid!r}")
    return rows[0]


def decider(store: Store, sid: str, role: str | None, actor: str) -> dict[str, Any]:
    """The submission ``role`` may decide on (approve, reject, return), or the refusal:
    reviewers any organisation's (a draft of another organisation is not told); at level 2 an
    operator its own organisation's; anyone else PermissionDenied."""
    if can_review(role):
        rows = store.submissions(sid=sid)
        if not rows or (
            rows[0]["state"] == "draft" and rows[0]["organisation"] != organisation_of(store, actor)
        ):
            raise NotFound(f"no submission {sid!r}")
        return rows[0]
    if role == QA_ROLE and levels(store) == 2:
        sub = own(store, sid, actor)
        if not two_level(store, sub):
            raise PermissionDenied(
                f"submission {sid} is the authority's own: it skips the operator's QA, a "
                f"reviewer decides it ({' or '.join(REVIEWERS)} role)"
            )
        return sub
    raise PermissionDenied(
        f"the {role} role cannot decide on submissions: that needs the "
        f"{' or '.join(REVIEWERS)} role (or, with two approval levels, the operator role of "
        "the submission's organisation)"
    )


def operator_expect(sub: dict[str, Any]) -> tuple[str, ...]:
    """The states an operator's QA decides on: only its organisation's ``submitted`` ones
    (once approved by it, the submission is the authority's)."""
    if sub["state"] != "submitted":
        raise Conflict(
            f"submission {sub['id']} is {sub['state']}: the operator's QA decides on submitted "
            "ones only"
        )
    return ("submitted",)


def qa_conflict(sub: dict[str, Any]) -> Conflict:
    return Conflict(
        f"submission {sub['id']} waits for the operator's QA: with two approval levels an "
        f"operator user of {sub['organisation']} approves it first (-> approved_operator), "
        "then a reviewer"
    )
