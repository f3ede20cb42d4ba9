"""``demine demo`` and ``demine serve``: the synthetic demo, and the HTTP face (map, APIs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    handled,
    print_json,
    state,
)
from demine.errors import Fault, ValidationError


def demo(
    db: Annotated[
        str, typer.Option("--db", help="Demo store (never your real one).")
    ] = "demine-demo.gpkg",
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the demo.")] = True,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """Build a SYNTHETIC demo dataset on Ukraine's regions and serve it (map, APIs)."""
    from demine.demo import build_demo_store

    with handled(as_json):
        from demine.store.redact import is_url, redact_location

        if is_url(db):
            raise ValidationError(
                "the demo store is a GeoPackage file",
                [Fault(f"{redact_location(db)}: expected a file path", field="--db")],
            )
        info = build_demo_store(Path(db), seed=seed)
        if as_json:
            print_json(info)
        else:
            con = console()
            con.print(f"[bold yellow]{info['notice']}[/]")
            con.print(
                f"demo store: {info['location']}: "
                + ", ".join(f"{n} {k}" for k, n in info["counts"].items())
            )
            rel = info.get("cleanup", {}).get("release", {})
            if rel:
                m2 = rel.get("released_m2", {})
                con.print(
                    "land released: "
                    + ", ".join(f"{k} {v / 1e6:.2f} km²" for k, v in m2.items())
                    + f"; {len(rel.get('closed', []))} hazards closed through land release, "
                    f"{len(rel.get('handed_over', []))} handed over"
                )
                d = f"demine --db {info['location']}"
                con.print(
                    "try, in another terminal:\n"
                    f"  {d} stats --by oblasts\n"
                    f"  {d} prioritize --top 5\n"
                    f"  {d} release status {(rel.get('handed_over') or [''])[0]}\n"
                    f"  {d} report annual --year 2025 -o demo-report.html\n"
                    "the review page (/review) and the field app (/field/) sign in with a "
                    "token of a demo user:\n"
                    f"  {d} --role admin token create im_officer   # a reviewer\n"
                    f"  {d} --role admin token create field_a      # a field team (OPA)",
                    markup=False,
                )
    if serve:
        _serve(db, host, port, None)


def _serve(
    db: str,
    host: str,
    port: int,
    tile_url: str | None,
    request_budget: float = 10.0,
    edge: dict[str, Any] | None = None,
    public_url: str | None = None,  # security: --public-url
    extract_key: str | None = None,  # docs/extract.md
) -> None:
    import uvicorn

    from demine.api import create_app
    from demine.store.open import open_store
    from demine.store.redact import redact_location

    open_store(db).kinds()  # fail early and clearly if there is no store
    app = create_app(
        db,
        tile_url=tile_url,
        request_budget_s=request_budget,
        public_url=public_url,  # security: every absolute link from it, Host ignored
        allowed_hosts=[] if host in ("0.0.0.0", "::", "") else [host],  # security: bind address
        extract_key=extract_key,
        **(edge or {}),
    )
    console(stderr=True).print(
        f"serving {redact_location(db)} on http://{host}:{port}/ (Ctrl-C to stop)", markup=False
    )
    if public_url:  # security
        console(stderr=True).print(f"links are built from {app.state.security.public_url}")
    # proxy_headers=False: X-Forwarded-For is the app's to judge (--trusted-proxy), not
    # uvicorn's (which would believe it from any local client); no "server: uvicorn" banner
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
    )


def serve(
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8000,
    tile_url: Annotated[
        str | None,
        typer.Option(
            "--tile-url",
            help="Base-map tile URL template for the map page "
            "({z}/{x}/{y}); the page works without one.",
        ),
    ] = None,
    request_budget: Annotated[
        float,
        typer.Option(
            "--request-budget",
            min=0.0,
            help="Seconds an OGC item listing (filter) or a vector tile may take before it is "
            "answered 503 with Retry-After (0: no limit).",
        ),
    ] = 10.0,
    # the edge limits (demine.api.edge, docs/web.md "Limits"):
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body",
            help="Largest request body, e.g. 16MiB, 512KiB or bytes (0: no limit); a larger "
            "one is refused with 413 before it is read.",
        ),
    ] = "16MiB",
    rate_limit: Annotated[
        int,
        typer.Option(
            "--rate-limit",
            min=0,
            help="Requests a minute per client address to the API, OGC and tile endpoints "
            "(a tile counts a quarter; 0: no limit).",
        ),
    ] = 600,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="Address or CIDR of a reverse proxy whose X-Forwarded-For is believed "
            "(repeat for several; none by default).",
        ),
    ] = None,
    max_route_km: Annotated[
        float,
        typer.Option("--max-route-km", min=0.001, help="Longest safety route checked, km."),
    ] = 1000.0,
    max_route_vertices: Annotated[
        int,
        typer.Option("--max-route-vertices", min=2, help="Most positions in a safety route."),
    ] = 10_000,
    max_route_radius: Annotated[
        float,
        typer.Option(
            "--max-route-radius", min=0, max=100_000, help="Widest radius of a safety route, m."
        ),
    ] = 10_000.0,
    public_url: Annotated[  # security
        str | None,
        typer.Option(
            "--public-url",
            help="The address clients reach the server at, e.g. https://example.org/demine "
            "(behind a reverse proxy): every absolute link is built from it and the Host "
            "header is ignored. Without it, links name the request's host only when it is "
            "the bound address or a loopback name, and are root-relative otherwise.",
        ),
    ] = None,
    report_limit: Annotated[
        list[str] | None,
        typer.Option(
            "--report-limit",
            help="A civilian-report limit per client, NAME=N/SECONDS (repeat for several): "
            "challenge=20/600, report=5/600, photo=10/600 and status=30/60 by default. Each "
            "server process counts on its own (docs/security.md).",
        ),
    ] = None,
    extract_key: Annotated[
        str | None,
        typer.Option(
            "--extract-key",
            envvar="DEMINE_EXTRACT_KEY",
            help="The private key land-status extracts are signed with (demine extract "
            "keygen); without it, extract requests are answered 503.",
        ),
    ] = None,
    pack_url: Annotated[
        str | None,
        typer.Option(
            "--pack-url",
            envvar="DEMINE_PACK_URL",
            help="The directory of an offline safety pack (demine publish) the map draws its "
            "hazards from and answers checks from when the server cannot be reached: "
            "https://host/path/ or a path on this server (docs/publish.md). Its host is "
            "added to the page's connect-src.",
        ),
    ] = None,
) -> None:
    """Serve the map, the public safety API, OGC API - Features and vector tiles."""
    from demine.api.edge import parse_networks, parse_size
    from demine.store.open import default_location

    with handled(False):
        try:
            body_bytes = parse_size(max_body)
        except ValueError as e:
            raise ValidationError("bad --max-body", [Fault(str(e), field="--max-body")]) from None
        try:
            parse_networks(trusted_proxy or [])
        except ValueError as e:
            raise ValidationError(
                "bad --trusted-proxy", [Fault(str(e), field="--trusted-proxy")]
            ) from None
        from demine.api.civilian import parse_limits

        edge = {
            "public_report_limits": parse_limits(report_limit or []),
            "max_body_bytes": body_bytes,
            "rate_limit_per_minute": rate_limit,
            "trusted_proxies": list(trusted_proxy or []),
            "max_route_m": max_route_km * 1000.0,
            "max_route_vertices": max_route_vertices,
            "max_route_radius_m": max_route_radius,
        }
        from demine.api.security import pack_url_checked

        if pack_url:  # refused before the server starts, naming the option
            edge["pack_url"] = pack_url_checked(pack_url, field="--pack-url")
        _serve(
            default_location(db or state.db),
            host,
            port,
            tile_url,
            request_budget,
            edge,
            public_url,
            extract_key,
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(demo)
    app.command()(serve)
