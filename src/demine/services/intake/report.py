"""The intake report per organisation (docs/intake.md "The report"): how many submissions in
each state, how long approval took (from the first ``submitted`` event to the ``approved``
one: median and 90th percentile, in hours), the mean quality score at submission and the
minimum-data fields most often missing (``kind.field``: how many times).

Bounded work: it reads the submissions' states, quality and two event times each
(:meth:`demine.store.base.Store.submission_times`), never a payload nor a record. Reviewers and
admins see every organisation; a field team or an operator its own only; other roles none
(PermissionDenied). Like ``review list``, a draft counts for its own organisation only."""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from typing import Any

from demine.model.schema import now_utc
from demine.services.intake.states import scope
from demine.services.submitting import STATES, organisation_of
from demine.store.base import Store


def report(store: Store, role: str | None, user: str | None) -> dict[str, Any]:
    """``{"organisations": [{"code", "name", "by_state", "approved_median_hours",
    "approved_p90_hours", "quality_mean", "missing"}], "generated_at"}``."""
    org = scope(store, role, user)  # PermissionDenied for a role that sees no submissions
    mine = organisation_of(store, user) if user else None
    orgs = [o for o in store.organisations() if org is None or o["code"] == org]
    rows: dict[str, list[dict[str, Any]]] = {o["code"]: [] for o in orgs}
    for r in store.submission_times(org):
        if r["organisation"] in rows and (r["state"] != "draft" or r["organisation"] == mine):
            rows[r["organisation"]].append(r)
    return {
        "organisations": [
            {"code": o["code"], "name": o["name"], **_figures(rows[o["code"]])} for o in orgs
        ],
        "generated_at": now_utc(),
    }


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_state = dict.fromkeys(STATES, 0)
    hours: list[float] = []
    scores: list[float] = []
    missing: dict[str, int] = {}
    for r in rows:
        by_state[r["state"]] = by_state.get(r["state"], 0) + 1
        if r["state"] == "approved" and r["submitted_at"] and r["approved_at"]:
            took = _time(r["approved_at"]) - _time(r["submitted_at"])
            hours.append(took.total_seconds() / 3600.0)
        q = r["quality"]
        if not isinstance(q, dict):
            continue
        score = q.get("mean_score", q.get("score"))
        if score is not None:
            scores.append(float(score))
        for item in q.get("features") or [q]:
            for name in item.get("missing") or ():
                key = f"{r['kind']}.{name}"
                missing[key] = missing.get(key, 0) + 1
    return {
        "by_state": by_state,
        "approved_median_hours": _round(statistics.median(hours)) if hours else None,
        "approved_p90_hours": _round(p90(hours)) if hours else None,
        "quality_mean": _round(statistics.fmean(scores)) if scores else None,
        "missing": dict(sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank: the smallest value with at least 90 % of the
    values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _round(x: float) -> float:
    return round(x, 2)
