"""The application factory."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from demine import __version__
from demine.api.deps import StorePool, problem
from demine.api.security import SecurityConfig, html_csp
from demine.errors import DemineError, ValidationError

PROBLEM = "application/problem+json"


def _problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class _App(FastAPI):
    """FastAPI with the security headers wrapped around its whole stack, outside the error
    middleware: an unhandled error's 500 carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        from demine.api.security import SecurityHeaders

        return SecurityHeaders(super().build_middleware_stack(), self.state.security)


def _docs_page() -> HTMLResponse:
    """The API docs (Swagger UI) from the package's own copy: nothing from another origin.
    Relative URLs, so the page works under a path prefix (``--public-url``) too."""
    from fastapi.openapi.docs import get_swagger_ui_html

    return get_swagger_ui_html(
        openapi_url="openapi.json",
        title="demine API",
        swagger_js_url="../static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="../static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="../static/vendor/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no call to validator.swagger.io
    )


def _inline(html: str, tag: str) -> list[str]:
    """The text of each inline ``<script>``/``<style>`` of a page (for their CSP hashes)."""
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)


def create_app(
    db: str,
    *,
    tile_url: str | None = None,
    rate_limit_per_minute: int = 600,
    max_limit: int = 10_000,
    threads: int = 4,
    public_url: str | None = None,  # security: links built from it, Host ignored
    allowed_hosts: Iterable[str] = (),  # security: Host names links may be built from
) -> FastAPI:
    """The demine web application over the store at ``db``.

    ``tile_url``: an optional base-map tile URL template for the map page (the page works
    without one). ``rate_limit_per_minute``: per client, for the public safety API.
    ``public_url``: the address the server is reached at (``https://example.org/demine``):
    every absolute link starts with it and the ``Host`` header is ignored. Without it, links
    use the request's ``Host`` only when it is a loopback name or one of ``allowed_hosts``,
    and are root-relative otherwise.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A few threads per process: Python's sqlite3 takes the interpreter lock for every
        # row, so 40 threads reading at once only queue behind each other (bench/api.py).
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield
        app.state.stores.close()

    app = _App(
        title="demine",
        version=__version__,
        description="Open information system for humanitarian mine action.",
        lifespan=lifespan,
        docs_url=None,  # served below from the vendored Swagger UI
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.stores = StorePool(db)
    app.state.tile_url = tile_url
    app.state.rate_limit_per_minute = rate_limit_per_minute
    app.state.max_limit = max_limit
    app.state.security = _security_config(tile_url, public_url, allowed_hosts)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return _docs_page()

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


def _security_config(
    tile_url: str | None, public_url: str | None, allowed_hosts: Iterable[str]
) -> SecurityConfig:
    from demine.api import ogc_html
    from demine.api.security import LOOPBACK_HOSTS, host_name, public_url_checked, sha256_source

    hosts = set(LOOPBACK_HOSTS)
    for h in allowed_hosts:
        bare_ipv6 = h.count(":") > 1 and not h.startswith("[")
        name = host_name(f"[{h.strip()}]" if bare_ipv6 else h.strip())
        if name is None:
            raise ValidationError(f"allowed host {h!r} is not a host name")
        hosts.add(name)
    scripts = [sha256_source(t) for t in _inline(bytes(_docs_page().body).decode(), "script")]
    styles = [sha256_source(t) for t in _inline(ogc_html.page("x", {}), "style")]
    return SecurityConfig(
        html_csp=html_csp(tile_url=tile_url, script_hashes=scripts, style_hashes=styles),
        public_url=public_url_checked(public_url) if public_url else None,
        allowed_hosts=frozenset(hosts),
    )
