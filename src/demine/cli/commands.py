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
    """Create a store (a GeoPackage file) with its tables and the device-type catalogue."""
    from demine.services.setup import UKRAINE_BBOX, init_store
    from demine.store.base import default_location
    from demine.store.gpkg import GeoPackageStore

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

        store = GeoPackageStore(default_location(db or state.db))
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
                report = import_file(store, file, opts, progress=progress)
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
        r = restore_(store, record_id, revision, reason=reason)
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
    from demine.services.register import update_record

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
        r = update_record(store, record_id, changes, if_revision=if_revision, reason=reason)
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
        rev = delete_record(store, record_id, reason=reason, if_revision=if_revision)
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
    public_url: str | None = None,  # security: --public-url
) -> None:
    import uvicorn

    from demine.api import create_app
    from demine.store.base import open_store

    open_store(db).kinds()  # fail early and clearly if there is no store
    app = create_app(
        db,
        tile_url=tile_url,
        public_url=public_url,  # security: every absolute link from it, Host ignored
        allowed_hosts=[] if host in ("0.0.0.0", "::", "") else [host],  # security: bind address
    )
    _console(stderr=True).print(f"serving {db} on http://{host}:{port}/ (Ctrl-C to stop)")
    if public_url:  # security
        _console(stderr=True).print(f"links are built from {app.state.security.public_url}")
    # security: no "server: uvicorn" banner
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


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
    from demine.cli.common import state
    from demine.store.base import default_location

    with handled(False):
        _serve(default_location(db or state.db), host, port, tile_url, public_url)


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
                f"copied {info['revisions']} revisions to {dst}: "
                + ", ".join(f"{n} {k}" for k, n in info["records"].items() if n)
            )


user_app = typer.Typer(name="user", help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(
    name="token", help="API tokens (shown once; only a hash is kept).", no_args_is_help=True
)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str, typer.Option("--role", help="public, field, analyst, admin or victim_assistance.")
    ] = "field",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user, or change the role of an existing one."""
    from demine.services.access import check_role

    with handled(as_json):
        store = _store(db)
        store.add_user(name, check_role(role))
        if as_json:
            _out({"user": name, "role": role})
        else:
            _console().print(f"user {name}: role {role}")


@user_app.command("list")
def user_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List the users and their roles."""
    with handled(as_json):
        users = _store(db).users()
        if as_json:
            _out({"users": [{"user": n, "role": r} for n, r in users]})
        else:
            for n, r in users:
                _console().print(f"{n}\t{r}")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The user the token is for.")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token for a user. It is printed once: keep it."""
    from demine.services.access import new_token

    with handled(as_json):
        store = _store(db)
        token, digest = new_token()
        store.add_token(name, digest, label)
        if as_json:
            _out({"user": name, "token": token})
        else:
            print(token)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The user whose tokens to revoke.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke every token of a user."""
    with handled(as_json):
        n = _store(db).revoke_tokens(name)
        if as_json:
            _out({"user": name, "revoked": n})
        else:
            _console().print(f"revoked {n} token(s) of {name}")


from demine.cli.risk import risk_app  # noqa: E402

app.add_typer(risk_app, name="risk")
