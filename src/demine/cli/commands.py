"""The commands of ``demine``. Each is a few lines over a service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    _console,
    _out,
    _store,
    _synthetic_banner,
    app,
    handled,
)
from demine.errors import Fault, ValidationError


@app.command()
def init(
    db: DbOpt = None,
    area_of_interest: Annotated[
        str | None,
        typer.Option(
            "--area-of-interest",
            help="minlon,minlat,maxlon,maxlat: imports check "
            "that geometries fall inside (and detect swapped lat/lon); 'UA' for "
            "Ukraine.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a store (a GeoPackage file, or a PostGIS schema for a postgresql:// URL) with its
    tables and the device-type catalogue."""
    from demine.services.setup import UKRAINE_BBOX, init_store
    from demine.store.base import open_store

    with handled(as_json):
        aoi = None
        if area_of_interest:
            if area_of_interest.upper() == "UA":
                aoi = UKRAINE_BBOX
            else:
                try:
                    a = tuple(float(x) for x in area_of_interest.split(","))
                    assert len(a) == 4 and a[0] < a[2] and a[1] < a[3]
                except (ValueError, AssertionError):
                    raise ValidationError(
                        "bad --area-of-interest",
                        [
                            Fault(
                                "expected minlon,minlat,maxlon,maxlat with min < max",
                                field="--area-of-interest",
                            )
                        ],
                    ) from None
                aoi = a
        from demine.cli.common import state

        store = open_store(db or state.db)  # a postgresql:// URL makes a PostGIS schema
        info = init_store(store, area_of_interest=aoi)
        store.close()
        if as_json:
            _out(info)
        else:
            _console().print(
                f"store ready: {info['location']} "
                f"({info['device_types_created']} device types added)"
            )


def _parse_mapping(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ValidationError(
                "bad --map", [Fault(f"{item!r}: expected SOURCE_FIELD=DEMINE_FIELD", field="--map")]
            )
        a, b = item.split("=", 1)
        out[a.strip()] = b.strip()
    return out


IdArg = Annotated[str, typer.Argument(metavar="ID", help="Record id (UUID).")]
KindOpt = Annotated[
    str,
    typer.Option(
        "--kind",
        "-k",
        help="A kind (hazards, emplacements, finds, eo_reports, activities, releases, accidents, "
        "victims, eore_sessions, ...) or layer:NAME",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map", help="SOURCE_FIELD=DEMINE_FIELD (repeatable): rename source fields on import."
    ),
]
LayerOpt = Annotated[str | None, typer.Option("--layer", help="Source layer (GeoPackage).")]
WktOpt = Annotated[str | None, typer.Option("--wkt-column", help="CSV: the WKT column.")]
LonOpt = Annotated[str | None, typer.Option("--lon-column", help="CSV: the longitude column.")]
LatOpt = Annotated[str | None, typer.Option("--lat-column", help="CSV: the latitude column.")]
JumpOpt = Annotated[
    float | None,
    typer.Option(
        "--max-vertex-jump",
        help="Fault consecutive vertices further apart than this many metres (GICHD "
        "geocheck; default 5000 for records, off for layers; 0 turns it off).",
    ),
]


def _options(
    kind: str,
    skip_invalid: bool,
    repair: bool,
    mapping: list[str] | None,
    layer: str | None,
    wkt: str | None,
    lon: str | None,
    lat: str | None,
    reason: str | None = None,
    max_jump: float | None = None,
) -> Any:
    from demine.services.register import ImportOptions

    return ImportOptions(
        kind=kind,
        skip_invalid=skip_invalid,
        repair=repair,
        mapping=_parse_mapping(mapping),
        layer=layer,
        wkt_column=wkt,
        lon_column=lon,
        lat_column=lat,
        reason=reason,
        max_jump_m=max_jump,
    )


def _print_report(report: Any, verb: str) -> None:
    con = _console()
    for f in report.repairs:
        con.print(f"  repaired: {f}", markup=False)
    for f in report.warnings[:50]:
        con.print(f"  warning: {f}", markup=False)
    if len(report.warnings) > 50:
        con.print(f"  ... and {len(report.warnings) - 50} more warnings")
    for r in report.rejected:
        con.print(f"  rejected: feature {r['index']}: {r['reason']}", markup=False)
    con.print(
        f"{verb}: {report.imported} of {report.total} features "
        f"({report.created} new, {report.updated} updated, {report.unchanged} unchanged), "
        f"{len(report.rejected)} rejected"
    )


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or CSV file.")],
    kind: KindOpt,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help=(
                "Store the good features and list the rest (default: one bad feature rejects the "
                "whole file)."
            ),
        ),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help=(
                "Repair what can be repaired (unclosed rings, swapped lat/lon, self-intersections, "
                "duplicate vertices) and list each repair."
            ),
        ),
    ] = False,
    mapping: MapOpt = None,
    layer: LayerOpt = None,
    wkt_column: WktOpt = None,
    lon_column: LonOpt = None,
    lat_column: LatOpt = None,
    max_vertex_jump: JumpOpt = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import records from a file. Re-importing the same source ids updates them."""
    import sys

    from demine.services.register import import_file

    with handled(as_json):
        store = _store(db)
        opts = _options(
            kind,
            skip_invalid,
            repair,
            mapping,
            layer,
            wkt_column,
            lon_column,
            lat_column,
            reason,
            max_vertex_jump,
        )
        progress = None
        if not as_json and sys.stderr.isatty():
            from rich.progress import Progress

            bar = Progress(console=_console(stderr=True), transient=True)
            task = bar.add_task(f"checking {file.name}", total=None)
            bar.start()

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

        try:
            try:
                report = import_file(store, file, opts, progress=progress, role=_role())
            except ValidationError as e:
                if as_json:
                    from demine.services.register import _group_rejects

                    _out(
                        {
                            "imported": 0,
                            "stored": False,
                            "rejected": _group_rejects(e.faults),
                            "error": e.to_problem(),
                        }
                    )
                    raise typer.Exit(1) from None
                raise
        finally:
            if progress is not None:
                bar.stop()
        if as_json:
            _out(report.to_dict())
        else:
            _print_report(report, "imported")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or CSV file.")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="Kind to check against.")] = "hazards",
    repair: Annotated[bool, typer.Option("--repair", help="Show what --repair would do.")] = False,
    mapping: MapOpt = None,
    layer: LayerOpt = None,
    wkt_column: WktOpt = None,
    lon_column: LonOpt = None,
    lat_column: LatOpt = None,
    max_vertex_jump: JumpOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the import checks on a file without storing anything. Exit 1 if any fault."""
    from demine.services.register import validate_file

    with handled(as_json):
        opts = _options(
            kind,
            False,
            repair,
            mapping,
            layer,
            wkt_column,
            lon_column,
            lat_column,
            None,
            max_vertex_jump,
        )
        report = validate_file(file, opts)
        if as_json:
            d = report.to_dict()
            d["valid"] = not report.rejected
            _out(d)
        else:
            con = _console()
            for f in report.repairs:
                con.print(f"  would repair: {f}", markup=False)
            for f in report.warnings[:50]:
                con.print(f"  warning: {f}", markup=False)
            for r in report.rejected:
                con.print(f"  fault: feature {r['index']}: {r['reason']}", markup=False)
            ok = not report.rejected
            con.print(
                f"{file.name}: {report.total} features, "
                f"{'no faults' if ok else str(len(report.rejected)) + ' with faults'}"
            )
        if report.rejected:
            raise typer.Exit(1)


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Output file: .geojson, .gpkg or .csv.")],
    kind: KindOpt,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export one kind of record to a file (format from the suffix)."""
    from demine.services.register import export_file

    with handled(as_json):
        store = _store(db)
        from demine.cli.common import state

        n = export_file(store, kind, out, role=state.role)
        if as_json:
            _out({"exported": n, "file": str(out), "kind": kind})
        else:
            _console().print(f"exported {n} {kind} records to {out}")


@app.command("list")
def list_(
    kind: Annotated[
        str,
        typer.Argument(
            help="A kind (hazards, activities, releases, accidents, victims, ...) or a layer name."
        ),
    ],
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the records of one kind."""
    with handled(as_json):
        from demine.cli.common import state
        from demine.services.access import for_role, require_read

        store = _store(db)
        k = store.kind(kind)
        require_read(k, state.role)
        synthetic = _synthetic_banner(store, as_json)
        recs = [
            v
            for r in store.list(k.name, limit=limit)
            if (v := for_role(k, r, state.role)) is not None
        ]
        if as_json:
            _out(
                {
                    "kind": k.name,
                    "synthetic": synthetic,
                    "count": len(recs),
                    "records": [r.to_dict() for r in recs],
                }
            )
            return
        from rich.table import Table

        cols = SUMMARY.get(k.name) or [f.name for f in k.fields][:5]
        t = Table("id", *cols, "rev", title=f"{k.title} ({len(recs)})")
        for r in recs:
            t.add_row(r.id, *(_cell(r.properties.get(c)) for c in cols), str(r.revision))
        _console().print(t)


SUMMARY = {
    "hazards": ["name", "hazard_type", "status", "area_m2"],
    "emplacements": ["device_type", "quantity", "laid_at"],
    "finds": ["device_type", "state", "found_at"],
    "eo_reports": ["reported_at", "status"],
    "device_types": ["code", "category", "persistence"],
}


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


@app.command()
def show(
    record_id: IdArg,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one record, whatever its kind."""
    from demine.services.register import show as show_

    with handled(as_json):
        store = _store(db)
        synthetic = _synthetic_banner(store, as_json)
        from demine.cli.common import state

        r = show_(store, record_id, role=state.role)
        if as_json:
            d = r.to_dict()
            d["synthetic"] = synthetic
            _out(d)
            return
        con = _console()
        con.print(
            f"[bold]{r.kind}[/] {r.id}  revision {r.revision}, updated {r.updated_at} "
            f"by {r.updated_by}"
        )
        if r.source_id:
            con.print(f"  source_id: {r.source_id}", markup=False)
        for k_, v in {**r.properties, **r.extra}.items():
            con.print(f"  {k_}: {v}", markup=False)
        if r.geometry is not None:
            con.print(
                f"  geometry: {r.geometry.geom_type}, bounds "
                f"{tuple(round(b, 6) for b in r.geometry.bounds)}"
            )


@app.command()
def history(
    record_id: IdArg,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List every revision of a record: who, when, why, and what changed."""
    from demine.services.register import history as history_

    with handled(as_json):
        store = _store(db)
        from demine.cli.common import state

        revs = history_(store, record_id, role=state.role)
        if as_json:
            out = []
            prev = None
            for h in revs:
                out.append(
                    {
                        "revision": h.revision,
                        "op": h.op,
                        "at": h.at,
                        "actor": h.actor,
                        "reason": h.reason,
                        "before": None if prev is None else prev.to_dict(),
                        "after": None if h.state is None else h.state.to_dict(),
                    }
                )
                prev = h.state
            _out({"id": revs[0].record_id, "kind": revs[0].kind, "revisions": out})
            return
        from rich.table import Table

        t = Table(
            "rev",
            "op",
            "at",
            "actor",
            "reason",
            "changes",
            title=f"history of {revs[0].kind} {revs[0].record_id}",
        )
        prev_props: dict[str, Any] = {}
        for h in revs:
            props = {} if h.state is None else {**h.state.properties, **h.state.extra}
            if h.op == "delete":
                change = "deleted"
            else:
                changed = sorted(
                    k for k in set(props) | set(prev_props) if props.get(k) != prev_props.get(k)
                )
                change = ", ".join(changed[:8]) + (" ..." if len(changed) > 8 else "")
            t.add_row(str(h.revision), h.op, h.at, h.actor, h.reason or "", change)
            if h.state is not None:
                prev_props = props
        _console().print(t)


def _role() -> str:
    """The --role the command runs as: writes are refused (exit 5) where the role may not
    write (demine.services.access.WRITERS; docs/web.md)."""
    from demine.cli.common import state

    return state.role


def _as_role(store: Any, r: Any) -> dict[str, Any]:
    """A record just written, as the --role may see it: restricted fields left out, and only
    its id, kind and revision when the role may not read it at all."""
    from demine.cli.common import state
    from demine.services.access import for_role

    v = for_role(store.kind(r.kind), r, state.role)
    if v is None:
        return {"id": r.id, "kind": r.kind, "revision": r.revision}
    out: dict[str, Any] = v.to_dict()
    return out


@app.command()
def restore(
    record_id: IdArg,
    revision: Annotated[int, typer.Option("--revision", help="The revision to bring back.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring back an earlier revision of a record (also undoes a delete), as a new revision."""
    from demine.services.register import restore as restore_

    with handled(as_json):
        store = _store(db)
        r = restore_(store, record_id, revision, reason=reason, role=_role())
        if as_json:
            _out(_as_role(store, r))
        else:
            _console().print(
                f"restored {r.kind} {r.id} from revision {revision}: now revision {r.revision}"
            )


@app.command()
def update(
    record_id: IdArg,
    values: Annotated[
        list[str],
        typer.Argument(metavar="FIELD=VALUE...", help="New values; FIELD= clears a field."),
    ],
    if_revision: Annotated[
        int | None,
        typer.Option("--if-revision", help="Refuse if the record is no longer at this revision."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change fields of a record, as a new revision (validated like an import)."""
    from demine.services.records import update as update_record

    with handled(as_json):
        changes: dict[str, Any] = {}
        for v in values:
            if "=" not in v:
                raise ValidationError(
                    "bad FIELD=VALUE", [Fault(f"{v!r}: expected FIELD=VALUE", field=v)]
                )
            a, b = v.split("=", 1)
            changes[a.strip()] = b if b != "" else None
        store = _store(db)
        r = update_record(
            store, record_id, changes, if_revision=if_revision, reason=reason, role=_role()
        )
        if as_json:
            _out(_as_role(store, r))
        else:
            _console().print(f"updated {r.kind} {r.id}: now revision {r.revision}")


@app.command()
def delete(
    record_id: IdArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    if_revision: Annotated[int | None, typer.Option("--if-revision")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a record. Its history is kept; 'demine restore' brings it back."""
    from demine.services.register import delete_record

    with handled(as_json):
        store = _store(db)
        rev = delete_record(store, record_id, reason=reason, if_revision=if_revision, role=_role())
        if as_json:
            _out(
                {
                    "id": rev.record_id,
                    "kind": rev.kind,
                    "revision": rev.revision,
                    "op": rev.op,
                    "at": rev.at,
                }
            )
        else:
            _console().print(
                f"deleted {rev.kind} {rev.record_id} (revision {rev.revision}); "
                "restore with 'demine restore'"
            )


@app.command()
def check(
    lat: Annotated[float, typer.Argument(help="Latitude, decimal degrees (WGS 84).")],
    lon: Annotated[float, typer.Argument(help="Longitude, decimal degrees (WGS 84).")],
    radius: Annotated[float, typer.Option("--radius", help="Search radius, metres.")] = 500.0,
    include_closed: Annotated[
        bool, typer.Option("--include-closed", help="Also list closed hazards.")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which recorded hazards are within RADIUS metres of a place? Nearest first; 0 m = inside."""
    from demine.services.safety import check_point

    with handled(as_json):
        store = _store(db)
        synthetic = _synthetic_banner(store, as_json)
        hits = check_point(store, lat, lon, radius, include_closed=include_closed)
        if as_json:
            _out(
                {
                    "lat": lat,
                    "lon": lon,
                    "radius_m": radius,
                    "synthetic": synthetic,
                    "hazards": [h.to_dict() for h in hits],
                }
            )
            return
        con = _console()
        if not hits:
            con.print(
                f"No recorded hazard within {radius:g} m of {lat}, {lon}. This is not "
                "proof that the place is safe: report anything suspicious."
            )
            return
        from rich.table import Table

        t = Table(
            "distance",
            "id",
            "name",
            "type",
            "status",
            "devices",
            title=f"Recorded hazards within {radius:g} m of {lat}, {lon}",
        )
        for h in hits:
            d = h.to_dict()
            t.add_row(
                "INSIDE" if d["inside"] else f"{d['distance_m']:,.0f} m",
                d["id"],
                d["name"] or "",
                d["hazard_type"] or "",
                d["status"] or "",
                d["device_categories"] or "",
            )
        con.print(t)


@app.command()
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
    from demine.services.demo import build_demo_store

    with handled(as_json):
        from demine.store.redact import is_url, redact_location

        if is_url(db):
            raise ValidationError(
                "the demo store is a GeoPackage file",
                [Fault(f"{redact_location(db)}: expected a file path", field="--db")],
            )
        info = build_demo_store(Path(db), seed=seed)
        if as_json:
            _out(info)
        else:
            con = _console()
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
                    f"  {d} report annual --year 2025 -o demo-report.html",
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
) -> None:
    import uvicorn

    from demine.api import create_app
    from demine.store.base import open_store
    from demine.store.redact import redact_location

    open_store(db).kinds()  # fail early and clearly if there is no store
    app = create_app(
        db,
        tile_url=tile_url,
        request_budget_s=request_budget,
        public_url=public_url,  # security: every absolute link from it, Host ignored
        allowed_hosts=[] if host in ("0.0.0.0", "::", "") else [host],  # security: bind address
        **(edge or {}),
    )
    _console(stderr=True).print(
        f"serving {redact_location(db)} on http://{host}:{port}/ (Ctrl-C to stop)", markup=False
    )
    if public_url:  # security
        _console(stderr=True).print(f"links are built from {app.state.security.public_url}")
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


@app.command()
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
) -> None:
    """Serve the map, the public safety API, OGC API - Features and vector tiles."""
    from demine.api.edge import parse_networks, parse_size
    from demine.cli.common import state
    from demine.store.base import default_location

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
        edge = {
            "max_body_bytes": body_bytes,
            "rate_limit_per_minute": rate_limit,
            "trusted_proxies": list(trusted_proxy or []),
            "max_route_m": max_route_km * 1000.0,
            "max_route_vertices": max_route_vertices,
            "max_route_radius_m": max_route_radius,
        }
        _serve(
            default_location(db or state.db), host, port, tile_url, request_budget, edge, public_url
        )


@app.command()
def copy(
    src: Annotated[str, typer.Argument(help="Source store: a .gpkg file or postgresql://...")],
    dst: Annotated[str, typer.Argument(help="Destination store (empty or new).")],
    as_json: JsonOpt = False,
) -> None:
    """Copy a whole store to another backend, history, layers, users and tokens included."""
    from demine.services.copy import copy_store
    from demine.store.base import open_store

    with handled(as_json):
        info = copy_store(open_store(src), open_store(dst))
        if as_json:
            _out(info)
        else:
            _console().print(
                f"copied {info['revisions']} revisions to {info['destination']}: "
                + ", ".join(f"{n} {k}" for k, n in info["records"].items() if n)
            )


user_app = typer.Typer(name="user", help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(
    name="token", help="API tokens (shown once; only a hash is kept).", no_args_is_help=True
)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def _admin(store_db: str | None) -> Any:
    """The store, for a user or token command: they need the admin role (--role admin or
    DEMINE_ROLE=admin; exit 5 otherwise), as the web API's table of rights says."""
    from demine.cli.common import state
    from demine.services.access import require_user_admin

    require_user_admin(state.role)
    return _store(store_db)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str, typer.Option("--role", help="public, field, analyst, admin or victim_assistance.")
    ] = "field",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user, or change the role of an existing one (admin role)."""
    from demine.services.access import check_role

    with handled(as_json):
        check_role(role)
        store = _admin(db)
        store.add_user(name, role)
        if as_json:
            _out({"user": name, "role": role})
        else:
            _console().print(f"user {name}: role {role}")


@user_app.command("list")
def user_list(
    removed: Annotated[bool, typer.Option("--removed", help="Also list removed users.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the users and their roles (admin role)."""
    with handled(as_json):
        rows = [u for u in _admin(db).user_rows() if removed or u["removed_at"] is None]
        if as_json:
            _out(
                {
                    "users": [
                        {
                            "user": u["name"],
                            "role": u["role"],
                            "created_at": u["created_at"],
                            "removed_at": u["removed_at"],
                        }
                        for u in rows
                    ]
                }
            )
        else:
            for u in rows:
                gone = f"\tremoved {u['removed_at']}" if u["removed_at"] else ""
                _console().print(f"{u['name']}\t{u['role']}{gone}", markup=False)


@user_app.command("remove")
def user_remove(
    name: Annotated[str, typer.Argument(help="The user to remove.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a user: every token of theirs is revoked at once; the user is kept as removed
    (the history names who made each change). 'user add' brings them back, without tokens."""
    with handled(as_json):
        n = _admin(db).remove_user(name)
        if as_json:
            _out({"user": name, "removed": True, "tokens_revoked": n})
        else:
            _console().print(f"removed user {name}; revoked {n} token(s)")


DEFAULT_TOKEN_DAYS = 90


def _expiry(text: str) -> str | None:
    """--expires-in DAYS|never as the expiry time (UTC), or None for never."""
    import re
    from datetime import UTC, datetime, timedelta

    from demine.model.schema import format_datetime

    if text == "never":
        return None
    try:
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError
        days = int(text)
        if not 1 <= days <= 36500:
            raise ValueError
    except ValueError:
        raise ValidationError(
            f"bad --expires-in {text!r}",
            [
                Fault(
                    "expected a whole number of days from 1 to 36500, or 'never'",
                    field="--expires-in",
                )
            ],
        ) from None
    return format_datetime(datetime.now(UTC).replace(microsecond=0) + timedelta(days=days))


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The user the token is for.")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    expires_in: Annotated[
        str,
        typer.Option(
            "--expires-in",
            help=f"Days until the token expires (default {DEFAULT_TOKEN_DAYS}), or 'never'.",
        ),
    ] = str(DEFAULT_TOKEN_DAYS),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token for a user (admin role). It is printed once: keep it."""
    from demine.services.access import new_token

    with handled(as_json):
        expires_at = _expiry(expires_in)
        store = _admin(db)
        token, digest = new_token()
        tid = store.add_token(name, digest, label, expires_at=expires_at)
        if as_json:
            _out({"user": name, "token": token, "id": tid, "expires_at": expires_at})
        else:
            print(token)
            _console(stderr=True).print(
                f"token {tid} for {name}, "
                + (f"expires {expires_at}" if expires_at else "never expires"),
                markup=False,
            )


@token_app.command("list")
def token_list(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List tokens (admin role): id, user, role, label, created, expires, last used, state.
    Never the token itself (only its hash is kept)."""
    with handled(as_json):
        rows = _admin(db).token_list(name)
        if as_json:
            _out({"tokens": rows})
            return
        from rich.table import Table

        t = Table("id", "user", "role", "label", "created", "expires", "last used", "state")
        for r in rows:
            t.add_row(
                r["id"],
                r["user"],
                r["role"] or "",
                r["label"] or "",
                r["created_at"] or "",
                r["expires_at"] or "never",
                r["last_used_at"] or "",
                r["state"],
            )
        _console().print(t)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[
        str | None, typer.Argument(help="The token's id (from 'demine token list').")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Revoke every token of this user instead.")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke one token by its id, or every token of a user with --user (admin role)."""
    with handled(as_json):
        if (token_id is None) == (user is None):
            raise ValidationError(
                "say which tokens to revoke",
                [Fault("give a token ID or --user NAME (not both)", field="ID")],
            )
        store = _admin(db)
        if token_id is not None:
            from demine.errors import NotFound

            try:
                done = store.revoke_token(token_id)
            except NotFound as e:
                if any(u["name"] == token_id for u in store.user_rows()):
                    raise NotFound(
                        f"{e.message}; to revoke every token of user {token_id}: "
                        f"demine token revoke --user {token_id}"
                    ) from None
                raise
            if as_json:
                _out({"id": token_id, "revoked": 1 if done else 0})
            else:
                _console().print(
                    f"revoked token {token_id}" if done else f"token {token_id} was already revoked"
                )
            return
        assert user is not None
        n = store.revoke_tokens(user)
        if as_json:
            _out({"user": user, "revoked": n})
        else:
            _console().print(f"revoked {n} token(s) of {user}")


from demine.cli.risk import risk_app  # noqa: E402

app.add_typer(risk_app, name="risk")
