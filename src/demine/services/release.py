"""Land release (IMAS 07.11): the rules that tie activities and releases to their hazards, a
hazard's account (what was released, what overlaps, what lies outside, what remains), closure,
hand-over and the completion certificate.

Every write path (file import, ``update_record``, the OGC API) calls :func:`check_write`, so
the same rules hold whichever face the data comes through:

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

The remaining polygon and area are derived, never stored: :func:`accounts` computes them for
every hazard at once (optionally from releases up to a date).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import shapely

from demine.errors import Conflict, Fault, ValidationError
from demine.geo.release import Account, ReleaseInput, account, polygonal
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
ACTIVITY_LABELS = {
    "non_technical_survey": "Non-technical survey",
    "technical_survey": "Technical survey",
    "clearance": "Clearance",
    "qa_qc": "QA/QC",
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


def _release_input(r: Record) -> ReleaseInput:
    return ReleaseInput(
        id=r.id,
        release_type=str(r.properties.get("release_type")),
        released_on=str(r.properties.get("released_on")),
        geometry=r.geometry,
    )


def _on_hazard(store: Store, kind: str, hazard_id: str) -> list[Record]:
    return list(store.list(kind, where={"hazard_id": hazard_id}))


def accounts(store: Store, until: date | None = None) -> dict[str, Account]:
    """The land-release account of every hazard with a geometry, keyed by hazard id.

    ``until``: count only releases made on or before that date (statistics for a period).
    One pass over hazards and one over releases.
    """
    limit = until.isoformat() if until is not None else None
    by_hazard: dict[str, list[ReleaseInput]] = {}
    for r in store.list("releases"):
        hid = r.properties.get("hazard_id")
        if not hid or r.geometry is None:
            continue
        if limit is not None and str(r.properties.get("released_on")) > limit:
            continue
        by_hazard.setdefault(str(hid), []).append(_release_input(r))
    return {
        h.id: account(h.geometry, by_hazard.get(h.id, ()))
        for h in store.list("hazards")
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
    acts = _on_hazard(store, "activities", hazard_id)
    rels = _on_hazard(store, "releases", hazard_id)
    return _reasons(geometry, acts, rels, closed_on)[1]


def _reasons(
    geometry: Any, acts: list[Record], rels: list[Record], closed_on: Any
) -> tuple[Account, list[str]]:
    acc = account(geometry, [_release_input(r) for r in rels if r.geometry is not None])
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
        if last is not None and str(closed_on) < last:
            reasons.append(
                f"closed_on ({closed_on}) is before the last release or completion ({last})"
            )
    return acc, reasons


def _geojson(g: Any) -> Any:
    if g is None or shapely.is_empty(g):
        return None
    return shapely.geometry.mapping(g)


def _r(x: float) -> float:
    return round(float(x), 2)


def hazard_account(store: Store, hazard_id: str, *, role: str = "admin") -> dict[str, Any]:
    """A hazard's land-release account as plain data (JSON-ready), as ``role`` may see it:
    fields of the hazard, its activities and releases the role may not read are left out;
    PermissionDenied when the role may not read these kinds, NotFound for a hazard it may not
    see. Every face (CLI, HTTP) shows this."""
    from demine.errors import NotFound
    from demine.services.access import for_role, require_read, restricted_fields

    for name in ("hazards", "activities", "releases"):  # the account is made of these
        require_read(KINDS[name], role)
    h = store.get("hazards", hazard_id)
    if for_role(KINDS["hazards"], h, role) is None:
        raise NotFound(f"no hazard {hazard_id!r}")
    out = _account_dict(store, h)
    for kname, key in (("hazards", None), ("activities", "activities"), ("releases", "releases")):
        hidden = set(restricted_fields(KINDS[kname], role))
        if not hidden:
            continue
        if key is None:
            for name in hidden:
                out.pop(name, None)
        else:
            out[key] = [{k: v for k, v in r.items() if k not in hidden} for r in out[key]]
    return out


def _account_dict(store: Store, h: Record) -> dict[str, Any]:
    acts = _on_hazard(store, "activities", h.id)
    rels = _on_hazard(store, "releases", h.id)
    acc, reasons = _reasons(h.geometry, acts, rels, None)
    status = h.properties.get("status")
    if status != "open":
        reasons = [f"the hazard is already {status}"] + reasons
    rel_act = {r.id: r.properties.get("activity_id") for r in rels}
    tol = tolerance_m2(acc.hazard_m2)
    return {
        "hazard_id": h.id,
        "name": h.properties.get("name"),
        "reference": h.properties.get("reference"),
        "status": status,
        "closed_on": h.properties.get("closed_on"),
        "handed_over_to": h.properties.get("handed_over_to"),
        "handed_over_on": h.properties.get("handed_over_on"),
        "area_m2": _r(acc.hazard_m2),
        "released_m2": _r(acc.released_m2),
        "remaining_m2": _r(acc.remaining_m2),
        "tolerance_m2": _r(tol),
        "nothing_remains": acc.remaining_m2 <= tol,
        "by_type": {k: _r(v) for k, v in acc.by_type.items()},
        "releases": [
            {
                "release_id": p.release_id,
                "activity_id": rel_act.get(p.release_id),
                "release_type": p.release_type,
                "released_on": p.released_on,
                "recorded_m2": _r(p.recorded_m2),
                "credited_m2": _r(p.credited_m2),
                "overlap_m2": _r(p.overlap_m2),
                "overlaps_with": p.overlaps_with,
                "outside_m2": _r(p.outside_m2),
            }
            for p in acc.pieces
        ],
        "overlaps": [{**o, "overlap_m2": _r(o["overlap_m2"])} for o in acc.overlaps],
        "outside": [{**o, "outside_m2": _r(o["outside_m2"])} for o in acc.outside],
        "activities": [
            {
                "activity_id": a.id,
                "activity_type": a.properties.get("activity_type"),
                "status": a.properties.get("status"),
                "organisation": a.properties.get("organisation"),
                "method": a.properties.get("method"),
                "depth_cm": a.properties.get("depth_cm"),
                "started_on": a.properties.get("started_on"),
                "completed_on": a.properties.get("completed_on"),
                "reference": a.properties.get("reference"),
            }
            for a in sorted(acts, key=lambda a: (str(a.properties.get("started_on")), a.id))
        ],
        "can_close": not reasons,
        "reasons": reasons,
        "remaining": _geojson(acc.remaining),
    }


# --- closure and hand-over ------------------------------------------------------------------


def _day(value: date | str, name: str) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a date", [Fault("expected YYYY-MM-DD", field=name)]
        ) from None


def close_hazard(
    store: Store,
    hazard_id: str,
    closed_on: date | str,
    actor: str | None = None,
    reason: str | None = None,
) -> Record:
    """Close an open hazard whose land is all released by completed activities.

    Conflict (with every reason) when it cannot close."""
    from demine.services.register import update_record

    on = _day(closed_on, "closed_on")
    h = store.get("hazards", hazard_id)
    status = h.properties.get("status")
    if status != "open":
        raise Conflict(f"hazard {h.id} is already {status}")
    reasons = closure_reasons(store, h.id, h.geometry, on)
    if reasons:
        raise Conflict(f"hazard {h.id} cannot close: " + "; ".join(reasons))
    return update_record(
        store,
        h.id,
        {"status": "closed", "closed_on": on},
        actor=actor,
        reason=reason or "land release: all land released by completed activities",
    )


def hand_over(
    store: Store,
    hazard_id: str,
    to: str,
    on: date | str,
    actor: str | None = None,
    reason: str | None = None,
) -> Record:
    """Record that a closed hazard's land was handed over to ``to`` (community, land user)."""
    from demine.services.register import update_record

    day = _day(on, "handed_over_on")
    if not to or not to.strip():
        raise ValidationError(
            "a hand-over needs a recipient", [Fault("empty", field="handed_over_to")]
        )
    h = store.get("hazards", hazard_id)
    status = h.properties.get("status")
    if status != "closed":
        raise Conflict(f"only a closed hazard can be handed over; hazard {h.id} is {status}")
    return update_record(
        store,
        h.id,
        {"status": "handed_over", "handed_over_to": to.strip(), "handed_over_on": day},
        actor=actor,
        reason=reason or f"land handed over to {to.strip()}",
    )


# --- the certificate ------------------------------------------------------------------------

_COLOURS = {"cancelled": "#9ecae1", "reduced": "#fdd49e", "cleared": "#a1d99b"}


def _svg_map(hazard: Any, pieces: Iterable[Any], remaining: Any, finds: Sequence[Any]) -> str:
    """An inline SVG of the hazard, its release polygons (as credited) and the finds."""
    minx, miny, maxx, maxy = shapely.bounds(hazard)
    lat0 = (miny + maxy) / 2
    kx = math.cos(math.radians(lat0))
    w_deg, h_deg = max((maxx - minx) * kx, 1e-9), max(maxy - miny, 1e-9)
    width, pad = 560.0, 20.0
    scale = (width - 2 * pad) / w_deg
    height = min(h_deg * scale + 2 * pad, 520.0)
    scale = min(scale, (height - 2 * pad) / h_deg)

    def xy(x: float, y: float) -> str:
        return f"{pad + (x - minx) * kx * scale:.1f},{pad + (maxy - y) * scale:.1f}"

    def path(g: Any) -> str:
        out = []
        for poly in shapely.get_parts(g):
            if poly.geom_type != "Polygon":
                continue
            for ring in (poly.exterior, *poly.interiors):
                pts = list(ring.coords)
                out.append("M" + " L".join(xy(x, y) for x, y in pts) + " Z")
        return " ".join(out)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" '
        'aria-label="Map of the hazard and its release polygons">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    for p in pieces:
        if p.credited is None or shapely.is_empty(p.credited):
            continue
        parts.append(
            f'<path d="{path(p.credited)}" fill="{_COLOURS.get(p.release_type, "#ddd")}" '
            f'fill-rule="evenodd" stroke="#555" stroke-width="0.5">'
            f"<title>{html.escape(p.release_type)} {html.escape(p.released_on)}</title></path>"
        )
    if remaining is not None and not shapely.is_empty(remaining):
        parts.append(
            f'<path d="{path(remaining)}" fill="#e34a33" fill-opacity="0.6" '
            'fill-rule="evenodd" stroke="none"><title>remaining</title></path>'
        )
    parts.append(
        f'<path d="{path(hazard)}" fill="none" stroke="#b30000" stroke-width="2" '
        'stroke-dasharray="6 3" fill-rule="evenodd"><title>hazard boundary</title></path>'
    )
    for f in finds[:2000]:
        x, y = xy(f.x, f.y).split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="1.6" fill="#222"/>')
    # scale bar: a round length near a quarter of the width
    m_per_px = 1 / scale * 111_320.0  # degrees of latitude to metres (about 0.5%)
    target = (width - 2 * pad) / 4 * m_per_px
    bar_m = 10 ** math.floor(math.log10(max(target, 1e-9)))
    for step in (5, 2):
        if bar_m * step <= target:
            bar_m *= step
            break
    bar_px = bar_m / m_per_px
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    y0 = height - 8
    parts.append(
        f'<line x1="{pad}" y1="{y0}" x2="{pad + bar_px:.1f}" y2="{y0}" stroke="#000" '
        f'stroke-width="3"/><text x="{pad + bar_px + 6:.1f}" y="{y0 + 4}" font-size="11">'
        f"{label}</text>"
        f'<text x="{width - pad:.0f}" y="{pad + 4:.0f}" font-size="13" text-anchor="end">'
        "N ↑</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _m2(x: Any) -> str:
    v = float(x or 0.0)
    return f"{v:,.1f} m² ({v / 10_000:,.4f} ha)"


def _e(v: Any) -> str:
    return "" if v is None else html.escape(str(v))


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; color: #111;
       max-width: 190mm; margin: 1em auto; }
h1 { font-size: 17pt; margin: 0.2em 0; } h2 { font-size: 13pt; margin: 1em 0 0.3em; }
table { border-collapse: collapse; width: 100%; margin: 0.3em 0; }
th, td { border: 1px solid #888; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } td.n { text-align: right; white-space: nowrap; }
table.wide { font-size: 9pt; } table.wide td { overflow-wrap: break-word; }
td.d { white-space: nowrap; }
.synthetic { background: #ffd400; border: 3px solid #000; padding: 0.5em; font-weight: bold;
             text-align: center; margin-bottom: 0.6em; }
.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle;
               border: 1px solid #555; margin: 0 0.3em 0 1em; }
.signatures { display: flex; gap: 4mm; margin-top: 1em; }
.sig { flex: 1; border: 1px solid #444; padding: 0.5em; min-height: 42mm; }
.sig .line { border-bottom: 1px solid #000; height: 1.6em; margin-bottom: 0.2em; }
.muted { color: #555; font-size: 9pt; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  .no-print { display: none; }
  .synthetic, th, .legend span { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, table, .signatures, svg { break-inside: avoid; }
}
"""


CERTIFICATE_ROLE = "analyst"  # it names who received the land and counts the devices found


def certificate_html(store: Store, hazard_id: str, *, role: str = "admin") -> str:
    """A printable land-release completion / hand-over certificate (IMAS 07.11) for a closed
    or handed-over hazard. Conflict for an open hazard; PermissionDenied below the analyst
    role (it prints ``handed_over_to`` and the finds). Every value is HTML-escaped; no
    personal data of victims or reporters is read."""
    from demine.demo_data import SYNTHETIC_NOTICE
    from demine.errors import PermissionDenied
    from demine.services.access import at_least

    if not at_least(role, CERTIFICATE_ROLE):
        raise PermissionDenied(
            f"the {role} role cannot issue a land-release certificate ({CERTIFICATE_ROLE} "
            "and above: it names who received the land and the devices found)"
        )

    h = store.get("hazards", hazard_id)
    p = h.properties
    status = p.get("status")
    if status not in ("closed", "handed_over"):
        raise Conflict(
            f"hazard {h.id} is {status}: a certificate is issued only for a closed or "
            "handed-over hazard"
        )
    acts = sorted(
        _on_hazard(store, "activities", h.id),
        key=lambda a: (str(a.properties.get("started_on")), a.id),
    )
    rels = _on_hazard(store, "releases", h.id)
    acc = account(h.geometry, [_release_input(r) for r in rels if r.geometry is not None])
    act_by_id = {a.id: a for a in acts}
    rel_by_id = {r.id: r for r in rels}

    # devices found in the hazard: finds linked to it, or unlinked finds inside it
    finds = []
    if h.geometry is not None:
        shapely.prepare(h.geometry)
        for f in store.list("finds", bbox=tuple(shapely.bounds(h.geometry))):
            hid = f.properties.get("hazard_id")
            if hid == h.id or (
                not hid and f.geometry is not None and h.geometry.intersects(f.geometry)
            ):
                finds.append(f)
    names = {d.properties.get("code"): d.properties.get("name") for d in store.list("device_types")}
    counts: dict[tuple[str, str], int] = {}
    for f in finds:
        key = (str(f.properties.get("device_type")), str(f.properties.get("state")))
        counts[key] = counts.get(key, 0) + 1

    try:
        synthetic = bool(store.setting("synthetic"))
    except Exception:  # a store without settings
        synthetic = False
    tol = tolerance_m2(acc.hazard_m2)
    ref = p.get("reference") or h.id
    title = f"Land release certificate — hazard {ref}"
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    if synthetic:
        out.append(f'<div class="synthetic">{_e(SYNTHETIC_NOTICE)}</div>')
    out.append(f"<h1>{_e(title)}</h1>")
    out.append(
        '<p class="muted">Completion and hand-over of released land (IMAS 07.11). '
        f"Issued {date.today().isoformat()} from demine record {_e(h.id)}, revision "
        f"{h.revision}.</p>"
    )
    out.append("<h2>Hazardous area</h2><table>")
    rows = [
        ("Reference", p.get("reference")),
        ("Name", p.get("name")),
        ("Type", p.get("hazard_type")),
        ("Administrative area", p.get("admin_area")),
        ("Location (centre, lon/lat WGS 84)", _centre(h.geometry)),
        ("Device categories", p.get("device_categories")),
        ("Reported on", p.get("reported_on")),
        ("Surveyed on", p.get("surveyed_on")),
        ("Status", str(status).replace("_", " ")),
        ("Closed on", p.get("closed_on")),
        ("Handed over to", p.get("handed_over_to")),
        ("Handed over on", p.get("handed_over_on")),
    ]
    out += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows]
    out.append("</table>")

    out.append("<h2>Land released</h2><table>")
    out.append(f'<tr><th>Original area</th><td class="n">{_m2(acc.hazard_m2)}</td></tr>')
    for t, label in (
        ("cancelled", "Cancelled (non-technical survey)"),
        ("reduced", "Reduced (technical survey)"),
        ("cleared", "Cleared"),
    ):
        out.append(f'<tr><th>{label}</th><td class="n">{_m2(acc.by_type.get(t))}</td></tr>')
    out.append(f'<tr><th>Total released</th><td class="n">{_m2(acc.released_m2)}</td></tr>')
    shown_remaining = 0.0 if acc.remaining_m2 <= tol else acc.remaining_m2
    out.append(f'<tr><th>Remaining</th><td class="n">{_m2(shown_remaining)}</td></tr></table>')
    out.append(
        '<p class="muted">Geodesic areas on the WGS 84 ellipsoid. Overlapping release polygons '
        "are counted once; parts of release polygons outside the hazard are not counted. "
        f"Remaining is shown as 0 when below {tol:,.1f} m² (numerical tolerance; computed "
        f"{acc.remaining_m2:,.2f} m²).</p>"
    )

    out.append(
        '<h2>Activities</h2><table class="wide"><tr><th>Activity</th><th>Organisation</th>'
        "<th>Team</th>"
        "<th>Status</th><th>Started</th><th>Completed</th><th>Methods</th><th>Depth</th>"
        "<th>Reference</th></tr>"
    )
    for a in acts:
        q = a.properties
        depth = q.get("depth_cm")
        kind_label = ACTIVITY_LABELS.get(str(q.get("activity_type")), q.get("activity_type"))
        out.append(
            f"<tr><td>{_e(kind_label)}</td><td>{_e(q.get('organisation'))}</td>"
            f"<td>{_e(q.get('team'))}</td>"
            f'<td>{_e(q.get("status"))}</td><td class="d">{_e(q.get("started_on"))}</td>'
            f'<td class="d">{_e(q.get("completed_on"))}</td>'
            f"<td>{_e(str(q.get('method') or '').replace('_', ' ').replace(',', ', '))}</td>"
            f'<td class="n">{_e(f"{float(depth):g} cm" if depth is not None else "")}</td>'
            f"<td>{_e(q.get('reference'))}</td></tr>"
        )
    if not acts:
        out.append('<tr><td colspan="9">No activity recorded (historic closure).</td></tr>')
    out.append("</table>")

    out.append(
        '<h2>Release polygons</h2><table class="wide"><tr><th>Type</th><th>Released on</th>'
        "<th>Organisation</th><th>Reference</th><th>Recorded</th><th>Counted</th>"
        "<th>Overlap (not counted)</th><th>Outside the hazard</th></tr>"
    )
    for piece in acc.pieces:
        rr = rel_by_id[piece.release_id].properties
        org = rr.get("organisation") or act_by_id.get(
            str(rr.get("activity_id")), Record("", "", {})
        ).properties.get("organisation")
        out.append(
            f'<tr><td>{_e(piece.release_type)}</td><td class="d">{_e(piece.released_on)}</td>'
            f"<td>{_e(org)}</td><td>{_e(rr.get('reference'))}</td>"
            f'<td class="n">{piece.recorded_m2:,.1f} m²</td>'
            f'<td class="n">{piece.credited_m2:,.1f} m²</td>'
            f'<td class="n">{piece.overlap_m2:,.1f} m²</td>'
            f'<td class="n">{piece.outside_m2:,.1f} m²</td></tr>'
        )
    if not acc.pieces:
        out.append('<tr><td colspan="8">No release polygon recorded.</td></tr>')
    out.append("</table>")

    out.append(
        "<h2>Devices found</h2><table><tr><th>Device type</th><th>State</th><th>Number</th></tr>"
    )
    for (code, state), n in sorted(counts.items()):
        label = f"{names.get(code) or code} ({code})" if names.get(code) else code
        out.append(
            f"<tr><td>{_e(label)}</td><td>{_e(state.replace('_', ' '))}</td>"
            f'<td class="n">{n}</td></tr>'
        )
    if not counts:
        out.append('<tr><td colspan="3">No device found recorded.</td></tr>')
    out.append("</table>")

    if h.geometry is not None:
        out.append("<h2>Map</h2>")
        out.append(
            _svg_map(
                h.geometry,
                acc.pieces,
                acc.remaining if acc.remaining_m2 > tol else None,
                [f.geometry for f in finds if f.geometry is not None],
            )
        )
        out.append(
            '<p class="legend">'
            + "".join(f'<span style="background:{c}"></span>{_e(t)}' for t, c in _COLOURS.items())
            + '<span style="background:#fff;border:2px dashed #b30000"></span>hazard boundary'
            + '<span style="background:#222;border-radius:50%"></span>device found</p>'
        )

    out.append('<h2>Signatures</h2><div class="signatures">')
    for who in (
        "Operator",
        "National mine action authority",
        "Receiving community / land user",
    ):
        out.append(
            f'<div class="sig"><strong>{_e(who)}</strong>'
            '<p class="muted">Name</p><div class="line"></div>'
            '<p class="muted">Position</p><div class="line"></div>'
            '<p class="muted">Signature and stamp</p><div class="line"></div>'
            '<p class="muted">Date</p><div class="line"></div></div>'
        )
    out.append("</div>")
    out.append(
        '<p class="no-print muted">Print this page (Ctrl+P) for signature. demine '
        "land-release certificate.</p>"
    )
    if synthetic:
        out.append(f'<div class="synthetic">{_e(SYNTHETIC_NOTICE)}</div>')
    out.append("</body></html>")
    return "\n".join(out)


def _centre(g: Any) -> str | None:
    if g is None or shapely.is_empty(g):
        return None
    c = shapely.point_on_surface(g)
    return f"{c.x:.5f}, {c.y:.5f}"


# --- the demo -------------------------------------------------------------------------------


def demo_release(store: Store, seed: int) -> dict[str, Any]:
    """Add SYNTHETIC activities and land releases to the demo store (hazards imported).

    Through the normal paths: activities and releases are imported as GeoJSON files
    (``hazard_source_id`` / ``activity_source_id`` links), one hazard is closed with
    :func:`close_hazard` and one closed and handed over with :func:`hand_over`. Hazards the
    demo imported already closed get completed activities and releases that cover them.
    Deterministic for a seed (dates follow the hazards', which follow the demo's today).
    """
    import tempfile
    from pathlib import Path

    import numpy as np
    import orjson

    from demine.demo_data import DEMO_ORGANISATIONS, SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK
    from demine.services.register import ImportOptions, import_file

    notes = f"{SYNTHETIC_NOTICE} {SYNTHETIC_NOTICE_UK}"
    rng = np.random.default_rng(seed)
    yesterday = date.today() - timedelta(days=1)
    hazards = sorted(
        (h for h in store.list("hazards") if h.geometry is not None and h.source_id),
        key=lambda h: str(h.source_id),
    )
    activities: list[dict[str, Any]] = []
    releases: list[dict[str, Any]] = []
    to_close: list[tuple[str, str]] = []  # (hazard id, closed_on)
    counter = {"a": 0, "r": 0}

    def days(lo: date, hi: date, n: int) -> list[date]:
        span = max((hi - lo).days, 0)
        return sorted(lo + timedelta(days=int(d)) for d in rng.integers(0, span + 1, size=n))

    def activity(
        h: Record, atype: str, status: str, start: date | None, end: date | None, org: str
    ) -> str:
        counter["a"] += 1
        sid = f"demo-a-{counter['a']:04d}"
        method = {
            "non_technical_survey": "other",
            "technical_survey": str(rng.choice(["manual", "mechanical", "animal_detection"])),
            "clearance": str(rng.choice(["manual", "manual,mechanical", "mechanical"])),
            "qa_qc": "manual",
        }[atype]
        props: dict[str, Any] = {
            "hazard_source_id": h.source_id,
            "activity_type": atype,
            "status": status,
            "organisation": org,
            "team": f"SYNTHETIC team {int(rng.integers(1, 13))}",
            "method": method,
            "reference": f"DEMO-T-{counter['a']:04d}",
            "notes": notes,
            "synthetic": True,
        }
        if atype in ("technical_survey", "clearance", "qa_qc"):
            props["depth_cm"] = float(rng.choice([13, 20, 25, 30]))
        if start is not None:
            props["planned_start"] = start.isoformat()
        if status in ("ongoing", "completed") and start is not None:
            props["started_on"] = start.isoformat()
        if status == "completed" and end is not None:
            props["completed_on"] = end.isoformat()
        # the worksite: the hazard (the importer wants a polygon here, or none in a CSV)
        feature = {"type": "Feature", "id": sid, "properties": props}
        feature["geometry"] = shapely.geometry.mapping(h.geometry)
        activities.append(feature)
        return sid

    def release(asid: str, rtype: str, on: date, geom: Any, org: str) -> None:
        if geom is None or shapely.is_empty(geom):
            return
        counter["r"] += 1
        releases.append(
            {
                "type": "Feature",
                "id": f"demo-l-{counter['r']:04d}",
                "properties": {
                    "activity_source_id": asid,
                    "release_type": rtype,
                    "released_on": on.isoformat(),
                    "organisation": org,
                    "reference": f"DEMO-LR-{counter['r']:04d}",
                    "notes": notes,
                    "synthetic": True,
                },
                "geometry": shapely.geometry.mapping(geom),
            }
        )

    def strips(g: Any, shares: Sequence[float]) -> list[Any]:
        """The hazard cut into west-to-east strips of about these shares of its width;
        the last strip takes the rest exactly (so the strips cover it)."""
        minx, miny, maxx, maxy = shapely.bounds(g)
        out, x0, used = [], minx, shapely.MultiPolygon()
        for s in shares[:-1]:
            x1 = x0 + s * (maxx - minx)
            part = shapely.difference(
                shapely.intersection(g, shapely.box(minx - 1, miny - 1, x1, maxy + 1)), used
            )
            out.append(part)
            used = shapely.union(used, part)
            x0 = x1
        out.append(shapely.difference(g, used))
        return [polygonal(shapely.make_valid(p)) for p in out]

    def full(h: Record, lo: date, hi: date) -> None:
        """Completed NTS, TS and clearance that release all of the hazard, and QA/QC. The
        demo's cleared field (its clearance finds teach `risk learn`) is cleared whole: NTS
        and TS confirm it and release nothing (same random draws either way)."""
        d = days(lo, hi, 8)
        org = DEMO_ORGANISATIONS[int(rng.integers(len(DEMO_ORGANISATIONS)))]
        a = rng.uniform(0.3, 0.55)
        b = rng.uniform(0.15, 0.3)
        cancel, reduce, clear = strips(h.geometry, [a, b, 1 - a - b])
        if "(cleared)" in str(h.properties.get("name") or ""):
            cancel = reduce = shapely.MultiPolygon()
            clear = polygonal(h.geometry)
        nts = activity(h, "non_technical_survey", "completed", d[0], d[1], org)
        release(nts, "cancelled", d[1], cancel, org)
        ts = activity(h, "technical_survey", "completed", d[2], d[3], org)
        release(ts, "reduced", d[3], reduce, org)
        cl = activity(h, "clearance", "completed", d[4], d[5], org)
        release(cl, "cleared", d[5], clear, org)
        activity(h, "qa_qc", "completed", d[6], d[7], DEMO_ORGANISATIONS[3])

    # two open hazards to release completely (one to close, one to hand over): the last ones,
    # so the first hazards of a listing stay open
    def window(h: Record) -> tuple[date, date]:
        reported = date.fromisoformat(str(h.properties.get("reported_on") or "2022-03-01"))
        lo, hi = max(reported, date(2023, 1, 1)), min(yesterday, date(2025, 12, 31))
        return (lo, hi) if lo < hi else (reported, yesterday)

    open_full = [
        h.id
        for h in hazards
        if h.properties.get("status") == "open" and (window(h)[1] - window(h)[0]).days > 60
    ][-2:]
    n_overlap = n_outside = 0
    for h in hazards:
        p = h.properties
        reported = date.fromisoformat(str(p.get("reported_on") or "2022-03-01"))
        if p.get("status") in ("closed", "handed_over"):
            closed = date.fromisoformat(str(p.get("closed_on")))
            full(h, min(reported, closed), closed)
            continue
        lo, hi = window(h)
        if lo >= hi:
            continue
        if h.id in open_full:
            full(h, lo, hi)
            to_close.append((h.id, ""))
            continue
        u = rng.random()
        if u > 0.6:  # no activity yet
            continue
        org = DEMO_ORGANISATIONS[int(rng.integers(len(DEMO_ORGANISATIONS)))]
        d = days(lo, hi, 6)
        if u < 0.12:  # only planned so far
            activity(h, "non_technical_survey", "planned", d[-1], None, org)
            continue
        # NTS cancels the largest share (SHAs more), TS reduces some, clearance clears a bit
        cancel_share = (
            rng.uniform(0.3, 0.7) if p.get("hazard_type") == "SHA" else rng.uniform(0.1, 0.35)
        )
        reduce_share = rng.uniform(0.1, 0.25)
        clear_share = rng.uniform(0.03, 0.12)
        cancel, reduce, clear, _ = strips(
            h.geometry, [cancel_share, reduce_share, clear_share, 1.0]
        )
        nts = activity(h, "non_technical_survey", "completed", d[0], d[1], org)
        release(nts, "cancelled", d[1], cancel, org)
        if u < 0.45:
            ts_status = "completed" if rng.random() < 0.5 else "ongoing"
            ts = activity(h, "technical_survey", ts_status, d[2], d[3], org)
            if n_overlap < 2:  # a reduction drawn a little over the cancelled strip
                n_overlap += 1
                reduce = shapely.union(
                    reduce, shapely.intersection(cancel, shapely.buffer(reduce, 0.0003))
                )
            release(ts, "reduced", d[3], reduce, org)
            if u < 0.3:
                cl = activity(h, "clearance", "ongoing", d[4], None, org)
                if n_outside < 2:  # a clearance polygon drawn past the hazard's edge
                    n_outside += 1
                    clear = shapely.intersection(
                        shapely.buffer(h.geometry, 0.0002), shapely.box(*shapely.bounds(clear))
                    )
                release(cl, "cleared", d[4], clear, org)
            else:
                activity(h, "clearance", "planned", d[5], None, org)

    if activities:
        with tempfile.TemporaryDirectory() as tmp:
            for kind, feats in (("activities", activities), ("releases", releases)):
                f = Path(tmp) / f"{kind}.geojson"
                f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
                import_file(
                    store,
                    f,
                    ImportOptions(kind=kind, actor="demine demo", reason="SYNTHETIC demo data"),
                )
    closed_ids: list[str] = []
    handed: list[str] = []
    for i, (hid, _) in enumerate(to_close):
        rels = _on_hazard(store, "releases", hid)
        acts = _on_hazard(store, "activities", hid)
        last = max(
            [str(r.properties["released_on"]) for r in rels]
            + [
                str(a.properties.get("completed_on"))
                for a in acts
                if a.properties.get("completed_on")
            ]
        )
        on = min(date.fromisoformat(last) + timedelta(days=7), yesterday)
        close_hazard(store, hid, on, actor="demine demo", reason="SYNTHETIC demo: land released")
        closed_ids.append(hid)
        if i == 1:
            hand_over(
                store,
                hid,
                "SYNTHETIC village council (demo)",
                min(on + timedelta(days=14), yesterday),
                actor="demine demo",
            )
            handed.append(hid)
    by_type = dict.fromkeys(("cancelled", "reduced", "cleared"), 0.0)
    for acc in accounts(store).values():
        for t, v in acc.by_type.items():
            by_type[t] = by_type.get(t, 0.0) + v
    return {
        "activities": len(activities),
        "releases": len(releases),
        "hazards_worked": len({a["properties"]["hazard_source_id"] for a in activities}),
        "closed": closed_ids,
        "handed_over": handed,
        "released_m2": {k: round(v, 1) for k, v in by_type.items()},
    }
