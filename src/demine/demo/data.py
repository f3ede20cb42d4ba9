"""Synthetic demo data: hazards, emplacement records, finds and EO reports in eastern Ukraine.

No hazard data for Ukraine is public, so everything this module makes is **generated at random**
and labelled as synthetic in its properties (``notes`` carries :data:`SYNTHETIC_NOTICE` and
:data:`SYNTHETIC_NOTICE_UK`, ``synthetic`` is ``True``). It must never be mistaken for real
hazard information.

The module is pure: :func:`build_demo` reads only the packaged regions file
(``demine/data/ukraine_regions.geojson``, CC BY 4.0, see ``demine/data/NOTICE.md``) and returns
GeoJSON Feature dicts (CRS84, longitude first). It stores nothing. The same ``seed`` and
``today`` give the same features.

What the generator keeps coherent, so that the demo exercises the register's rules:

* hazards lie wholly inside their region (``admin_area``), do not overlap one another, are simple,
  valid, counter-clockwise polygons of 0.5-200 ha with 8-30 vertices;
* emplacement records lie inside their hazard and name it in ``hazard_source_id`` (the importer
  links by source id); non-persistent types were laid remotely within the last 2-200 days,
  persistent ones by hand in 2022-2024; quantity_min <= quantity <= quantity_max;
* a hazard is reported on or after its first laying; finds come only from CHAs (direct evidence),
  after the laying and the report, and before the closure of a closed hazard;
* the state of a find follows its device type's persistence class and the time since laying
  (remnants only after the self-destruct period, deactivated-intact only after the battery life).

Areas are sized in a local tangent-plane approximation (error well under 0.1 % at these sizes);
the geodesic area a store computes will differ from the target by that much.

This module holds :func:`build_demo` (the scenarios, the order of the draws) and the EO
reports; the hazards and their records (emplacements, finds, the cleared field) are
:mod:`demine.demo.hazards`'s, and the random places and times, in the demo's regions,
:mod:`demine.demo.sampling`'s.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import shapely

from demine.demo.hazards import (
    DEMO_ORGANISATIONS,
    Hazard,
    cleared_field,
    emplacement_features,
    hazard_feature,
    place_hazard,
)
from demine.demo.sampling import EAST_REGIONS, east_shapes, moment, offset, point_in
from demine.model.schema import format_datetime
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

__all__ = [
    "DEMO_ORGANISATIONS",
    "EAST_REGIONS",
    "build_demo",
]

_NOTES = f"{SYNTHETIC_NOTICE} {SYNTHETIC_NOTICE_UK}"


# Device types per scenario (catalogue codes, see demine.model.devices).
_REMOTE = ("apii-limit", "ap-sd-only")  # non-persistent, remotely emplaced
_HAND = ("ap-blast-persistent", "ap-frag-persistent", "at-persistent")  # persistent, by hand
_UNRECORDED = ("uxo", "submunition", "ap-blast-persistent", "at-persistent", "ied")

_EO_TEXTS = (
    (
        "Metal object partly buried at the edge of a field",
        "Металевий предмет, частково закопаний на краю поля",
    ),
    (
        "Unknown object on the road verge; did not approach",
        "Невідомий предмет на узбіччі дороги; не наближався",
    ),
    ("Tail fin of a projectile in an orchard", "Хвостовик снаряда в саду"),
    ("Suspicious object by a forest belt", "Підозрілий предмет біля лісосмуги"),
    ("Object in a ditch next to the village road", "Предмет у канаві біля сільської дороги"),
    ("Small green plastic object in the grass", "Невеликий зелений пластиковий предмет у траві"),
    ("Crater and metal fragments in a vegetable garden", "Вирва та металеві уламки на городі"),
    (
        "Wires sticking out of the ground near a dirt track",
        "Дроти стирчать із землі біля ґрунтової дороги",
    ),
)


def build_demo(
    seed: int = 7,
    *,
    n_hazards: int = 60,
    n_reports: int = 30,
    today: date | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Generate a synthetic demo register for eastern Ukraine.

    Returns GeoJSON Feature dicts by kind: ``hazards``, ``emplacements``, ``finds`` and
    ``eo_reports``. Feature ``id`` is a stable source id (``demo-h-017``, ``demo-e-017-1``,
    ``demo-f-017-02``, ``demo-r-003``); emplacements and finds name their hazard in the extra
    property ``hazard_source_id`` (and finds their emplacement in ``emplacement_source_id``),
    for the importer to link. Every record is labelled synthetic.

    ``today`` (default: the current UTC date) anchors all dates: every date and time falls
    before ``today`` (on the day before at the latest). The same ``seed`` and ``today`` give the
    same result.
    """
    if n_hazards < 0 or n_reports < 0:
        raise ValueError("n_hazards and n_reports must not be negative")
    today = today or datetime.now(UTC).date()
    last_day = today - timedelta(days=1)
    rng = np.random.default_rng(seed)
    regions = east_shapes()
    names = list(EAST_REGIONS)
    weights = np.array([EAST_REGIONS[n] for n in names])
    weights = weights / weights.sum()
    width = max(3, len(str(n_hazards)))

    # Scenarios in fixed proportions, shuffled: every demo of 5 or more has each of them.
    # from 5 hazards on, the last is a cleared field with clearance finds (see cleared_field)
    n_random = n_hazards - 1 if n_hazards >= 5 else n_hazards
    n_remote = round(0.2 * n_random)
    n_hand = round(0.3 * n_random)
    scenarios = ["remote"] * n_remote + ["hand"] * n_hand
    scenarios += ["unrecorded"] * (n_random - len(scenarios))
    rng.shuffle(scenarios)

    hazards: list[Hazard] = []
    placed: list[Any] = []
    for i, scenario in enumerate(scenarios, start=1):
        region = names[int(rng.choice(len(names), p=weights))]
        geom, centre, area = place_hazard(rng, regions[region], hazards, placed, region)
        pool = {"remote": _REMOTE, "hand": _HAND, "unrecorded": _UNRECORDED}[scenario]
        k = int(rng.integers(1, min(3, len(pool)) + 1))
        codes = tuple(sorted(rng.choice(pool, size=k, replace=False).tolist()))
        cha = bool(rng.random() < (0.65 if scenario != "unrecorded" else 0.4))
        hazards.append(
            Hazard(
                sid=f"demo-h-{i:0{width}d}",
                region=region,
                geom=geom,
                centre=centre,
                area_m2=area,
                scenario=scenario,
                codes=codes,
                organisation=DEMO_ORGANISATIONS[int(rng.integers(len(DEMO_ORGANISATIONS)))],
                cha=cha,
            )
        )
        placed.append(geom)

    out_h: list[dict[str, Any]] = []
    out_e: list[dict[str, Any]] = []
    out_f: list[dict[str, Any]] = []
    for h in hazards:
        out_e.extend(emplacement_features(rng, h, today))
        out_h.append(hazard_feature(rng, h, last_day, out_f))
    out_r = _eo_reports(rng, n_reports, hazards, regions, names, weights, last_day)
    if n_random < n_hazards:
        cleared_field(rng, regions, hazards, placed, today, width, out_h, out_e, out_f)
    return {"hazards": out_h, "emplacements": out_e, "finds": out_f, "eo_reports": out_r}


def _eo_reports(
    rng: np.random.Generator,
    n: int,
    hazards: list[Hazard],
    regions: dict[str, Any],
    names: list[str],
    weights: np.ndarray[Any, np.dtype[np.float64]],
    last_day: date,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    width = max(3, len(str(n)))
    for i in range(1, n + 1):
        lon = lat = math.nan
        if hazards and rng.random() < 0.6:  # civilians report near contaminated land
            h = hazards[int(rng.integers(len(hazards)))]
            region_geom = regions[h.region]
            for _attempt in range(50):
                dist = rng.uniform(100.0, 2500.0)
                ang = rng.uniform(0, 2 * math.pi)
                lon, lat = offset(*h.centre, dist * math.cos(ang), dist * math.sin(ang))
                lon, lat = round(lon, 6), round(lat, 6)
                if shapely.contains_xy(region_geom, lon, lat):
                    break
            else:
                lon = math.nan
        if math.isnan(lon):
            region_geom = regions[names[int(rng.choice(len(names), p=weights))]]
            lon, lat = point_in(rng, region_geom)
        day = last_day - timedelta(days=int(rng.integers(0, 365)))
        en, uk = _EO_TEXTS[int(rng.integers(len(_EO_TEXTS)))]
        props: dict[str, Any] = {
            "reported_at": format_datetime(moment(rng, day, 6, 21)),
            "description": f"SYNTHETIC – {en} / {uk}",
            "reporter_name": f"Demo Reporter {i}",
            "reporter_contact": f"+380 00 000 {i:04d}",
            "status": "verified" if rng.random() < 0.35 else "new",
            "public": bool(rng.random() < 0.85),
            "notes": _NOTES,
            "synthetic": True,
        }
        out.append(
            {
                "type": "Feature",
                "id": f"demo-r-{i:0{width}d}",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )
    return out
