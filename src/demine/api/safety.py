"""The public safety API: is this place, or this route, near a recorded hazard?

The warning levels, messages and notices are the service's (``demine.services.safety.answer``),
so ``demine check --json`` gives the same answer.

Answers say where hazards are *recorded*; no answer is proof that a place is safe.
Responses are cacheable for a minute. Each client's rate limit, the request body limit and the
duplicate-parameter check are the edge middleware's (demine.api.edge); a route is capped in
length, positions and radius (create_app(max_route_m=..., max_route_vertices=...,
max_route_radius_m=...)).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from demine.api.bodies import read_bounded
from demine.api.deps import principal
from demine.errors import Fault, ValidationError
from demine.services.safety import answer, check_route_limits

router = APIRouter(prefix="/api/v1/safety", tags=["safety"])


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
    include: Annotated[
        str | None,
        Query(
            description="Also list EO reports and accidents within the radius "
            "(eo_reports,accidents): a reason for caution, not a recorded hazard; only what "
            "the caller's role may read (the public: EO reports marked public, no reporter, "
            "no accident description)",
        ),
    ] = None,
) -> Response:
    from demine.services.safety import check_point
    from demine.services.safety_nearby import check_nearby, parse_include

    kinds = parse_include(include, field="include")
    s = request.app.state.stores.get()  # this thread's connection (not a dependency's)
    hits = [h.to_dict() for h in check_point(s, lat, lon, radius)]
    # the caller's role only when asked for more than hazards (no dependency: one thread hop
    # less on the hot path; the app has already refused a bad token)
    nearby = check_nearby(s, lat, lon, radius, kinds, principal(request).role) if kinds else None
    return _json(answer(hits, radius, _synthetic(s), {"lat": lat, "lon": lon}, nearby))


def _synthetic(s: Any) -> bool:
    """The store's synthetic flag, read at most once a minute per connection."""
    now = time.monotonic()
    cached = getattr(s, "_demine_synthetic", None)
    if cached is None or now - cached[1] > 60.0:
        cached = (bool(s.setting("synthetic")), now)
        s._demine_synthetic = cached
    return bool(cached[0])


def _route_coords(body: dict[str, Any], max_vertices: int) -> list[list[float]]:
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
    if isinstance(coords, list):  # the cap first: no work on a route this server will refuse
        check_route_limits(coords, max_length_m=float("inf"), max_vertices=max_vertices)
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


# The largest body a route may come in: room for every position this server checks, written
# out at length (a position of 17 significant digits and an altitude is under 64 bytes), and for
# a Feature's properties. A larger body is refused before it is read: JSON parsing of a body
# near the general limit (16 MiB of positions) took seconds, and FastAPI parses a declared
# JSON body on the event loop, so that every other request of the process waited.
ROUTE_BYTES_PER_POSITION = 256
ROUTE_BODY_MIN = 1 << 20


def route_body_limit(max_vertices: int) -> int:
    """The largest request body of ``POST /api/v1/safety/route``, in bytes."""
    return max(ROUTE_BODY_MIN, ROUTE_BYTES_PER_POSITION * max_vertices)


_ROUTE_EXAMPLE = {
    "route": {"type": "LineString", "coordinates": [[37.5, 48.0], [37.6, 48.1]]},
    "radius": 200,
}


@router.post(
    "/route",
    summary="Recorded hazards within a radius of a route",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "additionalProperties": True},
                    "examples": {"route": {"value": _ROUTE_EXAMPLE}},
                }
            },
        }
    },
)
async def safety_route(request: Request) -> Response:
    """The body is read here, up to :func:`route_body_limit` bytes, and parsed with the rest of
    the work in a worker thread, never on the event loop."""
    from starlette.concurrency import run_in_threadpool

    from demine.errors import ContentTooLarge

    limit = route_body_limit(int(request.app.state.max_route_vertices))

    def too_large() -> ContentTooLarge:
        return ContentTooLarge(
            f"a route body is at most {limit:,} bytes ({ROUTE_BYTES_PER_POSITION} a position "
            f"for max_route_vertices = {request.app.state.max_route_vertices:,}); simplify "
            "the route",
            "route_body_bytes",
            limit,
        )

    raw = await read_bounded(request, limit, "a route body", too_large=too_large)
    return await run_in_threadpool(_safety_route, request, raw)


class _BadBody(ValidationError):
    """A body that is not a JSON object: 400, as FastAPI answered before."""

    http_status = 400
    title = "Bad request"


def _safety_route(request: Request, raw: bytes) -> Response:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _BadBody(
            "the request body is not JSON", [Fault(str(e).split(":")[0], field="body")]
        ) from None
    if not isinstance(body, dict):
        raise _BadBody(
            "the request body must be a JSON object",
            [Fault('expected {"route": {...}, "radius": ...}', field="body")],
        )
    from demine.services.safety import check_route

    state = request.app.state
    s = state.stores.get()
    coords = _route_coords(body, state.max_route_vertices)
    radius = body.get("radius", 200.0)
    if (
        not isinstance(radius, (int, float))
        or isinstance(radius, bool)
        or not (0 <= radius <= 100_000)
    ):
        raise ValidationError(
            "bad radius", [Fault("a number of metres, 0 to 100000", field="radius")]
        )
    found = check_route(
        s,
        coords,
        float(radius),
        max_length_m=state.max_route_m,
        max_vertices=state.max_route_vertices,
        max_radius_m=state.max_route_radius_m,
    )
    hits = [h.to_dict() for h in found]
    return _json(answer(hits, float(radius), _synthetic(s), {"route_points": len(coords)}))
