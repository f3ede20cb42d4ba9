"""The public safety API: is this place, or this route, near a recorded hazard?

Answers say where hazards are *recorded*; no answer is proof that a place is safe.
Responses are cacheable for a minute, and each client has a rate limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response

from demine.errors import DemineError, Fault, ValidationError

router = APIRouter(prefix="/api/v1/safety", tags=["safety"])

DANGER_M = 100.0
NOTICE = (
    "demine lists hazards that are recorded. No record does not mean safe: if you see "
    "anything suspicious, do not touch it, move back the way you came and report it."
)
NOTICE_UK = (
    "demine показує лише зареєстровані небезпечні території. Відсутність запису не "
    "означає безпеки: побачивши підозрілий предмет, не торкайтеся його, відійдіть "
    "тим самим шляхом і повідомте про нього."
)


class TooManyRequests(DemineError):
    http_status = 429
    title = "Too many requests"


class _Limiter:
    """A sliding one-minute window per client."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def check(self, client: str, per_minute: int) -> None:
        now = time.monotonic()
        with self.lock:
            q = self.hits.setdefault(client, deque())
            while q and q[0] <= now - 60.0:
                q.popleft()
            if len(q) >= per_minute:
                raise TooManyRequests(
                    f"more than {per_minute} safety requests a minute from this client; "
                    f"try again in {math.ceil(q[0] + 60.0 - now)} s"
                )
            q.append(now)
            if len(self.hits) > 100_000:  # forget idle clients
                for k in [k for k, v in self.hits.items() if not v][:50_000]:
                    del self.hits[k]


def rate_limited(request: Request) -> None:
    state = request.app.state
    limiter = getattr(state, "safety_limiter", None)
    if limiter is None:
        limiter = state.safety_limiter = _Limiter()
    client = request.client.host if request.client else "unknown"
    limiter.check(client, state.rate_limit_per_minute)


def level(distance_m: float | None, radius_m: float) -> str:
    if distance_m is None:
        return "none"
    if distance_m == 0:
        return "inside"
    return "danger" if distance_m <= min(DANGER_M, radius_m) else "caution"


MESSAGES = {
    "inside": (
        "You are inside a recorded hazardous area. Stop. Do not move further; go back "
        "exactly the way you came and report.",
        "Ви в зареєстрованій небезпечній зоні. Зупиніться, поверніться тим самим шляхом "
        "і повідомте.",
    ),
    "danger": (
        "A recorded hazardous area is within 100 m. Do not go on.",
        "Зареєстрована небезпечна зона ближче ніж за 100 м. Не йдіть далі.",
    ),
    "caution": (
        "A recorded hazardous area is within the radius. Keep to known safe paths.",
        "У межах радіуса є зареєстрована небезпечна зона. Тримайтеся перевірених шляхів.",
    ),
    "none": (
        "No recorded hazard within the radius. This is not proof that the place is safe.",
        "У межах радіуса немає зареєстрованих небезпечних зон. Це не доводить безпеки.",
    ),
}


def _answer(
    hits: list[dict[str, Any]], radius_m: float, synthetic: bool, extra: dict[str, Any]
) -> dict[str, Any]:
    nearest = min((h["distance_m"] for h in hits), default=None)
    lv = level(nearest, radius_m)
    for h in hits:
        h["warning_level"] = level(h["distance_m"], radius_m)
    return {
        **extra,
        "radius_m": radius_m,
        "warning_level": lv,
        "message": MESSAGES[lv][0],
        "message_uk": MESSAGES[lv][1],
        "hazards": hits,
        "synthetic": synthetic,
        "notice": NOTICE,
        "notice_uk": NOTICE_UK,
    }


def _json(body: dict[str, Any]) -> Response:
    """Serialised once with orjson (no per-field encoding pass); cacheable for a minute."""
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=60", "Vary": "Accept"},
    )


POINT_SCHEMA: dict[str, Any] = {
    "200": {"description": "Hazards within the radius", "content": {"application/json": {}}}
}


@router.get(
    "/point",
    summary="Recorded hazards within a radius of a place",
    response_class=Response,
    responses={200: POINT_SCHEMA["200"]},
)
def safety_point(
    request: Request,
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, WGS 84 degrees")],
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, WGS 84 degrees")],
    radius: Annotated[float, Query(ge=0, le=100_000, description="Radius, metres")] = 500.0,
) -> Response:
    from demine.services.safety import check_point

    rate_limited(request)
    s = request.app.state.stores.get()  # this thread's connection (not a dependency's)
    hits = [h.to_dict() for h in check_point(s, lat, lon, radius)]
    return _json(_answer(hits, radius, _synthetic(s), {"lat": lat, "lon": lon}))


def _synthetic(s: Any) -> bool:
    """The store's synthetic flag, read at most once a minute per connection."""
    now = time.monotonic()
    cached = getattr(s, "_demine_synthetic", None)
    if cached is None or now - cached[1] > 60.0:
        cached = (bool(s.setting("synthetic")), now)
        s._demine_synthetic = cached
    return bool(cached[0])


def _route_coords(body: dict[str, Any]) -> list[list[float]]:
    g = body.get("route", body.get("geometry", body))
    if isinstance(g, dict) and g.get("type") == "Feature":
        g = g.get("geometry")
    if isinstance(g, dict) and g.get("type") == "FeatureCollection":
        feats = g.get("features") or []
        g = feats[0].get("geometry") if feats and isinstance(feats[0], dict) else None
    if not isinstance(g, dict) or g.get("type") != "LineString":
        raise ValidationError(
            "the route must be a GeoJSON LineString",
            [
                Fault(
                    'expected {"route": {"type": "LineString", "coordinates": [...]}}',
                    field="route",
                )
            ],
        )
    coords = g.get("coordinates")
    ok = (
        isinstance(coords, list)
        and len(coords) >= 2
        and all(
            isinstance(c, list)
            and len(c) in (2, 3)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)
            for c in coords
        )
    )
    if not ok or not isinstance(coords, list):
        raise ValidationError(
            "bad route coordinates",
            [
                Fault(
                    "a LineString needs at least 2 positions of [lon, lat]",
                    field="route.coordinates",
                )
            ],
        )
    if len(coords) > 100_000:
        raise ValidationError(
            "route too long", [Fault("at most 100,000 positions", field="route.coordinates")]
        )
    for i, c in enumerate(coords):
        if not (-180 <= c[0] <= 180 and -90 <= c[1] <= 90):
            raise ValidationError(
                "route position out of range",
                [
                    Fault(
                        f"position {i} ({c[0]}, {c[1]}) is not lon/lat in range",
                        field=f"route.coordinates[{i}]",
                    )
                ],
            )
    return [[float(c[0]), float(c[1])] for c in coords]


@router.post("/route", summary="Recorded hazards within a radius of a route")
def safety_route(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "route": {"type": "LineString", "coordinates": [[37.5, 48.0], [37.6, 48.1]]},
                    "radius": 200,
                }
            ]
        ),
    ],
) -> Response:
    import numpy as np

    from demine.geo.geodesy import distance_line_to_geometries
    from demine.services.safety import Hit

    rate_limited(request)
    s = request.app.state.stores.get()
    coords = _route_coords(body)
    radius = body.get("radius", 200.0)
    if (
        not isinstance(radius, (int, float))
        or isinstance(radius, bool)
        or not (0 <= radius <= 100_000)
    ):
        raise ValidationError(
            "bad radius", [Fault("a number of metres, 0 to 100000", field="radius")]
        )
    xy = np.asarray(coords)
    dlat = radius / 110_574.0 * 1.01 + 1e-7
    c = math.cos(math.radians(min(89.9, float(np.abs(xy[:, 1]).max()) + dlat)))
    dlon = min(180.0, radius / (111_320.0 * c) * 1.01 + 1e-7)
    bbox = (
        float(xy[:, 0].min()) - dlon,
        max(-90.0, float(xy[:, 1].min()) - dlat),
        float(xy[:, 0].max()) + dlon,
        min(90.0, float(xy[:, 1].max()) + dlat),
    )
    cands = [r for r in s.list("hazards", bbox=bbox) if r.properties.get("status") == "open"]
    hits: list[dict[str, Any]] = []
    if cands:
        d = distance_line_to_geometries(xy, np.asarray([r.geometry for r in cands], dtype=object))
        found = [Hit(r, float(x)) for r, x in zip(cands, d, strict=True) if x <= radius]
        found.sort(key=lambda h: (h.distance_m, h.record.id))
        hits = [h.to_dict() for h in found]
    return _json(_answer(hits, float(radius), _synthetic(s), {"route_points": len(coords)}))
