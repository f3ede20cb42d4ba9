"""``demine duplicates KIND``: the exact and near duplicate groups among the stored records of a
kind and, for hazards, the open hazards that overlap (:mod:`demine.services.duplicates`)."""

from __future__ import annotations

from typing import Annotated

import typer

from demine.cli.common import DbOpt, JsonOpt, console, current_role, print_json, with_store
from demine.cli.importing import TolOpt


def duplicates(
    kind: Annotated[
        str,
        typer.Argument(
            help="hazards, finds, eo_reports, accidents, emplacements or releases.",
        ),
    ],
    tolerance: TolOpt = 1.0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List duplicate records of a kind (same place, date and type) and overlapping open
    hazards."""
    from demine.services.duplicates import stored_duplicates

    with with_store(db, as_json) as store:
        out = stored_duplicates(store, kind, tolerance_m=tolerance, role=current_role())
        if as_json:
            print_json(out)
            return
        from rich.table import Table

        con = console()
        groups = out["groups"]
        t = Table(
            "group", "match", "id", "source id", title=f"{kind}: {len(groups)} duplicate groups"
        )
        for n, g in enumerate(groups, 1):
            for i, r in enumerate(g["records"]):
                label = "kept (first)" if i == 0 else r["match"]
                t.add_row(str(n), label, r["id"], r["source_id"] or "")
        con.print(t)
        con.print(
            f"matched on: geometry or place within {tolerance:g} m, {', '.join(out['fields'])}"
        )
        pairs = out.get("overlapping_open_hazards")
        if pairs is not None:
            t = Table(
                "hazard",
                "name",
                "overlaps",
                "name",
                "overlap m²",
                title=f"{len(pairs)} pairs of open hazards overlap",
            )
            for p in pairs:
                a, b = p["first"], p["second"]
                t.add_row(
                    a["id"], a["name"] or "", b["id"], b["name"] or "", f"{p['overlap_m2']:,.1f}"
                )
            con.print(t)


def register(app: typer.Typer) -> None:
    """Add this module's command to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(duplicates)
