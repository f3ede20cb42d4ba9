"""``demine init``, ``import``, ``validate``, ``export``, ``list``, ``show``, ``history``,
``restore``, ``update``, ``delete``: the register of records, over
:mod:`demine.services.register`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    as_role,
    console,
    current_role,
    handled,
    open_db,
    print_json,
    state,
    synthetic_banner,
    with_store,
)
from demine.errors import Fault, ValidationError

if TYPE_CHECKING:
    from demine.services.register import ImportOptions, ImportReport


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
        store = open_db(db)  # a postgresql:// URL makes a PostGIS schema
        info = init_store(store, area_of_interest=aoi)
        store.close()
        if as_json:
            print_json(info)
        else:
            console().print(
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
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="GeoJSON: refuse members RFC 7946 §7.1 forbids where they are (a FeatureCollection's "
        '"properties", a Feature\'s "coordinates"...); without it they are warnings and ignored.',
    ),
]
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
    strict: bool = False,
) -> ImportOptions:
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
        strict=strict,
    )


def _print_report(report: ImportReport, verb: str) -> None:
    con = console()
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
    strict: StrictOpt = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import records from a file. Re-importing the same source ids updates them."""
    import sys

    from demine.services.register import import_file

    with with_store(db, as_json) as store:
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
            strict,
        )
        progress = None
        if not as_json and sys.stderr.isatty():
            from rich.progress import Progress

            bar = Progress(console=console(stderr=True), transient=True)
            task = bar.add_task(f"checking {file.name}", total=None)
            bar.start()

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

        try:
            try:
                report = import_file(store, file, opts, progress=progress, role=current_role())
            except ValidationError as e:
                if as_json:
                    from demine.services.register import group_rejects

                    print_json(
                        {
                            "imported": 0,
                            "stored": False,
                            "rejected": group_rejects(e.faults),
                            "error": e.to_problem(),
                        }
                    )
                    raise typer.Exit(1) from None
                raise
        finally:
            if progress is not None:
                bar.stop()
        if as_json:
            print_json(report.to_dict())
        else:
            _print_report(report, "imported")


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
    strict: StrictOpt = False,
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
            strict,
        )
        report = validate_file(file, opts)
        if as_json:
            d = report.to_dict()
            d["valid"] = not report.rejected
            print_json(d)
        else:
            con = console()
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


def export(
    out: Annotated[Path, typer.Argument(help="Output file: .geojson, .gpkg or .csv.")],
    kind: KindOpt,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export one kind of record to a file (format from the suffix)."""
    from demine.services.register import export_file

    with with_store(db, as_json) as store:
        n = export_file(store, kind, out, role=state.role)
        if as_json:
            print_json({"exported": n, "file": str(out), "kind": kind})
        else:
            console().print(f"exported {n} {kind} records to {out}")


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
        from demine.services.access import for_role, require_read

        store = open_db(db)
        k = store.kind(kind)
        require_read(k, state.role)
        synthetic = synthetic_banner(store, as_json)
        recs = [
            v
            for r in store.list(k.name, limit=limit)
            if (v := for_role(k, r, state.role)) is not None
        ]
        if as_json:
            print_json(
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
        console().print(t)


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


def show(
    record_id: IdArg,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one record, whatever its kind."""
    from demine.services.register import show as show_

    with with_store(db, as_json) as store:
        synthetic = synthetic_banner(store, as_json)
        r = show_(store, record_id, role=state.role)
        if as_json:
            d = r.to_dict()
            d["synthetic"] = synthetic
            print_json(d)
            return
        con = console()
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


def history(
    record_id: IdArg,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List every revision of a record: who, when, why, and what changed."""
    from demine.services.register import history as history_

    with with_store(db, as_json) as store:
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
            print_json({"id": revs[0].record_id, "kind": revs[0].kind, "revisions": out})
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
        console().print(t)


def restore(
    record_id: IdArg,
    revision: Annotated[int, typer.Option("--revision", help="The revision to bring back.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring back an earlier revision of a record (also undoes a delete), as a new revision."""
    from demine.services.records import WriteContext
    from demine.services.register import restore as restore_

    with with_store(db, as_json) as store:
        ctx = WriteContext(role=current_role(), reason=reason)
        r = restore_(store, record_id, revision, ctx=ctx)
        if as_json:
            print_json(as_role(store, r))
        else:
            console().print(
                f"restored {r.kind} {r.id} from revision {revision}: now revision {r.revision}"
            )


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
    from demine.services.records import WriteContext
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
        store = open_db(db)
        ctx = WriteContext(role=current_role(), reason=reason)
        r = update_record(store, record_id, changes, if_revision=if_revision, ctx=ctx)
        if as_json:
            print_json(as_role(store, r))
        else:
            console().print(f"updated {r.kind} {r.id}: now revision {r.revision}")


def delete(
    record_id: IdArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    if_revision: Annotated[int | None, typer.Option("--if-revision")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a record. Its history is kept; 'demine restore' brings it back."""
    from demine.services.records import WriteContext
    from demine.services.register import delete_record

    with with_store(db, as_json) as store:
        ctx = WriteContext(role=current_role(), reason=reason)
        rev = delete_record(store, record_id, if_revision=if_revision, ctx=ctx)
        if as_json:
            print_json(
                {
                    "id": rev.record_id,
                    "kind": rev.kind,
                    "revision": rev.revision,
                    "op": rev.op,
                    "at": rev.at,
                }
            )
        else:
            console().print(
                f"deleted {rev.kind} {rev.record_id} (revision {rev.revision}); "
                "restore with 'demine restore'"
            )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(init)
    app.command("import")(import_)
    app.command()(validate)
    app.command()(export)
    app.command("list")(list_)
    app.command()(show)
    app.command()(history)
    app.command()(restore)
    app.command()(update)
    app.command()(delete)
