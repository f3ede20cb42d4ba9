"""Intake (issue 13, docs/intake.md): submissions, their states and review.

A write by a field team or an operator becomes a submission (:mod:`demine.services.submitting`,
called by the one write path); here are its states and who may see and move them
(:mod:`.states`), and approval through the write path (:mod:`.review`)."""

from __future__ import annotations

from demine.services.intake.review import approval_reason, approve
from demine.services.intake.states import OPEN, get, listing, reject, resubmit, return_, scope

__all__ = [
    "OPEN",
    "approval_reason",
    "approve",
    "get",
    "listing",
    "reject",
    "resubmit",
    "return_",
    "scope",
]
