"""Every route of the app, for the tests that go through them all (every face, role rights,
security headers, privacy, secrets, tokens).

FastAPI 0.165 and later keep an included router as one ``_IncludedRouter`` entry of
``app.routes``: the routes are found by descending into each include (and each mount). A flat
scan of ``app.routes`` saw 3 routes of the 70-odd, and a check over them passed whatever a new
route did."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def app_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """``(method, path, route)`` for each method of each route (HEAD and OPTIONS too)."""
    from starlette.routing import Mount, Route

    for route in routes:
        ctx = getattr(route, "include_context", None)
        if ctx is not None:
            yield from app_routes(ctx.included_router.routes, prefix + (ctx.prefix or ""))
        elif isinstance(route, Mount):
            yield from app_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for m in sorted(route.methods or ()):
                yield m, prefix + route.path, route


def get_paths(routes: Any) -> Iterator[str]:
    """The path of every GET route."""
    seen: set[str] = set()
    for m, path, _ in app_routes(routes):
        if m == "GET" and path not in seen:
            seen.add(path)
            yield path
