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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon, shape

from demine.io.regions import REGIONS_FILE, load_regions
from demine.model.devices import CATEGORIES, DeviceType, Persistence, device_type
from demine.model.schema import format_datetime
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

__all__ = [
    "DEMO_ORGANISATIONS",
    "EAST_REGIONS",
    "build_demo",
]

_NOTES = f"{SYNTHETIC_NOTICE} {SYNTHETIC_NOTICE_UK}"


#: Regions (``region`` property of the packaged file) where demo hazards are placed, with the
#: relative weight of each. The weights are arbitrary; they only spread the demo.
EAST_REGIONS: dict[str, float] = {
    "Донецька область": 0.20,
    "Харківська область": 0.20,
    "Запорізька область": 0.12,
    "Херсонська область": 0.12,
    "Луганська область": 0.10,
    "Дніпропетровська область": 0.10,
    "Сумська область": 0.08,
    "Чернігівська область": 0.08,
}

DEMO_ORGANISATIONS = ("Demo Operator A", "Demo Operator B", "Demo Operator C", "Demo Operator D")

_RECORD_SOURCE = "SYNTHETIC demo record"

# Device types per scenario (catalogue codes, see demine.model.devices).
_REMOTE = ("apii-limit", "ap-sd-only")  # non-persistent, remotely emplaced
_HAND = ("ap-blast-persistent", "ap-frag-persistent", "at-persistent")  # persistent, by hand
_UNRECORDED = ("uxo", "submunition", "ap-blast-persistent", "at-persistent", "ied")

_START_OF_WAR = date(2022, 2, 24)
_LAST_REPORT = date(2025, 12, 31)  # hazards with no recent laying are reported 2022-2025
_LAST_HAND_LAYING = date(2024, 12, 31)

_MIN_HA, _MAX_HA = 0.55, 190.0  # kept inside 0.5-200 ha with a margin for the approximation

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

_SHA_EVIDENCE = (
    "SYNTHETIC: indirect evidence – residents' reports of explosions",
    "SYNTHETIC: indirect evidence – fighting positions nearby",
    "SYNTHETIC: indirect evidence – livestock accident reported",
)
_CHA_EVIDENCE = (
    "SYNTHETIC: direct evidence – devices found during technical survey",
    "SYNTHETIC: direct evidence – devices seen on the surface",
)


# --- regions ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _east_shapes() -> dict[str, Any]:
    """Prepared shapely geometries of :data:`EAST_REGIONS`, by name (cached; never mutated)."""
    out: dict[str, Any] = {}
    for f in load_regions():
        name = f["properties"]["region"]
        if name in EAST_REGIONS:
            g = shape(f["geometry"])
            if not g.is_valid:  # the packaged file is repaired; stay safe with another copy
                g = shapely.make_valid(g)
            shapely.prepare(g)
            out[name] = g
    missing = set(EAST_REGIONS) - set(out)
    if missing:  # pragma: no cover - the packaged file holds them all
        raise RuntimeError(f"regions missing from {REGIONS_FILE}: {sorted(missing)}")
    return out


# --- geometry helpers -------------------------------------------------------------------------


def _m_per_deg(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude on WGS 84 at this latitude."""
    p = math.radians(lat)
    m_lat = 111132.954 - 559.822 * math.cos(2 * p) + 1.175 * math.cos(4 * p)
    m_lon = 111412.84 * math.cos(p) - 93.5 * math.cos(3 * p) + 0.118 * math.cos(5 * p)
    return m_lon, m_lat


def _offset(lon: float, lat: float, dx: float, dy: float) -> tuple[float, float]:
    m_lon, m_lat = _m_per_deg(lat)
    return lon + dx / m_lon, lat + dy / m_lat


@dataclass(frozen=True, slots=True)
class _Shape:
    """An irregular star-shaped ring around the origin, in metres (x east, y north)."""

    xy: np.ndarray[Any, np.dtype[np.float64]]  # (n, 2), counter-clockwise, not closed
    length_m: float  # extent along the long axis
    width_m: float  # extent across it
    bearing_deg: float  # bearing of the long axis, degrees from north, 0-180

    def ring(self, lon: float, lat: float) -> list[list[float]]:
        m_lon, m_lat = _m_per_deg(lat)
        lons = np.round(lon + self.xy[:, 0] / m_lon, 6)
        lats = np.round(lat + self.xy[:, 1] / m_lat, 6)
        coords = [[float(a), float(b)] for a, b in zip(lons, lats, strict=True)]
        coords.append(list(coords[0]))
        return coords


def _star(rng: np.random.Generator, area_m2: float, n: int) -> _Shape:
    """A simple polygon with ``n`` vertices and area ``area_m2``.

    The vertices have strictly increasing angles around the origin and positive radii, so the
    ring is star-shaped about the origin, hence simple, and counter-clockwise; stretching and
    rotating (positive determinant) keep both properties.
    """
    step = 2 * math.pi / n
    angles = step * (np.arange(n) + rng.uniform(-0.35, 0.35, n)) + rng.uniform(0, 2 * math.pi)
    noise = rng.normal(0.0, 1.0, n)
    smooth = (noise + np.roll(noise, 1) + np.roll(noise, -1)) / 3.0
    radii = np.exp(0.45 * smooth)
    stretch = float(rng.uniform(1.0, 2.5))
    x = radii * np.cos(angles) * stretch
    y = radii * np.sin(angles) / stretch
    a = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    k = math.sqrt(area_m2 / a)
    x, y = x * k, y * k
    theta = float(rng.uniform(0, math.pi))
    c, s = math.cos(theta), math.sin(theta)
    xy = np.column_stack((c * x - s * y, s * x + c * y))
    bearing = (90.0 - math.degrees(theta)) % 180.0
    return _Shape(xy, float(np.ptp(x)), float(np.ptp(y)), bearing)


def _point_in(rng: np.random.Generator, geom: Any) -> tuple[float, float]:
    """A uniform random point inside a (prepared) polygonal geometry."""
    x0, y0, x1, y1 = geom.bounds
    for _ in range(1000):
        xs = np.round(rng.uniform(x0, x1, 64), 6)
        ys = np.round(rng.uniform(y0, y1, 64), 6)
        inside = np.flatnonzero(shapely.contains_xy(geom, xs, ys))
        if inside.size:
            i = int(inside[0])
            return float(xs[i]), float(ys[i])
    raise RuntimeError("no random point found inside the geometry")  # pragma: no cover


def _geojson(geom: Any) -> dict[str, Any]:
    """GeoJSON geometry dict of a shapely Point or Polygon (no holes), coordinates as lists."""
    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [float(geom.x), float(geom.y)]}
    ring = [[float(x), float(y)] for x, y in geom.exterior.coords]
    return {"type": "Polygon", "coordinates": [ring]}


# --- time helpers -----------------------------------------------------------------------------


def _day_between(rng: np.random.Generator, lo: date, hi: date) -> date:
    if hi <= lo:
        return lo
    return lo + timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))


def _moment(
    rng: np.random.Generator, day: date, first_hour: int = 0, last_hour: int = 24
) -> datetime:
    seconds = int(rng.integers(first_hour * 3600, last_hour * 3600))
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=seconds)


def _moment_between(rng: np.random.Generator, lo: datetime, hi: datetime) -> datetime:
    span = max(0, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=int(rng.integers(0, span + 1)))


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


# --- the generator ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Hazard:
    sid: str
    region: str
    geom: Any  # shapely Polygon
    centre: tuple[float, float]
    area_m2: float
    scenario: str  # "remote", "hand" or "unrecorded"
    codes: tuple[str, ...]
    organisation: str
    cha: bool
    emplacements: list[_Emplacement] = field(default_factory=list)


@dataclass(slots=True)
class _Emplacement:
    sid: str
    code: str
    laid_at: datetime
    geom: Any  # shapely Polygon or Point


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
    regions = _east_shapes()
    names = list(EAST_REGIONS)
    weights = np.array([EAST_REGIONS[n] for n in names])
    weights = weights / weights.sum()
    width = max(3, len(str(n_hazards)))

    # Scenarios in fixed proportions, shuffled: every demo of 5 or more has each of them.
    # from 5 hazards on, the last is a cleared field with clearance finds (see _cleared_field)
    n_random = n_hazards - 1 if n_hazards >= 5 else n_hazards
    n_remote = round(0.2 * n_random)
    n_hand = round(0.3 * n_random)
    scenarios = ["remote"] * n_remote + ["hand"] * n_hand
    scenarios += ["unrecorded"] * (n_random - len(scenarios))
    rng.shuffle(scenarios)

    hazards: list[_Hazard] = []
    placed: list[Any] = []
    for i, scenario in enumerate(scenarios, start=1):
        region = names[int(rng.choice(len(names), p=weights))]
        geom, centre, area = _place_hazard(rng, regions[region], hazards, placed, region)
        pool = {"remote": _REMOTE, "hand": _HAND, "unrecorded": _UNRECORDED}[scenario]
        k = int(rng.integers(1, min(3, len(pool)) + 1))
        codes = tuple(sorted(rng.choice(pool, size=k, replace=False).tolist()))
        cha = bool(rng.random() < (0.65 if scenario != "unrecorded" else 0.4))
        hazards.append(
            _Hazard(
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
        out_e.extend(_emplacements(rng, h, today))
        out_h.append(_hazard_feature(rng, h, last_day, out_f))
    out_r = _eo_reports(rng, n_reports, hazards, regions, names, weights, last_day)
    if n_random < n_hazards:
        _cleared_field(rng, regions, hazards, placed, today, width, out_h, out_e, out_f)
    return {"hazards": out_h, "emplacements": out_e, "finds": out_f, "eo_reports": out_r}


def _cleared_field(
    rng: np.random.Generator,
    regions: dict[str, Any],
    hazards: list[_Hazard],
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
    geom, centre, area = _place_hazard(rng, regions[region], hazards, placed, region)
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
        {"type": "Feature", "id": sid, "properties": hazard_props, "geometry": _geojson(geom)}
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
            lon, lat = _point_in(rng, geom)
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


def _place_hazard(
    rng: np.random.Generator,
    region_geom: Any,
    hazards: list[_Hazard],
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
            lon, lat = _offset(*near.centre, dist * math.cos(ang), dist * math.sin(ang))
        else:
            lon, lat = _point_in(rng, region_geom)
        star = _star(rng, area, int(rng.integers(8, 31)))
        poly = Polygon(star.ring(lon, lat))
        if not (poly.is_valid and poly.exterior.is_ccw and region_geom.contains(poly)):
            continue
        if placed_arr.size and bool(shapely.intersects(poly, placed_arr).any()):
            continue
        return poly, (lon, lat), area
    raise RuntimeError(f"could not place a demo hazard in {region}")  # pragma: no cover


def _emplacements(rng: np.random.Generator, h: _Hazard, today: date) -> list[dict[str, Any]]:
    """1-3 emplacement records inside hazard ``h`` (none for an unrecorded hazard)."""
    if h.scenario == "unrecorded":
        return []
    out: list[dict[str, Any]] = []
    remote = h.scenario == "remote"
    base = today
    if not remote:  # one laying period per hazard, records within two months of it
        hi = min(_LAST_HAND_LAYING, today - timedelta(days=2))
        base = _day_between(rng, _START_OF_WAR + timedelta(days=60), hi)
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
        laid_at = _moment(rng, day, 4 if not remote else 0, 22 if not remote else 24)
        star = _star(rng, h.area_m2 * rng.uniform(0.03, 0.2), int(rng.integers(8, 16)))
        geom: Any = None
        if rng.random() < 0.7:
            for _attempt in range(30):
                lon, lat = _point_in(rng, inner)
                poly = Polygon(star.ring(lon, lat))
                if poly.is_valid and hazard_geom.contains(poly):
                    geom = poly
                    break
        if geom is None:  # a reference point with estimated dimensions
            lon, lat = _point_in(rng, hazard_geom)
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
        out.append({"type": "Feature", "id": sid, "properties": props, "geometry": _geojson(geom)})
        h.emplacements.append(_Emplacement(sid, code, laid_at, geom))
    return out


def _hazard_feature(
    rng: np.random.Generator, h: _Hazard, last_day: date, finds_out: list[dict[str, Any]]
) -> dict[str, Any]:
    """The hazard's feature; appends its finds (CHAs only) to ``finds_out``."""
    if h.emplacements:
        first = min(e.laid_at for e in h.emplacements).date()
        lag = 10 if h.scenario == "remote" else 400
        hi = last_day if h.scenario == "remote" else min(_LAST_REPORT, last_day)
        reported = min(first + timedelta(days=int(rng.integers(0, lag + 1))), max(hi, first))
    else:
        reported = _day_between(rng, date(2022, 3, 1), min(_LAST_REPORT, last_day))
    surveyed: date | None = None
    if h.cha or rng.random() < 0.5:
        surveyed = min(reported + timedelta(days=int(rng.integers(0, 121))), last_day)
        surveyed = max(surveyed, reported)
    latest = max([reported, surveyed or reported, *(e.laid_at.date() for e in h.emplacements)])
    closed: date | None = None
    if h.scenario != "remote" and rng.random() < 0.15 and latest + timedelta(days=60) <= last_day:
        closed = _day_between(rng, latest + timedelta(days=60), last_day)

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
        end = _end_of(closed or last_day)
        for k in range(1, int(rng.integers(1, 6)) + 1):
            finds_out.append(_find(rng, h, k, earliest, end))
    return {"type": "Feature", "id": h.sid, "properties": props, "geometry": _geojson(h.geom)}


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
    rng: np.random.Generator, h: _Hazard, k: int, earliest: datetime, end: datetime
) -> dict[str, Any]:
    emp = h.emplacements[int(rng.integers(len(h.emplacements)))] if h.emplacements else None
    code = emp.code if emp else h.codes[int(rng.integers(len(h.codes)))]
    dev = device_type(code)
    lo = earliest
    if emp is not None:
        lo = max(lo, emp.laid_at + timedelta(hours=2))
    found_at = _moment_between(rng, lo, max(lo, end)).replace(microsecond=0)
    area = emp.geom if emp is not None and emp.geom.geom_type == "Polygon" else h.geom
    shapely.prepare(area)
    lon, lat = _point_in(rng, area)
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


def _eo_reports(
    rng: np.random.Generator,
    n: int,
    hazards: list[_Hazard],
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
                lon, lat = _offset(*h.centre, dist * math.cos(ang), dist * math.sin(ang))
                lon, lat = round(lon, 6), round(lat, 6)
                if shapely.contains_xy(region_geom, lon, lat):
                    break
            else:
                lon = math.nan
        if math.isnan(lon):
            region_geom = regions[names[int(rng.choice(len(names), p=weights))]]
            lon, lat = _point_in(rng, region_geom)
        day = last_day - timedelta(days=int(rng.integers(0, 365)))
        en, uk = _EO_TEXTS[int(rng.integers(len(_EO_TEXTS)))]
        props: dict[str, Any] = {
            "reported_at": format_datetime(_moment(rng, day, 6, 21)),
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
