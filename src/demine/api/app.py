"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from demine import __version__
from demine.api.deps import StorePool, principal, problem
from demine.errors import DemineError, ValidationError

PROBLEM = "application/problem+json"


def _problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def create_app(
    db: str,
    *,
    tile_url: str | None = None,
    rate_limit_per_minute: int = 600,
    max_limit: int = 10_000,
    threads: int = 4,
) -> FastAPI:
    """The demine web application over the store at ``db``.

    ``tile_url``: an optional base-map tile URL template for the map page (the page works
    without one). ``rate_limit_per_minute``: per client, for the public safety API.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A few threads per process: Python's sqlite3 takes the interpreter lock for every
        # row, so 40 threads reading at once only queue behind each other (bench/api.py).
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield
        app.state.stores.close()

    app = FastAPI(
        title="demine",
        version=__version__,
        description="Open information system for humanitarian mine action.",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        dependencies=[Depends(principal)],  # a bad token is 401 on every route
    )
    app.state.stores = StorePool(db)
    app.state.tile_url = tile_url
    app.state.rate_limit_per_minute = rate_limit_per_minute
    app.state.max_limit = max_limit

    @app.exception_handler(DemineError)
    async def _demine_error(request: Request, exc: DemineError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return _problem_response(exc.http_status, exc.to_problem(), headers)

    @app.exception_handler(RequestValidationError)
    async def _request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        return _problem_response(
            400, problem(400, "Bad request", "invalid parameters", errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem_response(
            exc.status_code,
            problem(exc.status_code, str(exc.detail), str(exc.detail)),
            getattr(exc, "headers", None),
        )

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError) -> JSONResponse:
        return _problem_response(400, problem(400, "Bad request", str(exc)))

    from demine.api import cleanup as cleanup_api
    from demine.api import ogc, safety, tiles, web
    from demine.api import stats as stats_api

    app.include_router(safety.router)
    app.include_router(ogc.router, prefix="/ogc")
    app.include_router(tiles.router)
    app.include_router(web.router)
    app.include_router(stats_api.router)  # /api/v1/stats
    app.include_router(cleanup_api.router)  # /api/v1/hazards/{id}/release|certificate, priorities

    @app.get("/api/v1/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    _ = ValidationError
    return app
