"""``demine check``: recorded hazards near a place, over :mod:`demine.services.safety`."""

from __future__ import annotations

from typing import Annotated

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    print_json,
    synthetic_banner,
    with_store,
)


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
    from demine.services.safety import answer, check_point

    with with_store(db, as_json) as store:
        synthetic = synthetic_banner(store, as_json)
        hits = check_point(store, lat, lon, radius, include_closed=include_closed)
        # the answer the HTTP safety API gives: warning level, messages, notice
        told = answer([h.to_dict() for h in hits], radius, synthetic, {"lat": lat, "lon": lon})
        if as_json:
            print_json(told)
            return
        con = console()
        con.print(f"[bold]{told['warning_level'].upper()}[/]: {told['message']}")
        if not hits:
            con.print(told["notice"], markup=False)
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


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(check)
