"""The application factory."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demine import __version__
from demine.api.deps import StorePool, principal, problem
from demine.api.intake import submitted_response
from demine.api.security import SecurityConfig, html_csp
from demine.errors import DemineError, ValidationError
from demine.services.submitting import Submitted
from demine.store.open import store_failure
from demine.store.redact import scrub_secrets

PROBLEM = "application/problem+json"
RETRY_AFTER_S = 30  # what a 503 (store unavailable) tells clients to wait, in seconds
GENERIC_DETAIL = "internal error: the server's log has the details"
log = logging.getLogger("demine")


def _problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _server_error(request: Request | None, exc: BaseException) -> JSONResponse:
    """A 5xx for a failure the client can do nothing about: the operator's log says what
    failed (every password masked); the client gets a fixed text, never the exception's -
    no host, port, URL, path or driver message."""
    where = f"{request.method} {request.url.path}: " if request is not None else ""
    if isinstance(exc, DemineError):
        status, title = exc.http_status, exc.title
        detail = getattr(exc, "public_detail", None) or GENERIC_DETAIL
        log.error("%s%s", where, scrub_secrets(exc.message))
    else:
        status, title, detail = 500, "Internal Server Error", GENERIC_DETAIL
        text = "".join(traceback.format_exception(exc))
        log.error("%sunexpected error\n%s", where, scrub_secrets(text))
    if title == DemineError.title:
        title = "Internal Server Error"
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return _problem_response(status, problem(status, title, detail), headers)


class _Guard:
    """ASGI middleware: an exception no handler took (a driver's error, a bug) becomes a
    problem+json with no exception text - a lost database connection or a full disk is
    mapped first (503 / 507) - and is logged, scrubbed, on the "demine" logger."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:
            request = Request(scope)
            mapped = store_failure(exc)
            if started:  # too late for a problem response: log it, end the response
                log.error(
                    "%s %s: failed while responding: %s",
                    request.method,
                    request.url.path,
                    scrub_secrets(type(exc).__name__ + ": " + str(exc)),
                )
                return
            response = _server_error(request, mapped if mapped is not None else exc)
            await response(scope, receive, send)


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
    request_budget_s: float | None = 10.0,
    # the edge limits (demine.api.edge, docs/web.md "Limits"):
    max_body_bytes: int = 16 * 2**20,
    trusted_proxies: Sequence[str] = (),
    max_route_m: float = 1_000_000.0,
    max_route_vertices: int = 10_000,
    max_route_radius_m: float = 10_000.0,
    public_url: str | None = None,  # security: links built from it, Host ignored
    allowed_hosts: Iterable[str] = (),  # security: Host names links may be built from
    extract_key: str | None = None,  # the extracts' private key file (docs/extract.md)
    public_report_limits: Mapping[str, tuple[int, float]] | None = None,  # per client
    pack_url: str | None = None,  # the map's offline safety pack (docs/publish.md)
) -> FastAPI:
    """The demine web application over the store at ``db``.

    ``tile_url``: an optional base-map tile URL template for the map page (the page works
    without one). ``rate_limit_per_minute``: per client (0: none), for every endpoint that
    costs work (a vector tile counts a quarter). ``trusted_proxies``: the addresses or CIDRs of
    the reverse proxies whose ``X-Forwarded-For`` is believed (none by default).
    ``max_body_bytes``: the largest request body (0: none). ``max_route_m``,
    ``max_route_vertices`` and ``max_route_radius_m``: the caps of a safety route.
    ``request_budget_s``: the time an OGC item listing (filters) or a vector tile may take
    before it is answered 503 (None: no limit); they run in threads of their own
    (demine.api.budget).
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
        dependencies=[Depends(principal)],  # a bad token is 401 on every route
    )
    app.state.stores = StorePool(db)
    app.state.tile_url = tile_url
    from demine.api.security import pack_url_checked

    app.state.pack_url = pack_url_checked(pack_url)  # the map reads its hazards from it
    app.state.rate_limit_per_minute = rate_limit_per_minute
    app.state.max_limit = max_limit
    app.state.threads = threads
    app.state.request_budget_s = request_budget_s if request_budget_s else None
    app.state.max_route_m = float(max_route_m)
    app.state.max_route_vertices = int(max_route_vertices)
    app.state.max_route_radius_m = float(max_route_radius_m)
    app.state.extract_key = extract_key  # None: $DEMINE_EXTRACT_KEY, else extracts are 503
    # civilian reports' limits per client, {name: (requests, seconds)} over api.civilian.LIMITS
    app.state.public_report_limits = dict(public_report_limits or {})
    from demine.api.edge import add_edge_middleware

    add_edge_middleware(
        app,
        max_body_bytes=max_body_bytes,
        rate_limit_per_minute=rate_limit_per_minute,
        trusted_proxies=trusted_proxies,
    )
    app.state.security = _security_config(tile_url, public_url, allowed_hosts, app.state.pack_url)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return _docs_page()

    @app.exception_handler(DemineError)
    async def _demine_error(request: Request, exc: DemineError) -> JSONResponse:
        # a 5xx says nothing of the server, unless its message is written for clients
        # (a request over its time budget)
        if exc.http_status >= 500 and not getattr(exc, "client_safe", False):
            return _server_error(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        extra = getattr(exc, "http_headers", None)  # e.g. Retry-After of a 503
        if extra:
            headers = {**(headers or {}), **extra}
        body = exc.to_problem()
        body["detail"] = scrub_secrets(str(body["detail"]))
        return _problem_response(exc.http_status, body, headers)

    @app.exception_handler(Submitted)
    async def _submitted(request: Request, exc: Submitted) -> JSONResponse:
        return submitted_response(exc.submission)  # a write became a submission: 202

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

    # a bare ValueError is a bug, not a bad request: it reaches _Guard's generic 500 (logged,
    # scrubbed); bad input is a demine.errors.ValidationError (400) naming where it is

    app.add_middleware(_Guard)

    from demine.api import cleanup as cleanup_api
    from demine.api import field, ogc, public_sw, safety, tiles, web
    from demine.api import intake as intake_api
    from demine.api import stats as stats_api

    app.include_router(safety.router)
    app.include_router(ogc.router, prefix="/ogc")
    app.include_router(tiles.router)
    app.include_router(web.router)
    app.include_router(public_sw.router)  # /sw.js (the public map offline, issue 15)
    app.include_router(field.router)  # /field/ (the field app, a PWA)
    app.include_router(stats_api.router)  # /api/v1/stats
    app.include_router(cleanup_api.router)  # /api/v1/hazards/{id}/release|certificate, priorities
    app.include_router(intake_api.router)  # /api/v1/submissions
    app.include_router(intake_api.records_router)  # /api/v1/records/{kind}/{other}/merge
    from demine.api import attachments as attachments_api

    app.include_router(attachments_api.router)  # /api/v1/records/{kind}/{id}/attachments
    from demine.api import sync as sync_api

    app.include_router(sync_api.router)  # /api/v1/sync/..., /api/v1/uploads (the field app)
    from demine.api import forms as forms_api

    app.include_router(forms_api.router)  # /api/v1/forms, /api/v1/forms/{kind}
    from demine.api import civilian as civilian_api

    app.include_router(civilian_api.router)  # /api/v1/public/reports..., /report (issue 15)
    from demine.api import extract as extract_api

    app.include_router(extract_api.router)  # /api/v1/extracts, /api/v1/extracts/verify, /verify

    @app.get("/api/v1/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    _ = ValidationError
    return app


def _security_config(
    tile_url: str | None,
    public_url: str | None,
    allowed_hosts: Iterable[str],
    pack_url: str | None = None,
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
        html_csp=html_csp(
            tile_url=tile_url, script_hashes=scripts, style_hashes=styles, pack_url=pack_url
        ),
        public_url=public_url_checked(public_url) if public_url else None,
        allowed_hosts=frozenset(hosts),
    )
