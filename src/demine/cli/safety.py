"""``demine check``: recorded hazards near a place, over :mod:`demine.services.safety`."""

from __future__ import annotations

from typing import Annotated

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    current_role,
    handled,
    print_json,
    synthetic_banner,
    with_store,
)
from demine.cli.place import PLACE_HELP as _PLACE_HELP
from demine.cli.place import parse_place, print_answer


def check(
    place: Annotated[
        list[str] | None, typer.Argument(metavar="LAT LON | LAT,LON", help=_PLACE_HELP)
    ] = None,
    lat: Annotated[
        str | None,
        typer.Option("--lat", help="Latitude, decimal degrees north (WGS 84), -90..90."),
    ] = None,
    lon: Annotated[
        str | None,
        typer.Option("--lon", help="Longitude, decimal degrees east (WGS 84), -180..180."),
    ] = None,
    radius: Annotated[float, typer.Option("--radius", help="Search radius, metres.")] = 500.0,
    include_closed: Annotated[
        bool, typer.Option("--include-closed", help="Also list closed hazards.")
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            help="Also list what else was recorded within the radius: eo_reports, accidents "
            "(comma-separated). Either is a reason for caution, not a recorded hazard. Only "
            "what --role may read is shown.",
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which recorded hazards are within RADIUS metres of a place? Nearest first; 0 m = inside."""
    from demine.services.safety import answer, check_point
    from demine.services.safety_nearby import check_nearby, parse_include

    with handled(as_json):  # the input first: a bad place is named before the store is opened
        y, x = parse_place(place or [], lat, lon)
        kinds = parse_include(include)
    with with_store(db, as_json) as store:
        synthetic = synthetic_banner(store, as_json)
        hits = check_point(store, y, x, radius, include_closed=include_closed)
        nearby = check_nearby(store, y, x, radius, kinds, current_role()) if kinds else None
        # the answer the HTTP safety API gives: warning level, messages, notice
        told = answer([h.to_dict() for h in hits], radius, synthetic, {"lat": y, "lon": x}, nearby)
        if as_json:
            print_json(told)
            return
        print_answer(told, kinds, radius, y, x)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`). ``check`` takes
    unknown options as arguments, so that a negative coordinate (-73.47) is a value."""
    app.command(context_settings={"ignore_unknown_options": True})(check)
