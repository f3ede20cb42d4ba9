"""Land release (IMAS 07.11): the rules that tie activities and releases to their hazards,
checked on every write, and the accounts they rest on.

Every write path (:mod:`demine.services.records`: file import, ``demine update``, the OGC
API) calls :func:`check_write`, so the same rules hold whichever face the data comes through:

- a reference field (``hazard_id``, ``activity_id``, ``accident_id``, ``emplacement_id``) of
  the land-release and accident kinds names a record that exists, of the right kind;
- a release's ``hazard_id`` is its activity's (derived, never typed in); its type is one the
  activity may make (cancelled by non-technical survey, reduced by technical survey, cleared
  by clearance; QA/QC releases nothing); its activity is ongoing or completed, not planned;
- an activity that has made releases keeps its hazard and type and does not go back to
  planned;
- a hazard changes to ``closed`` only when nothing remains (within :func:`tolerance_m2`), every
  release on it comes from a completed activity and at least one completed activity exists;
  to ``handed_over`` only from ``closed``. Imports may bring historic hazards that are already
  closed (legacy data): they are recorded as they are.

The remaining polygon and area are derived: :func:`accounts` gives them for every hazard at
once (optionally from releases up to a date), read from the store's derived tables (kept up
to date on write) when they are built, computed from the records otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from demine.errors import Fault
from demine.geo.release import RELEASE_TYPES, Account, ReleaseInput, account, unreleased
from demine.model.dates import certainly_before
from demine.model.kinds import KINDS, RELEASE_BY
from demine.model.schema import FieldType, Record
from demine.store.base import Store

# what may remain of a hazard that closes: numerical noise of the overlay and of the areas,
# never land. Half a square metre, or a millionth of the hazard's area when that is larger.
TOLERANCE_M2 = 0.5
TOLERANCE_SHARE = 1e-6

# reference fields: the kind each names
REFERENCES: dict[str, str] = {
    "hazard_id": "hazards",
    "activity_id": "activities",
    "accident_id": "accidents",
    "emplacement_id": "emplacements",
}
# kinds whose references are checked on every write (the older kinds keep loose links)
CHECKED_KINDS = ("activities", "releases", "accidents", "victims", "eore_sessions")
_SINGULAR = {
    "hazards": "hazard",
    "activities": "activity",
    "accidents": "accident",
    "emplacements": "emplacement record",
}


def tolerance_m2(hazard_m2: float) -> float:
    """The area that may remain unreleased when a hazard closes (see the module docstring)."""
    return max(TOLERANCE_M2, TOLERANCE_SHARE * hazard_m2)


# --- the rules on every write ---------------------------------------------------------------


def _fid(r: Record) -> str | None:
    return r.source_id or r.id or None


def check_write(
    store: Store,
    kind: str,
    records: Sequence[Record],
    *,
    source: str | None = None,
    imported: bool = False,
) -> list[Fault]:
    """The cross-record rules of land release for records about to be written.

    Sets each release's ``hazard_id`` from its activity (in place). Returns every fault, each
    with its field and, when ``source`` is given (an import), the record's position in
    ``records``. ``imported``: the records come from a file import, where historic hazards
    may arrive closed (legacy data) and status transitions are not checked.
    """
    if kind == "hazards":
        return [] if imported else _hazard_transitions(store, records, source)
    if kind not in CHECKED_KINDS or not records:
        return []
    k = KINDS[kind]
    refs = [
        f.name
        for f in k.fields
        if f.type is FieldType.UUID and not f.derived and f.name in REFERENCES
    ]
    found: dict[str, dict[str, Record]] = {}
    for name in refs:
        ids = sorted({str(r.properties[name]) for r in records if r.properties.get(name)})
        found[name] = {x.id: x for x in store.get_many(REFERENCES[name], ids)} if ids else {}
    faults: list[Fault] = []
    recs = records

    def fault(i: int, name: str, reason: str) -> None:
        faults.append(Fault(reason, i if source is not None else None, name, source, _fid(recs[i])))

    for i, r in enumerate(recs):
        for name in refs:
            v = r.properties.get(name)
            if v and str(v) not in found[name]:
                target = REFERENCES[name]
                fault(i, name, f"no {_SINGULAR[target]} with id {v}")
    if kind == "releases":
        acts = found.get("activity_id", {})
        for i, r in enumerate(recs):
            a = acts.get(str(r.properties.get("activity_id")))
            if a is None:
                continue
            r.properties["hazard_id"] = a.properties.get("hazard_id")
            atype = a.properties.get("activity_type")
            rtype = r.properties.get("release_type")
            if atype == "qa_qc":
                fault(i, "activity_id", f"activity {a.id} is QA/QC, which releases no land")
            elif rtype in RELEASE_BY and RELEASE_BY[rtype] != atype:
                fault(
                    i,
                    "release_type",
                    f"land is {rtype} by {RELEASE_BY[rtype].replace('_', ' ')}; activity "
                    f"{a.id} is {str(atype).replace('_', ' ')}",
                )
            if a.properties.get("status") == "planned":
                fault(
                    i,
                    "activity_id",
                    f"activity {a.id} is planned: only an ongoing or completed activity "
                    "releases land",
                )
            started = a.properties.get("started_on")
            on = r.properties.get("released_on")
            if started and on and str(on) < str(started):
                fault(
                    i,
                    "released_on",
                    f"released_on ({on}) is before the activity started ({started})",
                )
    elif kind == "activities":
        faults += _activity_changes(store, recs, source)
    return faults


def _activity_changes(store: Store, records: Sequence[Record], source: str | None) -> list[Fault]:
    """An activity that made releases keeps its hazard and type, and stays under way."""
    ids = [r.id for r in records if r.id]
    old = {x.id: x for x in store.get_many("activities", ids)} if ids else {}
    changing: list[tuple[int, Record, Record]] = []
    for i, r in enumerate(records):
        o = old.get(r.id)
        if o is None:
            continue
        p, q = r.properties, o.properties
        if (
            p.get("hazard_id") != q.get("hazard_id")
            or p.get("activity_type") != q.get("activity_type")
            or (p.get("status") == "planned" and q.get("status") != "planned")
        ):
            changing.append((i, r, o))
    if not changing:
        return []
    made: dict[str, list[Record]] = {}
    wanted = {r.id for _, r, _ in changing}
    for rel in store.list("releases"):
        aid = rel.properties.get("activity_id")
        if aid in wanted:
            made.setdefault(str(aid), []).append(rel)
    faults: list[Fault] = []
    for i, r, o in changing:
        rels = made.get(r.id)
        if not rels:
            continue
        n = f"activity {r.id} made {len(rels)} release(s)"
        idx = i if source is not None else None

        def add(name: str, reason: str, idx: int | None = idx, rec: Record = r) -> None:
            faults.append(Fault(reason, idx, name, source, _fid(rec)))

        if r.properties.get("hazard_id") != o.properties.get("hazard_id"):
            add("hazard_id", f"{n}: its hazard cannot change")
        new_type = r.properties.get("activity_type")
        if new_type != o.properties.get("activity_type") and any(
            RELEASE_BY.get(str(x.properties.get("release_type"))) != new_type for x in rels
        ):
            add("activity_type", f"{n} that a {str(new_type).replace('_', ' ')} cannot make")
        if r.properties.get("status") == "planned":
            add("status", f"{n}: it cannot go back to planned")
    return faults


def _hazard_transitions(store: Store, records: Sequence[Record], source: str | None) -> list[Fault]:
    ids = [r.id for r in records if r.id]
    old = {x.id: x for x in store.get_many("hazards", ids)} if ids else {}
    faults: list[Fault] = []
    for i, r in enumerate(records):
        o = old.get(r.id)
        if o is None:  # a new hazard is recorded as it is (historic data may come closed)
            continue
        new, was = r.properties.get("status"), o.properties.get("status")
        if new == was:
            continue
        idx = i if source is not None else None
        if new == "closed":
            geom = r.geometry if r.geometry is not None else o.geometry
            for reason in closure_reasons(store, r.id, geom, r.properties.get("closed_on")):
                faults.append(
                    Fault(f"the hazard cannot close: {reason}", idx, "status", source, _fid(r))
                )
        elif new == "handed_over":
            if was != "closed":
                faults.append(
                    Fault(
                        f"only a closed hazard can be handed over; this one is {was}",
                        idx,
                        "status",
                        source,
                        _fid(r),
                    )
                )
            for name in ("handed_over_to", "handed_over_on"):
                if not r.properties.get(name):
                    faults.append(Fault(f"a hand-over needs {name}", idx, name, source, _fid(r)))
    return faults


# --- accounts -------------------------------------------------------------------------------


def release_input(r: Record) -> ReleaseInput:
    """What the land-release geometry needs of a release record."""
    return ReleaseInput(
        id=r.id,
        release_type=str(r.properties.get("release_type")),
        released_on=str(r.properties.get("released_on")),
        geometry=r.geometry,
    )


def on_hazard(store: Store, kind: str, hazard_id: str) -> list[Record]:
    """The records of ``kind`` (activities, releases) on a hazard (filtered in the store)."""
    return list(store.list(kind, where={"hazard_id": hazard_id}))


def accounts(
    store: Store, until: date | None = None, ids: Sequence[str] | None = None
) -> dict[str, Account]:
    """The land-release account of every hazard with a geometry, keyed by hazard id.

    ``until``: count only releases made on or before that date (statistics for a period).
    Read from the store's derived tables when they are built (kept up to date on write, see
    :mod:`demine.store.core.derived`): only the hazards with releases after ``until`` are
    computed again. Otherwise one pass over hazards and one over releases (:func:`computed`).
    ``ids``: only these hazards' accounts.
    """
    derived = store.derived_accounts(ids)
    if derived is None:
        return computed(store, until, ids)
    if until is None:
        return derived
    limit = until.isoformat()
    later = [hid for hid, acc in derived.items() if any(p.released_on > limit for p in acc.pieces)]
    bare: list[str] = []  # nothing released by then
    again: list[str] = []  # no account kept at that date: computed again
    for hid in later:
        acc = derived[hid]
        k = sum(1 for p in acc.pieces if p.released_on <= limit)  # a prefix: in date order
        if k == 0:
            bare.append(hid)
        elif acc.pieces[k - 1].remaining_after is not None:
            derived[hid] = _up_to(acc, k)
        else:
            again.append(hid)
    if bare:
        hs = store.get_many("hazards", bare)
        derived.update(zip([h.id for h in hs], unreleased([h.geometry for h in hs]), strict=True))
    if again:
        by_hazard: dict[str, list[ReleaseInput]] = {}
        for r in store.list("releases", where={"hazard_id": again}):
            if r.geometry is None or str(r.properties.get("released_on")) > limit:
                continue
            by_hazard.setdefault(str(r.properties.get("hazard_id")), []).append(release_input(r))
        for h in store.get_many("hazards", again):
            derived[h.id] = account(h.geometry, by_hazard.get(h.id, ()))
    return derived


def _up_to(acc: Account, k: int) -> Account:
    """The account of the first ``k`` releases of a full one (kept by the store: the last of
    them ends a year): what :func:`demine.geo.release.account` gives for them."""
    pieces = acc.pieces[:k]
    by_type = dict.fromkeys(RELEASE_TYPES, 0.0)
    for p in pieces:
        by_type[p.release_type] = by_type.get(p.release_type, 0.0) + p.credited_m2
    last = pieces[-1]
    return Account(
        hazard_m2=acc.hazard_m2,
        pieces=pieces,
        released=last.released_after,
        released_m2=sum(p.credited_m2 for p in pieces),
        remaining=last.remaining_after,
        remaining_m2=last.remaining_after_m2,
        by_type=by_type,
    )


def computed(
    store: Store, until: date | None = None, ids: Sequence[str] | None = None
) -> dict[str, Account]:
    """:func:`accounts` computed from the records, every hazard's (the derived tables unused);
    only those of ``ids`` when given."""
    if ids is not None and not ids:
        return {}
    limit = until.isoformat() if until is not None else None
    by_hazard: dict[str, list[ReleaseInput]] = {}
    if ids is None:
        rels, hazards = store.list("releases"), store.list("hazards")
    else:
        rels = store.list("releases", where={"hazard_id": list(ids)})
        hazards = iter(store.get_many("hazards", list(ids)))
    for r in rels:
        hid = r.properties.get("hazard_id")
        if not hid or r.geometry is None:
            continue
        if limit is not None and str(r.properties.get("released_on")) > limit:
            continue
        by_hazard.setdefault(str(hid), []).append(release_input(r))
    return {
        h.id: account(h.geometry, by_hazard.get(h.id, ()))
        for h in hazards
        if h.geometry is not None
    }


def remaining_geometries(store: Store) -> dict[str, Any]:
    """Every hazard's remaining polygon (CRS84; an empty MultiPolygon when nothing remains)."""
    return {hid: acc.remaining for hid, acc in accounts(store).items()}


def closure_reasons(
    store: Store, hazard_id: str, geometry: Any = None, closed_on: Any = None
) -> list[str]:
    """Why the hazard cannot close now (empty: it can). ``geometry`` defaults to the stored."""
    if geometry is None:
        geometry = store.get("hazards", hazard_id).geometry
    acts = on_hazard(store, "activities", hazard_id)
    rels = on_hazard(store, "releases", hazard_id)
    return closure_account(geometry, acts, rels, closed_on)[1]


def closure_account(
    geometry: Any,
    acts: list[Record],
    rels: list[Record],
    closed_on: Any,
    acc: Account | None = None,
) -> tuple[Account, list[str]]:
    """The hazard's account with ``rels`` and why it cannot close. ``acc``: that account
    already (the store's derived one, for the stored geometry and releases)."""
    if acc is None:
        acc = account(geometry, [release_input(r) for r in rels if r.geometry is not None])
    reasons: list[str] = []
    tol = tolerance_m2(acc.hazard_m2)
    if acc.remaining_m2 > tol:
        reasons.append(
            f"{acc.remaining_m2:,.1f} m² of {acc.hazard_m2:,.1f} m² remain unreleased "
            f"(tolerance {tol:,.1f} m²)"
        )
    status = {a.id: a.properties.get("status") for a in acts}
    completed = [a for a in acts if a.properties.get("status") == "completed"]
    if not completed:
        reasons.append("no completed activity on this hazard")
    pending: dict[str, int] = {}
    for r in rels:
        aid = str(r.properties.get("activity_id"))
        if status.get(aid) != "completed":
            pending[aid] = pending.get(aid, 0) + 1
    for aid, n in sorted(pending.items()):
        reasons.append(
            f"activity {aid} made {n} release(s) but is {status.get(aid) or 'missing'}, "
            "not completed"
        )
    if closed_on:
        dates = [str(r.properties.get("released_on")) for r in rels]
        dates += [str(a.properties.get("completed_on")) for a in completed]
        last = max((d for d in dates if d and d != "None"), default=None)
        if last is not None and certainly_before(closed_on, last):
            reasons.append(
                f"closed_on ({closed_on}) is before the last release or completion ({last})"
            )
    return acc, reasons
