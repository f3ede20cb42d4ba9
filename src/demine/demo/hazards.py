"""The SYNTHETIC demo's hazards and their records: placing a hazard in its region, its
emplacement records, its feature (dates, status, evidence) and its finds, and the one cleared
field the demo's risk learning needs. :func:`demine.demo.data.build_demo` drives them; the
coherence they keep is listed in that module's docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from demine.demo.sampling import (
    day_between,
    end_of,
    geojson_geometry,
    moment,
    moment_between,
    offset,
    point_in,
    star_shape,
)
from demine.model.devices import CATEGORIES, DeviceType, Persistence, device_type
from demine.model.schema import format_datetime
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

__all__ = [
    "DEMO_ORGANISATIONS",
    "Emplacement",
    "Hazard",
    "cleared_field",
    "emplacement_features",
    "hazard_feature",
    "place_hazard",
]

_NOTES = f"{SYNTHETIC_NOTICE} {SYNTHETIC_NOTICE_UK}"

DEMO_ORGANISATIONS = ("Demo Operator A", "Demo Operator B", "Demo Operator C", "Demo Operator D")

_RECORD_SOURCE = "SYNTHETIC demo record"


_START_OF_WAR = date(2022, 2, 24)
_LAST_REPORT = date(2025, 12, 31)  # hazards with no recent laying are reported 2022-2025
_LAST_HAND_LAYING = date(2024, 12, 31)

_MIN_HA, _MAX_HA = 0.55, 190.0  # kept inside 0.5-200 ha with a margin for the approximation

_SHA_EVIDENCE = (
    "SYNTHETIC: indirect evidence – residents' reports of explosions",
    "SYNTHETIC: indirect evidence – fighting positions nearby",
    "SYNTHETIC: indirect evidence – livestock accident reported",
)
_CHA_EVIDENCE = (
    "SYNTHETIC: direct evidence – devices found during technical survey",
    "SYNTHETIC: direct evidence – devices seen on the surface",
)


@dataclass(slots=True)
class Hazard:
    """A demo hazard while it is generated (its feature is :func:`hazard_feature`'s)."""

    sid: str
    region: str
    geom: Any  # shapely Polygon
    centre: tuple[float, float]
    area_m2: float
    scenario: str  # "remote", "hand" or "unrecorded"
    codes: tuple[str, ...]
    organisation: str
    cha: bool
    emplacements: list[Emplacement] = field(default_factory=list)


@dataclass(slots=True)
class Emplacement:
    """An emplacement record of a demo hazard, as its finds need it."""

    sid: str
    code: str
    laid_at: datetime
    geom: Any  # shapely Polygon or Point


def cleared_field(
    rng: np.random.Generator,
    regions: dict[str, Any],
    hazards: list[Hazard],
    placed: list[Any],
    today: date,
    width: int,
    out_h: list[dict[str, Any]],
    out_e: list[dict[str, Any]],
    out_f: list[dict[str, Any]],
) -> None:
    """One cleared (closed) CHA with a remotely laid `apii-limit` field and its clearance
    finds, so that the demo's `demine risk learn` has evidence to learn from: 300 recorded,
    cleared 200-260 days after laying (past the battery life), finding 1 still live,
    18 deactivated but intact and 190 self-destructed remnants (the rest not found)."""
    region = "Харківська область"
    if region not in regions:
        region = next(iter(regions))
    geom, centre, area = place_hazard(rng, regions[region], hazards, placed, region)
    placed.append(geom)
    num = f"{len(hazards) + 1:0{width}d}"
    sid = f"demo-h-{num}"
    laid = datetime.combine(today - timedelta(days=420), time(3), tzinfo=UTC)
    cleared_on = today - timedelta(days=150)
    hazard_props: dict[str, Any] = {
        "name": f"SYNTHETIC hazard {num} (cleared)",
        "reference": f"DEMO-{num}",
        "hazard_type": "CHA",
        "status": "closed",
        "closed_on": cleared_on.isoformat(),
        "device_categories": device_type("apii-limit").category,
        "organisation": DEMO_ORGANISATIONS[0],
        "reported_on": (laid.date() + timedelta(days=3)).isoformat(),
        "surveyed_on": (laid.date() + timedelta(days=40)).isoformat(),
        "evidence": "SYNTHETIC: remote emplacement observed; cleared",
        "admin_area": region,
        "notes": _NOTES,
        "synthetic": True,
    }
    out_h.append(
        {
            "type": "Feature",
            "id": sid,
            "properties": hazard_props,
            "geometry": geojson_geometry(geom),
        }
    )
    esid = f"demo-e-{num}-1"
    out_e.append(
        {
            "type": "Feature",
            "id": esid,
            "properties": {
                "device_type": "apii-limit",
                "quantity": 300,
                "quantity_min": 250,
                "quantity_max": 400,
                "emplacing_method": "remote",
                "laid_at": format_datetime(laid),
                "self_destruct_days": 30.0,
                "fuse_life_days": 120.0,
                "record_source": _RECORD_SOURCE,
                "confidence": "medium",
                "notes": _NOTES,
                "hazard_source_id": sid,
                "synthetic": True,
            },
            "geometry": {"type": "Point", "coordinates": [centre[0], centre[1]]},
        }
    )
    shapely.prepare(geom)
    k = 0
    for state, n in (("live", 1), ("deactivated_intact", 18), ("self_destructed_remnant", 190)):
        for _ in range(n):
            k += 1
            lon, lat = point_in(rng, geom)
            found = laid + timedelta(days=float(rng.uniform(200, 260)))
            out_f.append(
                {
                    "type": "Feature",
                    "id": f"demo-f-{num}-{k:03d}",
                    "properties": {
                        "device_type": "apii-limit",
                        "state": state,
                        "found_at": format_datetime(found.replace(microsecond=0)),
                        "depth_cm": 0.0,
                        "organisation": DEMO_ORGANISATIONS[0],
                        "notes": _NOTES,
                        "hazard_source_id": sid,
                        "emplacement_source_id": esid,
                        "synthetic": True,
                    },
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                }
            )


def place_hazard(
    rng: np.random.Generator,
    region_geom: Any,
    hazards: list[Hazard],
    placed: list[Any],
    region: str,
) -> tuple[Any, tuple[float, float], float]:
    """A hazard polygon wholly inside the region and clear of the hazards already placed."""
    same_region = [h for h in hazards if h.region == region]
    placed_arr = np.array(placed, dtype=object)
    for _attempt in range(200):
        area = math.exp(rng.uniform(math.log(_MIN_HA), math.log(_MAX_HA))) * 10_000.0
        if same_region and rng.random() < 0.4:  # contamination clusters: near another hazard
            near = same_region[int(rng.integers(len(same_region)))]
            dist = rng.uniform(300.0, 3000.0) + math.sqrt(area)
            ang = rng.uniform(0, 2 * math.pi)
            lon, lat = offset(*near.centre, dist * math.cos(ang), dist * math.sin(ang))
        else:
            lon, lat = point_in(rng, region_geom)
        star = star_shape(rng, area, int(rng.integers(8, 31)))
        poly = Polygon(star.ring(lon, lat))
        if not (poly.is_valid and poly.exterior.is_ccw and region_geom.contains(poly)):
            continue
        if placed_arr.size and bool(shapely.intersects(poly, placed_arr).any()):
            continue
        return poly, (lon, lat), area
    raise RuntimeError(f"could not place a demo hazard in {region}")  # pragma: no cover


def emplacement_features(rng: np.random.Generator, h: Hazard, today: date) -> list[dict[str, Any]]:
    """1-3 emplacement records inside hazard ``h`` (none for an unrecorded hazard)."""
    if h.scenario == "unrecorded":
        return []
    out: list[dict[str, Any]] = []
    remote = h.scenario == "remote"
    base = today
    if not remote:  # one laying period per hazard, records within two months of it
        hi = min(_LAST_HAND_LAYING, today - timedelta(days=2))
        base = day_between(rng, _START_OF_WAR + timedelta(days=60), hi)
    hazard_geom = h.geom
    shapely.prepare(hazard_geom)
    # The hazard is star-shaped about its centre: centre the perimeters in its inner half
    inner = shapely.affinity.scale(hazard_geom, 0.5, 0.5, origin=shapely.Point(h.centre))
    shapely.prepare(inner)
    for j in range(1, int(rng.integers(1, 4)) + 1):
        code = h.codes[(j - 1) % len(h.codes)]
        dev = device_type(code)
        if remote:
            day = today - timedelta(days=int(rng.integers(2, 201)))
        else:
            day = base - timedelta(days=int(rng.integers(0, 61)))
        laid_at = moment(rng, day, 4 if not remote else 0, 22 if not remote else 24)
        star = star_shape(rng, h.area_m2 * rng.uniform(0.03, 0.2), int(rng.integers(8, 16)))
        geom: Any = None
        if rng.random() < 0.7:
            for _attempt in range(30):
                lon, lat = point_in(rng, inner)
                poly = Polygon(star.ring(lon, lat))
                if poly.is_valid and hazard_geom.contains(poly):
                    geom = poly
                    break
        if geom is None:  # a reference point with estimated dimensions
            lon, lat = point_in(rng, hazard_geom)
            geom = shapely.Point(lon, lat)
        est_area = math.pi / 4 * star.length_m * star.width_m
        density = math.exp(rng.uniform(math.log(0.0005), math.log(0.01)))
        if dev.category == "at":
            density /= 4
        q = int(min(400, max(1, round(est_area * density))))
        q_min = max(0, math.floor(q * rng.uniform(0.5, 0.9)))
        q_max = max(q, math.ceil(q * rng.uniform(1.1, 1.8)))
        sid = f"{h.sid.replace('-h-', '-e-')}-{j}"
        props: dict[str, Any] = {
            "device_type": code,
            "quantity": q,
            "quantity_min": q_min,
            "quantity_max": q_max,
            "emplacing_method": "remote" if remote else "hand",
            "laid_at": format_datetime(laid_at),
            "anti_handling": bool(rng.random() < 0.1),
            "length_m": round(star.length_m),
            "width_m": round(star.width_m),
            "reference_points": (
                f"SYNTHETIC: reference point {lat:.5f} N, {lon:.5f} E; "
                f"long axis bearing {star.bearing_deg:.0f} degrees"
            ),
            "record_source": _RECORD_SOURCE,
            "confidence": str(
                rng.choice(["medium", "low", "low"] if remote else ["high", "high", "medium"])
            ),
            "notes": _NOTES,
            "hazard_source_id": h.sid,
            "synthetic": True,
        }
        if dev.sd_days is not None:
            props["self_destruct_days"] = dev.sd_days
        if dev.battery_days is not None:
            props["fuse_life_days"] = dev.battery_days
        out.append(
            {"type": "Feature", "id": sid, "properties": props, "geometry": geojson_geometry(geom)}
        )
        h.emplacements.append(Emplacement(sid, code, laid_at, geom))
    return out


def hazard_feature(
    rng: np.random.Generator, h: Hazard, last_day: date, finds_out: list[dict[str, Any]]
) -> dict[str, Any]:
    """The hazard's feature; appends its finds (CHAs only) to ``finds_out``."""
    if h.emplacements:
        first = min(e.laid_at for e in h.emplacements).date()
        lag = 10 if h.scenario == "remote" else 400
        hi = last_day if h.scenario == "remote" else min(_LAST_REPORT, last_day)
        reported = min(first + timedelta(days=int(rng.integers(0, lag + 1))), max(hi, first))
    else:
        reported = day_between(rng, date(2022, 3, 1), min(_LAST_REPORT, last_day))
    surveyed: date | None = None
    if h.cha or rng.random() < 0.5:
        surveyed = min(reported + timedelta(days=int(rng.integers(0, 121))), last_day)
        surveyed = max(surveyed, reported)
    latest = max([reported, surveyed or reported, *(e.laid_at.date() for e in h.emplacements)])
    closed: date | None = None
    if h.scenario != "remote" and rng.random() < 0.15 and latest + timedelta(days=60) <= last_day:
        closed = day_between(rng, latest + timedelta(days=60), last_day)

    categories = {device_type(c).category for c in h.codes}
    num = h.sid.rsplit("-", 1)[1]
    props: dict[str, Any] = {
        "name": f"SYNTHETIC hazard {num}",
        "reference": f"DEMO-{num}",
        "hazard_type": "CHA" if h.cha else "SHA",
        "status": "closed" if closed else "open",
        "device_categories": ",".join(c for c in CATEGORIES if c in categories),
        "organisation": h.organisation,
        "reported_on": reported.isoformat(),
        "evidence": str(rng.choice(_CHA_EVIDENCE if h.cha else _SHA_EVIDENCE)),
        "admin_area": h.region,
        "notes": _NOTES,
        "synthetic": True,
    }
    if surveyed is not None:
        props["surveyed_on"] = surveyed.isoformat()
    if closed is not None:
        props["closed_on"] = closed.isoformat()

    if h.cha:
        earliest = datetime.combine(surveyed or reported, time(6), tzinfo=UTC)
        end = end_of(closed or last_day)
        for k in range(1, int(rng.integers(1, 6)) + 1):
            finds_out.append(_find(rng, h, k, earliest, end))
    return {
        "type": "Feature",
        "id": h.sid,
        "properties": props,
        "geometry": geojson_geometry(h.geom),
    }


def _state(rng: np.random.Generator, dev: DeviceType, days: float | None) -> str:
    """A plausible state for a find of ``dev`` found ``days`` after laying (None: unknown)."""
    if dev.persistence is Persistence.PERSISTENT or days is None or dev.sd_days is None:
        return "live" if rng.random() < 0.85 else "unknown"
    if days < dev.sd_days:
        return "live" if rng.random() < 0.85 else "unknown"
    r = rng.random()
    if dev.battery_days is not None and days >= dev.battery_days:
        # past self-destruct and battery life: remnants, or intact but deactivated
        return (
            "self_destructed_remnant"
            if r < 0.75
            else "deactivated_intact"
            if r < 0.96
            else "unknown"
        )
    return "self_destructed_remnant" if r < 0.8 else "live" if r < 0.95 else "unknown"


def _find(
    rng: np.random.Generator, h: Hazard, k: int, earliest: datetime, end: datetime
) -> dict[str, Any]:
    emp = h.emplacements[int(rng.integers(len(h.emplacements)))] if h.emplacements else None
    code = emp.code if emp else h.codes[int(rng.integers(len(h.codes)))]
    dev = device_type(code)
    lo = earliest
    if emp is not None:
        lo = max(lo, emp.laid_at + timedelta(hours=2))
    found_at = moment_between(rng, lo, max(lo, end)).replace(microsecond=0)
    area = emp.geom if emp is not None and emp.geom.geom_type == "Polygon" else h.geom
    shapely.prepare(area)
    lon, lat = point_in(rng, area)
    days = (found_at - emp.laid_at).total_seconds() / 86400 if emp else None
    if emp is not None and h.scenario == "remote":
        depth = 0.0
    elif dev.category == "at":
        depth = float(rng.integers(5, 26))
    elif dev.category in ("uxo", "cluster_submunition", "ied"):
        depth = float(rng.integers(0, 41))
    else:
        depth = float(rng.integers(0, 11))
    props: dict[str, Any] = {
        "device_type": code,
        "state": _state(rng, dev, days),
        "found_at": format_datetime(found_at),
        "depth_cm": depth,
        "organisation": h.organisation,
        "notes": _NOTES,
        "hazard_source_id": h.sid,
        "synthetic": True,
    }
    if emp is not None:
        props["emplacement_source_id"] = emp.sid
    sid = f"{h.sid.replace('-h-', '-f-')}-{k:02d}"
    return {
        "type": "Feature",
        "id": sid,
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }
