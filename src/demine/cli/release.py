"""``demine release``: a hazard's land-release account, closure, hand-over and certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    handled,
    open_db,
    print_json,
    state,
    synthetic_banner,
    with_store,
)
from demine.errors import Fault, ValidationError
from demine.files import write_private

release_app = typer.Typer(
    name="release",
    help="Land release (IMAS 07.11): a hazard's account (released by type, overlaps, parts "
    "outside, what remains), closure, hand-over and the completion certificate.",
    no_args_is_help=True,
)

HazardArg = Annotated[str, typer.Argument(metavar="HAZARD_ID", help="Hazard id.")]
OnOpt = Annotated[str, typer.Option("--on", help="Date YYYY-MM-DD.")]


def _hazard_id(text: str) -> str:
    from demine.ids import is_uuid, normalise_id

    if not is_uuid(text):
        raise ValidationError(
            f"{text!r} is not a record id (a UUID)", [Fault("not a UUID", field="HAZARD_ID")]
        )
    return normalise_id(text)


def _m2(x: float) -> str:
    return f"{x:,.1f} m² ({x / 10_000:,.2f} ha)"


@release_app.command("status")
def status_cmd(hazard_id: HazardArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """A hazard's land-release account: area, released by type, remaining, overlaps, parts
    outside the hazard, activities, and whether it can close (and why not)."""
    from demine.services.release import hazard_account

    with with_store(db, as_json) as store:
        synthetic = synthetic_banner(store, as_json)
        acc = hazard_account(store, _hazard_id(hazard_id), role=state.role)
        if as_json:
            print_json({"synthetic": synthetic, **acc})
            return
        from rich.table import Table

        con = console()
        name = acc["name"] or acc["reference"] or acc["hazard_id"]
        con.print(f"[bold]{name}[/] ({acc['hazard_id']}): {acc['status']}", markup=True)
        t = Table("", "area", title="Land release account (geodesic, WGS 84)")
        t.add_row("hazard", _m2(acc["area_m2"]))
        for k, v in acc["by_type"].items():
            t.add_row(f"  {k}", _m2(v))
        t.add_row("released", _m2(acc["released_m2"]))
        t.add_row("remaining", _m2(acc["remaining_m2"]))
        con.print(t)
        for o in acc["overlaps"]:
            con.print(
                f"overlap: release {o['release_id']} repeats {o['overlap_m2']:,.1f} m² already "
                f"released by {', '.join(o['with'])} (counted once)",
                markup=False,
            )
        for o in acc["outside"]:
            con.print(
                f"outside: release {o['release_id']} has {o['outside_m2']:,.1f} m² outside the "
                "hazard (not counted)",
                markup=False,
            )
        if acc["activities"]:
            ta = Table("activity", "type", "status", "organisation", "started", "completed")
            for a in acc["activities"]:
                ta.add_row(
                    a["activity_id"],
                    a["activity_type"],
                    a["status"],
                    a["organisation"] or "",
                    a["started_on"] or "",
                    a["completed_on"] or "",
                )
            con.print(ta)
        if acc["can_close"]:
            con.print("can close: yes")
        else:
            con.print("can close: no", markup=False)
            for r in acc["reasons"]:
                con.print(f"  - {r}", markup=False)


@release_app.command("close")
def close_cmd(
    hazard_id: HazardArg,
    on: OnOpt,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in history).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a hazard: refused (exit 4, with every reason) unless nothing remains and
    completed activities made all its releases."""
    from demine.model.kinds import KINDS
    from demine.services.access import require_write
    from demine.services.release import close_hazard

    with handled(as_json):
        require_write(KINDS["hazards"], state.role)
        store = open_db(db)
        r = close_hazard(store, _hazard_id(hazard_id), on, reason=reason)
        if as_json:
            print_json(
                {
                    "id": r.id,
                    "status": r.properties["status"],
                    "revision": r.revision,
                    "closed_on": r.properties.get("closed_on"),
                }
            )
        else:
            console().print(f"closed hazard {r.id} on {r.properties['closed_on']}")


@release_app.command("handover")
def handover_cmd(
    hazard_id: HazardArg,
    to: Annotated[str, typer.Option("--to", help="Who receives the land (community, user).")],
    on: OnOpt,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that a closed hazard's land was handed over (status handed_over)."""
    from demine.model.kinds import KINDS
    from demine.services.access import require_write
    from demine.services.release import hand_over

    with handled(as_json):
        require_write(KINDS["hazards"], state.role)
        store = open_db(db)
        r = hand_over(store, _hazard_id(hazard_id), to, on)
        if as_json:
            print_json(
                {
                    "id": r.id,
                    "status": r.properties["status"],
                    "revision": r.revision,
                    "handed_over_on": r.properties.get("handed_over_on"),
                }
            )
        else:
            console().print(
                f"hazard {r.id} handed over on {r.properties['handed_over_on']}", markup=False
            )


@release_app.command("certificate")
def certificate_cmd(
    hazard_id: HazardArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the HTML here (default: standard output)."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """A printable HTML land-release certificate for a closed or handed-over hazard."""
    import sys

    from demine.services.certificate import certificate_html

    with handled(False):
        store = open_db(db)
        text = certificate_html(store, _hazard_id(hazard_id), role=state.role)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            write_private(output, text)
            console(stderr=True).print(f"wrote {output}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.add_typer(release_app, name="release")
