"""Intake (issue 13, docs/intake.md): submissions, their states and review.

A write by a field team or an operator becomes a submission (:mod:`demine.services.submitting`,
called by the one write path); here are its states and who may see and move them
(:mod:`.states`), approval through the write path (:mod:`.review`) at one or two levels
(:mod:`.two_level`), and the report per organisation (:mod:`.report`)."""

from __future__ import annotations

from demine.services.intake.report import report
from demine.services.intake.review import approval_reason, approve
from demine.services.intake.states import (
    OPEN,
    get,
    listing,
    reject,
    resubmit,
    return_,
    scope,
    submit_draft,
)
from demine.services.intake.two_level import levels, set_levels

__all__ = [
    "OPEN",
    "approval_reason",
    "approve",
    "get",
    "levels",
    "listing",
    "reject",
    "report",
    "resubmit",
    "return_",
    "scope",
    "set_levels",
    "submit_draft",
]
