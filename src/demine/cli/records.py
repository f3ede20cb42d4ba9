"""``demine init``, ``import``, ``validate``, ``export``, ``list``, ``show``, ``history``,
``restore``, ``update``, ``delete``: the register of records, over
:mod:`demine.services.register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
from demine.cli.importing import KindOpt, import_, validate
from demine.errors import Fault, ValidationError


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
    authority_name: Annotated[
        str | None,
        typer.Option(
            "--authority-name",
            help="The name of the national authority, the organisation AUTHORITY (default: "
            "National authority).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a store (a GeoPackage file, or a PostGIS schema for a postgresql:// URL) with its
    tables, the device-type catalogue and the authority organisation."""
    from demine.services.setup import UKRAINE_BBOX, init_store

    with handled(as_json):
        if authority_name is not None and not 1 <= len(authority_name.strip()) <= 200:
            raise ValidationError(  # before anything is made
                "bad --authority-name",
                [Fault("a name of 1 to 200 characters", field="--authority-name")],
            )
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
        if authority_name is not None:
            store.add_organisation("AUTHORITY", authority_name.strip(), "authority")
        info["authority"] = store.organisation("AUTHORITY")["name"]
        store.close()
        if as_json:
            print_json(info)
        else:
            console().print(
                f"store ready: {info['location']} "
                f"({info['device_types_created']} device types added)"
            )


IdArg = Annotated[str, typer.Argument(metavar="ID", help="Record id (UUID).")]


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
    from demine.errors import NotFound
    from demine.services.register import show as show_

    with with_store(db, as_json) as store:
        synthetic = synthetic_banner(store, as_json)
        merged: str | None = None
        try:
            r = show_(store, record_id, role=state.role)
        except NotFound:  # a merged record: say so and show the survivor
            from demine.ids import is_uuid, normalise_id

            new = store.redirect(normalise_id(record_id)) if is_uuid(record_id) else None
            if new is None:
                raise
            merged = normalise_id(record_id)
            r = show_(store, new, role=state.role)
        if as_json:
            d = r.to_dict()
            d["synthetic"] = synthetic
            if merged is not None:
                d["merged_from"] = merged
            print_json(d)
            return
        con = console()
        if merged is not None:
            con.print(f"{merged} was merged into {r.id}", markup=False)
        con.print(
            f"[bold]{r.kind}[/] {r.id}  revision {r.revision}, updated {r.updated_at} "
            f"by {r.updated_by}"
        )
        if r.source_id:
            con.print(f"  source_id: {r.source_id}", markup=False)
        if r.record_organisation:
            con.print(f"  record_organisation: {r.record_organisation}", markup=False)
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
