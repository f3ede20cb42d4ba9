"""SYNTHETIC demo accidents, victims and risk-education (EORE) sessions.

Everything here is **generated at random** and labelled synthetic: every record's ``notes``
carry :data:`~demine.model.synthetic.SYNTHETIC_NOTICE` (English and Ukrainian), victims' names are
``SYNTHETIC person 017`` and their contacts ``SYNTHETIC``. Nothing is a real person or event.

:func:`demo_casualties` imports the records into a store through the normal import path
(GeoJSON files, :func:`demine.services.register.import_file`), after the demo hazards: accidents
are placed in or near the store's hazards (demining accidents inside a hazard, on an activity of
it when the store has survey or clearance activities; civilian accidents in or up to 1.5 km
around one), victims name their accident, and EORE sessions are held in settlements near
hazards. The same ``seed`` and store give the same records.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from demine.demo.data import DEMO_ORGANISATIONS
from demine.demo.sampling import day_between, east_shapes, moment, offset, point_in
from demine.model.devices import CATALOGUE, CATEGORIES
from demine.model.schema import format_datetime
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK
from demine.store.base import Store

__all__ = ["EORE_ORGANISATIONS", "demo_casualties"]

_NOTES = f"{SYNTHETIC_NOTICE} {SYNTHETIC_NOTICE_UK}"
_ACTOR = "demine demo"
_REASON = "SYNTHETIC demo data"
_FIRST_DAY = date(2022, 3, 1)
_LAST_DAY = date(2025, 12, 31)

EORE_ORGANISATIONS = (
    "Demo EORE Partner 1",
    "Demo EORE Partner 2",
    "Demo Operator A",
    "Demo Operator C",
)

_CIVILIAN_ACTIVITIES = (
    ("farming", 0.35),
    ("travelling", 0.2),
    ("collecting", 0.15),
    ("household", 0.1),
    ("tampering", 0.08),
    ("playing", 0.07),
    ("other", 0.05),
)
_INJURIES = (
    "SYNTHETIC: lower-limb injury",
    "SYNTHETIC: fragmentation wounds",
    "SYNTHETIC: hand and eye injuries",
    "SYNTHETIC: hearing loss and burns",
)
_ASSISTANCE = (
    "SYNTHETIC: emergency care given; rehabilitation referred",
    "SYNTHETIC: prosthesis fitted",
    "SYNTHETIC: psychosocial support",
    "SYNTHETIC: none recorded yet",
)
_ACCIDENT_TEXT = {
    "demining": "SYNTHETIC: device initiated during {what}",
    "civilian": "SYNTHETIC: device initiated while the person was {what}",
}
_PLACES = ("school", "community centre", "library", "village square", "kindergarten")
_DELIVERY = (("in_person", 0.75), ("online", 0.1), ("mass_media", 0.1), ("other", 0.05))


@dataclass(slots=True)
class _Site:
    """A demo hazard (or region) accidents and sessions are placed by."""

    hazard_id: str | None
    geom: Any  # prepared polygonal shapely geometry
    centre: tuple[float, float]
    region: str | None
    categories: tuple[str, ...]
    organisation: str | None
    reported_on: date | None
    activities: list[tuple[str, str, date, date]]  # (id, organisation, first day, last day)


def _pick(rng: np.random.Generator, pairs: tuple[tuple[str, float], ...]) -> str:
    p = np.array([w for _, w in pairs])
    return pairs[int(rng.choice(len(pairs), p=p / p.sum()))][0]


def _sites(store: Store, last_day: date) -> list[_Site]:
    """The store's hazards, with the survey and clearance activities on them; or, in a store
    without hazards, the demo regions."""
    acts: dict[str, list[tuple[str, str, date, date]]] = {}
    try:
        activities = list(store.list("activities"))
    except Exception:  # a store without the kind: no activities to link
        activities = []
    for a in activities:
        p = a.properties
        if p.get("activity_type") not in ("technical_survey", "clearance"):
            continue
        if p.get("status") not in ("ongoing", "completed") or not p.get("started_on"):
            continue
        lo = date.fromisoformat(str(p["started_on"]))
        hi = date.fromisoformat(str(p["completed_on"])) if p.get("completed_on") else last_day
        acts.setdefault(str(p["hazard_id"]), []).append(
            (a.id, str(p.get("organisation") or DEMO_ORGANISATIONS[0]), lo, min(hi, last_day))
        )
    sites = []
    # in source order (the ids are made at import): the same demo gives the same sites
    for h in sorted(store.list("hazards"), key=lambda r: (str(r.source_id), r.id)):
        if h.geometry is None or h.geometry.is_empty:
            continue
        g = h.geometry
        shapely.prepare(g)
        rp = g.representative_point()
        p = h.properties
        cats = p.get("device_categories") or ()
        if isinstance(cats, str):
            cats = tuple(c for c in cats.split(",") if c)
        sites.append(
            _Site(
                hazard_id=h.id,
                geom=g,
                centre=(float(rp.x), float(rp.y)),
                region=p.get("admin_area"),
                categories=tuple(cats),
                organisation=p.get("organisation"),
                reported_on=date.fromisoformat(str(p["reported_on"]))
                if p.get("reported_on")
                else None,
                activities=sorted(acts.get(h.id, []), key=lambda a: (a[2], a[3], a[1], a[0])),
            )
        )
    if sites:
        return sites
    for name, g in sorted(east_shapes().items()):
        rp = g.representative_point()
        sites.append(_Site(None, g, (float(rp.x), float(rp.y)), name, (), None, None, []))
    return sites


def _near(rng: np.random.Generator, site: _Site, lo_m: float, hi_m: float) -> tuple[float, float]:
    """A point lo_m-hi_m metres from the site's centre, in the same region when known."""
    regions = east_shapes()
    region = regions.get(site.region or "")
    for _ in range(50):
        dist = rng.uniform(lo_m, hi_m)
        ang = rng.uniform(0, 2 * math.pi)
        lon, lat = offset(*site.centre, dist * math.cos(ang), dist * math.sin(ang))
        lon, lat = round(lon, 6), round(lat, 6)
        if region is None or shapely.contains_xy(region, lon, lat):
            return lon, lat
    return site.centre


def _category_and_type(rng: np.random.Generator, site: _Site) -> tuple[str, str | None]:
    cats = [c for c in site.categories if c in CATEGORIES] or ["uxo", "ap_blast", "at", "other"]
    cat = str(cats[int(rng.integers(len(cats)))])
    codes = sorted(d.code for d in CATALOGUE if d.category == cat)
    code = codes[int(rng.integers(len(codes)))] if codes and rng.random() < 0.6 else None
    return cat, code


def _feature(fid: str, props: dict[str, Any], point: tuple[float, float] | None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "properties": props,
        "geometry": None if point is None else {"type": "Point", "coordinates": list(point)},
    }


def _accidents(
    rng: np.random.Generator, sites: list[_Site], n: int, last_day: date
) -> list[dict[str, Any]]:
    out = []
    with_work = [s for s in sites if s.activities]
    # a quarter demining accidents, the rest civilian, shuffled: every demo has both
    types = [True] * max(1, round(0.25 * n)) + [False] * max(0, n - max(1, round(0.25 * n)))
    rng.shuffle(types)
    for i, demining in enumerate(types[:n], start=1):
        if demining and with_work:
            site = with_work[int(rng.integers(len(with_work)))]
            act_id, org, lo, hi = site.activities[int(rng.integers(len(site.activities)))]
        else:
            site = sites[int(rng.integers(len(sites)))]
            act_id, org = None, site.organisation or DEMO_ORGANISATIONS[0]
            lo = max(_FIRST_DAY, site.reported_on or _FIRST_DAY) if demining else _FIRST_DAY
            hi = min(_LAST_DAY, last_day)
        day = day_between(rng, lo, max(lo, hi))
        if demining or rng.random() < 0.4:  # civilian: inside or around the hazard
            point = point_in(rng, site.geom)
        else:
            point = _near(rng, site, 50.0, 1500.0)
        cat, code = _category_and_type(rng, site)
        kind = "demining" if demining else "civilian"
        what = "clearance" if demining else _pick(rng, _CIVILIAN_ACTIVITIES)
        props: dict[str, Any] = {
            "occurred_at": format_datetime(moment(rng, day, 7, 19)),
            "accident_type": kind,
            "device_category": cat,
            "organisation": org if demining else "Demo Police Unit",
            "admin_area": site.region,
            "description": _ACCIDENT_TEXT[kind].format(what=what),
            "investigation": "SYNTHETIC: investigation report on file" if demining else None,
            "notes": _NOTES,
            "synthetic": True,
            "_activity": what,  # dropped below: what the victims were doing
        }
        if code is not None:
            props["device_type"] = code
        if site.hazard_id is not None:
            props["hazard_id"] = site.hazard_id
        if act_id is not None:
            props["activity_id"] = act_id
        out.append(_feature(f"demo-a-{i:03d}", props, point))
    return out


def _victims(rng: np.random.Generator, accidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    n = 0
    for a in accidents:
        demining = a["properties"]["accident_type"] == "demining"
        what = a["properties"].pop("_activity")
        k = 1 + int(rng.poisson(0.6 if demining else 0.8))
        for _ in range(min(k, 5)):
            n += 1
            if demining:
                sex = "male" if rng.random() < 0.85 else "female"
                age = int(rng.integers(21, 56))
                vtype, activity = "deminer", "demining"
            else:
                r = rng.random()
                sex = "male" if r < 0.7 else ("female" if r < 0.95 else "unknown")
                activity = what
                lo, hi = (6, 16) if what == "playing" else (14, 80)
                age = int(rng.integers(lo, hi + 1))
                vtype = "civilian"
            props: dict[str, Any] = {
                "accident_source_id": a["id"],
                "name": f"SYNTHETIC person {n:03d}",
                "sex": sex,
                "outcome": "killed" if rng.random() < 0.3 else "injured",
                "victim_type": vtype,
                "activity_at_time": activity,
                "injuries": str(rng.choice(_INJURIES)),
                "contact": "SYNTHETIC",
                "assistance": str(rng.choice(_ASSISTANCE)),
                "notes": _NOTES,
                "synthetic": True,
            }
            if rng.random() < 0.95:  # an age is sometimes not known
                props["age"] = age
            out.append(_feature(f"demo-v-{n:03d}", props, None))
    return out


def _eore(
    rng: np.random.Generator, sites: list[_Site], n: int, last_day: date
) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        site = sites[int(rng.integers(len(sites)))]
        point = _near(rng, site, 500.0, 5000.0)
        delivery = _pick(rng, _DELIVERY)
        scale = 40 if delivery == "in_person" else 120
        kids = rng.random() < 0.6  # a school session: mostly children
        props: dict[str, Any] = {
            "held_on": day_between(rng, _FIRST_DAY, min(_LAST_DAY, last_day)).isoformat(),
            "organisation": EORE_ORGANISATIONS[int(rng.integers(len(EORE_ORGANISATIONS)))],
            "place": f"SYNTHETIC village {i:03d}, {_PLACES[int(rng.integers(len(_PLACES)))]}",
            "delivery": delivery,
            "girls": int(rng.poisson(scale * (0.45 if kids else 0.05))),
            "boys": int(rng.poisson(scale * (0.45 if kids else 0.05))),
            "women": int(rng.poisson(scale * (0.1 if kids else 0.5))),
            "men": int(rng.poisson(scale * (0.05 if kids else 0.35))),
            "admin_area": site.region,
            "notes": _NOTES,
            "synthetic": True,
        }
        out.append(_feature(f"demo-s-{i:03d}", props, point))
    return out


def demo_casualties(
    store: Store,
    seed: int,
    *,
    n_accidents: int = 24,
    n_sessions: int = 40,
    today: date | None = None,
) -> dict[str, Any]:
    """Import SYNTHETIC accidents, victims and EORE sessions into ``store``.

    Call it after the demo hazards (and activities, if any) are imported. Returns
    ``{"counts": {"accidents": n, "victims": n, "eore_sessions": n}, "synthetic": True}``.
    """
    from demine.services.register import LINKS, ImportOptions, import_file

    today = today or datetime.now(UTC).date()
    last_day = today - timedelta(days=1)
    rng = np.random.default_rng([seed, 1060])
    sites = _sites(store, last_day)
    accidents = _accidents(rng, sites, n_accidents, last_day)
    victims = _victims(rng, accidents)
    sessions = _eore(rng, sites, n_sessions, last_day)
    counts: dict[str, int] = {}

    def load(kind: str, features: list[dict[str, Any]], tmp: Path) -> list[str]:
        f = tmp / f"{kind}.geojson"
        f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
        rep = import_file(store, f, ImportOptions(kind=kind, actor=_ACTOR, reason=_REASON))
        counts[kind] = rep.imported
        return rep.ids

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        load("accidents", accidents, tmp)
        if "accident_source_id" not in LINKS:  # link here what the importer cannot
            by_source = {r.source_id: r.id for r in store.list("accidents")}
            for v in victims:
                p = v["properties"]
                p["accident_id"] = by_source[p.pop("accident_source_id")]
        load("victims", victims, tmp)
        load("eore_sessions", sessions, tmp)
    return {"counts": counts, "synthetic": True, "notice": SYNTHETIC_NOTICE}
