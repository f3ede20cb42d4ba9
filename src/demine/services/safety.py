"""Civilian safety lookups: which known hazards are within reach of a place or a route.

Distances are geodesic on WGS 84 (see docs/geometry.md for their accuracy); a place inside a
hazard is at distance 0. These answers say where *recorded* hazards are: the absence of a
record is not proof that a place is safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from demine.errors import Fault, LimitExceeded, ValidationError

if TYPE_CHECKING:  # numpy, the model and the store are loaded where used: ``demine check``'s
    # quick path (demine.cli.quick) uses this module's checks and answer without them
    import numpy as np

    from demine.model.schema import Record
    from demine.store.base import Store

MAX_RADIUS_M = 100_000.0
MAX_ROUTE_M = 1_000_000.0  # a route's geodesic length, vertex to vertex (default cap)
MAX_ROUTE_VERTICES = 10_000  # positions in a route (default cap)
MAX_ROUTE_RADIUS_M = 10_000.0  # a route's search radius (default cap; a place's is 100 km)
_ROUTE_QUERY_M = 50_000.0  # the route is looked up in stretches of this length (or 4 radii)
_M_PER_DEG_LAT = 110_574.0  # the smallest metres per degree of latitude on WGS 84


def place_faults(
    lat: float, lon: float, lat_field: str = "LAT", lon_field: str = "LON"
) -> list[Fault]:
    """What is wrong with a place (latitude within -90..90, longitude within -180..180, not
    swapped), each fault naming the field the value came from."""
    faults = []
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        faults.append(
            Fault(
                f"latitude {lat:g} is outside -90..90 (decimal degrees north, WGS 84)",
                field=lat_field,
            )
        )
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        faults.append(
            Fault(
                f"longitude {lon:g} is outside -180..180 (decimal degrees east, WGS 84)",
                field=lon_field,
            )
        )
    if abs(lat) <= 180 and abs(lon) <= 90 and abs(lat) > 90:
        faults.append(
            Fault(
                f"latitude and longitude appear swapped: give the latitude ({lon:g}) first, "
                f"then the longitude ({lat:g})",
                field=lat_field,
            )
        )
    return faults


def check_place_args(lat: float, lon: float, radius_m: float) -> None:
    faults = place_faults(lat, lon)
    if not (math.isfinite(radius_m) and 0 <= radius_m <= MAX_RADIUS_M):
        faults.append(
            Fault(f"radius {radius_m} m must be between 0 and {MAX_RADIUS_M:g} m", field="--radius")
        )
    if faults:
        raise ValidationError("cannot check this place", faults)


def search_bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box that surely holds every point within radius_m of (lat, lon). Its
    longitudes may leave ±180 near the antimeridian: :func:`search_boxes` splits it there."""
    dlat = radius_m / _M_PER_DEG_LAT * 1.01 + 1e-7
    c = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
    dlon = 180.0 if c <= 1e-9 else min(180.0, radius_m / (111_320.0 * c) * 1.01 + 1e-7)
    return (lon - dlon, max(-90.0, lat - dlat), lon + dlon, min(90.0, lat + dlat))


def search_boxes(
    lat: float, lon: float, radius_m: float
) -> list[tuple[float, float, float, float]]:
    """:func:`search_bbox` as one or two boxes within ±180 (split at the antimeridian)."""
    from demine.geo.plain import lon_boxes

    return lon_boxes(search_bbox(lat, lon, radius_m))


def _hazards_in(
    store: Store, boxes: list[tuple[float, float, float, float]], include_closed: bool
) -> list[Record]:
    """The hazards whose extent meets any of the boxes, each once."""
    seen: dict[str, Record] = {}
    for box in boxes:
        for r in store.list("hazards", bbox=box):
            if r.id not in seen and (include_closed or r.properties.get("status") == "open"):
                seen[r.id] = r
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Hit:
    record: Record
    distance_m: float

    def to_dict(self) -> dict[str, Any]:
        p = self.record.properties
        return {
            "id": self.record.id,
            "distance_m": round(self.distance_m, 1),
            "inside": self.distance_m == 0.0,
            "name": p.get("name"),
            "reference": p.get("reference"),
            "hazard_type": p.get("hazard_type"),
            "status": p.get("status"),
            "device_categories": p.get("device_categories"),
        }


def check_point(
    store: Store, lat: float, lon: float, radius_m: float = 500.0, *, include_closed: bool = False
) -> list[Hit]:
    """Hazards within ``radius_m`` of the point, nearest first (0 m inside a hazard)."""
    import numpy as np

    from demine.geo.geodesy import distance_to_geometries

    check_place_args(lat, lon, radius_m)
    cands = _hazards_in(store, search_boxes(lat, lon, radius_m), include_closed)
    if not cands:
        return []
    d = distance_to_geometries(lon, lat, np.asarray([r.geometry for r in cands], dtype=object))
    hits = [Hit(r, float(x)) for r, x in zip(cands, d, strict=True) if x <= radius_m]
    hits.sort(key=lambda h: (h.distance_m, h.record.id))
    return hits


def route_length_m(coords: Any) -> float:
    """The route's geodesic length in metres, vertex to vertex (each step the short way)."""
    import numpy as np

    from demine.geo.geodesy import geodesic_distance

    xy = np.asarray(coords, np.float64).reshape(-1, 2)
    if len(xy) < 2:
        return 0.0
    return float(geodesic_distance(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]).sum())


def check_route_limits(
    coords: Any,
    *,
    max_length_m: float = MAX_ROUTE_M,
    max_vertices: int = MAX_ROUTE_VERTICES,
) -> float:
    """Refuse a route over the caps (:class:`LimitExceeded`, naming the limit); its length
    (not measured, infinity, when ``max_length_m`` is infinite)."""
    n = len(coords)
    if n > max_vertices:
        raise LimitExceeded(
            f"the route has {n:,} positions; this server checks at most {max_vertices:,} "
            "(max_route_vertices): simplify the route or split it",
            "max_route_vertices",
            max_vertices,
            field="route.coordinates",
        )
    if math.isinf(max_length_m):
        return math.inf
    length = route_length_m(coords)
    if length > max_length_m:
        raise LimitExceeded(
            f"the route is {length / 1000:,.1f} km long; this server checks at most "
            f"{max_length_m / 1000:,.1f} km (max_route_m = {max_length_m:,.0f} m): split the route",
            "max_route_m",
            max_length_m,
            field="route",
        )
    return length


def check_route(
    store: Store,
    coords: Any,
    radius_m: float = 200.0,
    *,
    include_closed: bool = False,
    max_length_m: float = MAX_ROUTE_M,
    max_vertices: int = MAX_ROUTE_VERTICES,
    max_radius_m: float = MAX_ROUTE_RADIUS_M,
) -> list[Hit]:
    """Hazards within ``radius_m`` of a route (lon/lat positions), nearest first.

    A step of more than 180° of longitude is taken the short way, across the antimeridian, both
    for the store look-up and for the distances. A route over ``max_length_m`` (geodesic, vertex
    to vertex), ``max_vertices`` positions or a radius over ``max_radius_m`` is refused with
    :class:`LimitExceeded`: the work grows with the length times the radius.
    """
    from demine.geo.geodesy import (
        densify_m,
        distance_line_to_geometries,
        geodesic_distance,
        lon_boxes,
        lonlat_window,
        unwrap_longitudes,
    )

    if not (math.isfinite(radius_m) and 0 <= radius_m <= MAX_RADIUS_M):
        raise ValidationError(
            "cannot check this route",
            [
                Fault(
                    f"radius {radius_m} m must be between 0 and {MAX_RADIUS_M:g} m", field="radius"
                )
            ],
        )
    if radius_m > max_radius_m:
        raise LimitExceeded(
            f"a route is checked within at most {max_radius_m:,.0f} m (max_route_radius_m), "
            f"not {radius_m:,.0f} m: check places for a wider radius",
            "max_route_radius_m",
            max_radius_m,
            field="radius",
        )
    check_route_limits(coords, max_length_m=max_length_m, max_vertices=max_vertices)
    import numpy as np

    xy = np.asarray(coords, np.float64).reshape(-1, 2).copy()
    xy[:, 0] = unwrap_longitudes(xy[:, 0])
    # look the route up stretch by stretch (each at most _ROUTE_QUERY_M long): boxes around
    # each stretch, not one box around the whole route
    stretch = max(_ROUTE_QUERY_M, 4 * radius_m)  # neighbouring boxes overlap by 2 radii
    dense = densify_m(xy, stretch / 2)
    cum = np.concatenate(
        [
            [0.0],
            np.cumsum(geodesic_distance(dense[:-1, 0], dense[:-1, 1], dense[1:, 0], dense[1:, 1])),
        ]
    )
    boxes: list[tuple[float, float, float, float]] = []
    start = 0
    while True:
        end = int(np.searchsorted(cum, cum[start] + stretch, side="right")) - 1
        end = min(len(dense) - 1, max(end, start + 1))
        part = dense[start : end + 1]
        dlat, dlon = lonlat_window(float(part[:, 1].min()), float(part[:, 1].max()), radius_m)
        boxes += lon_boxes(
            (
                float(part[:, 0].min()) - dlon,
                max(-90.0, float(part[:, 1].min()) - dlat),
                float(part[:, 0].max()) + dlon,
                min(90.0, float(part[:, 1].max()) + dlat),
            )
        )
        if end >= len(dense) - 1:
            break
        start = end
    cands = _hazards_in(store, boxes, include_closed)
    if not cands:
        return []
    d = distance_line_to_geometries(
        xy, np.asarray([r.geometry for r in cands], dtype=object), max_m=radius_m
    )
    hits = [Hit(r, float(x)) for r, x in zip(cands, d, strict=True) if x <= radius_m]
    hits.sort(key=lambda h: (h.distance_m, h.record.id))
    return hits


GRID_M = 100.0  # the radius HazardIndex's coverage grid is built for by default


class HazardIndex:
    """The open hazards of a store in memory, for batch lookups of many points at once.

    A coverage grid for radii up to ``grid_radius_m`` is built with the index (None: no grid);
    lookups with a larger radius are measured without it. Either way the answers are the same;
    the grid only spares most points a polygon test."""

    def __init__(self, records: list[Record], *, grid_radius_m: float | None = GRID_M) -> None:
        import numpy as np

        from demine.geo.geodesy import GeometryIndex

        self.records = records
        self.geoms = np.asarray([r.geometry for r in records], dtype=object)
        self._index = GeometryIndex(self.geoms)  # built once, queried many times
        if grid_radius_m is not None:
            self._index.build_grid(grid_radius_m)

    @classmethod
    def from_store(
        cls, store: Store, *, include_closed: bool = False, grid_radius_m: float | None = GRID_M
    ) -> HazardIndex:
        return cls(
            [
                r
                for r in store.list("hazards")
                if include_closed or r.properties.get("status") == "open"
            ],
            grid_radius_m=grid_radius_m,
        )

    def build_grid(self, radius_m: float) -> None:
        """(Re)build the coverage grid for lookups with radii up to ``radius_m``."""
        self._index.build_grid(radius_m)

    def within(
        self, lons: np.ndarray, lats: np.ndarray, radius_m: float, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (point index, hazard index, geodesic distance m) pairs within radius_m, ordered
        by point then hazard. ``exact`` leaves the coverage grid aside (same answers)."""
        import numpy as np

        return self._index.within(
            np.asarray(lons, dtype=float), np.asarray(lats, dtype=float), radius_m, exact=exact
        )


# --- what people are told -----------------------------------------------------------------

DANGER_M = 100.0
NOTICE = (
    "demine lists hazards that are recorded. No record does not mean safe: if you see "
    "anything suspicious, do not touch it, move back the way you came and call 101."
)
NOTICE_UK = (
    "demine показує лише зареєстровані небезпечні території. Відсутність запису не "
    "означає безпеки: побачивши підозрілий предмет, не торкайтеся його, відійдіть "
    "тим самим шляхом і телефонуйте 101."
)


def level(distance_m: float | None, radius_m: float) -> str:
    if distance_m is None:
        return "none"
    if distance_m == 0:
        return "inside"
    return "danger" if distance_m <= min(DANGER_M, radius_m) else "caution"


MESSAGES = {
    "inside": (
        "You are inside a recorded hazardous area. Stop. Do not move further; go back "
        "exactly the way you came and call 101.",
        "Ви всередині зареєстрованої небезпечної території. Зупиніться. Не рухайтеся далі; "
        "поверніться точно тим самим шляхом і телефонуйте 101.",
    ),
    "danger": (
        "A recorded hazardous area is within 100 m. Do not go on.",
        "Зареєстрована небезпечна територія ближче ніж за 100 м. Не йдіть далі.",
    ),
    "caution": (
        "A recorded hazardous area is within the radius. Keep to known safe paths.",
        "У межах радіуса є зареєстрована небезпечна територія. Тримайтеся перевірених шляхів.",
    ),
    "none": (
        "No recorded hazard within the radius. This is not proof that the place is safe.",
        "У межах радіуса немає зареєстрованих небезпечних територій. Це не доводить, що тут "
        "безпечно.",
    ),
}


# an EO report or accident within the radius (``include``): a reason for caution, said plainly,
# but never worded as a recorded hazard (a civilian's report is unconfirmed until surveyed)
REPORTED = (
    "No recorded hazardous area within the radius, but explosive ordnance was reported or an "
    "accident recorded within it. A report is not a confirmed hazard; still, take care: keep "
    "to known safe paths; if you see anything suspicious, do not touch it and call 101.",
    "У межах радіуса немає зареєстрованих небезпечних територій, але тут повідомляли про "
    "вибухонебезпечні предмети або зареєстровано нещасний випадок. Повідомлення не є "
    "підтвердженою небезпекою; проте будьте обережні: тримайтеся перевірених шляхів; "
    "побачивши підозрілий предмет, не торкайтеся його й телефонуйте 101.",
)
ALSO_REPORTED = (
    "Explosive ordnance was also reported, or an accident recorded, within the radius.",
    "У межах радіуса також повідомляли про вибухонебезпечні предмети або зареєстровано "
    "нещасний випадок.",
)


def answer(
    hits: list[dict[str, Any]],
    radius_m: float,
    synthetic: bool,
    extra: dict[str, Any],
    nearby: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a person asking about a place or a route is told: the warning level (inside, danger
    within 100 m, caution within the radius, none) overall and per hazard, the message in
    English and Ukrainian, and the notice that no record does not mean safe. Every face (the
    HTTP safety API, ``demine check --json``) answers with this.

    ``nearby`` (:func:`demine.services.safety_nearby.check_nearby`, when EO reports or
    accidents were asked for) adds them to the answer, each item at level ``caution``. They
    never make the level ``danger`` or ``inside`` (those are a recorded hazard's), but they
    raise ``none`` to ``caution`` with the message :data:`REPORTED`, and a hazard's message
    gets :data:`ALSO_REPORTED` after it; ``reasons`` names what the level rests on."""
    nearest = min((h["distance_m"] for h in hits), default=None)
    lv = level(nearest, radius_m)
    for h in hits:
        h["warning_level"] = level(h["distance_m"], radius_m)
    msg, msg_uk = MESSAGES[lv]
    more: dict[str, Any] = {}
    if nearby is not None:
        counts: dict[str, int] = nearby.get("counts", {})
        reasons = (["hazards"] if hits else []) + [k for k, n in counts.items() if n]
        for k in counts:
            for item in nearby[k]:
                item["warning_level"] = "caution"
            more[k] = nearby[k]
        more["counts"] = {"hazards": len(hits), **counts}
        more["reasons"] = reasons
        if any(counts.values()):
            if lv == "none":
                lv, (msg, msg_uk) = "caution", REPORTED
            else:
                msg, msg_uk = f"{msg} {ALSO_REPORTED[0]}", f"{msg_uk} {ALSO_REPORTED[1]}"
    return {
        **extra,
        "radius_m": radius_m,
        "warning_level": lv,
        "message": msg,
        "message_uk": msg_uk,
        "hazards": hits,
        **more,
        "synthetic": synthetic,
        "notice": NOTICE,
        "notice_uk": NOTICE_UK,
    }
