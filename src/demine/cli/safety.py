"""``demine check``: recorded hazards near a place, over :mod:`demine.services.safety`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    current_role,
    handled,
    print_json,
    synthetic_banner,
    with_store,
)
from demine.errors import Fault, ValidationError

_PLACE_HELP = (
    "The place: LAT LON (negative values as typed: 6.74 -73.47), or one LAT,LON "
    '("6.74,-73.47"); or give --lat and --lon instead.'
)
_FORMS = 'give LAT LON, "LAT,LON", or --lat LAT --lon LON'


def _number(text: str, what: str, field: str) -> float | Fault:
    t = text.strip()
    try:
        v = float(t)
    except ValueError:
        expected = "-90..90" if what == "latitude" else "-180..180"
        return Fault(
            f"{t!r} is not a number: expected the {what} in decimal degrees, {expected}",
            field=field,
        )
    return v


def parse_place(place: list[str], lat: str | None, lon: str | None) -> tuple[float, float]:
    """The place of ``demine check`` from LAT LON, "LAT,LON" or --lat/--lon; every fault names
    the argument it is in and what was expected."""
    from demine.services.safety import place_faults

    faults: list[Fault] = []
    if place and (lat is not None or lon is not None):
        raise ValidationError(
            "cannot check this place",
            [Fault(f"the place is given twice: {_FORMS}, not both", field="--lat/--lon")],
        )
    unknown = [t for t in place if t.startswith("-") and not t[1:2].isdigit() and t[1:2] != "."]
    if unknown:
        raise ValidationError(
            "cannot check this place",
            [Fault(f"no such option {t!r} (see demine check --help)", field=t) for t in unknown],
        )
    if place:
        joined = " ".join(place)
        parts = [p.strip() for p in (joined.split(",") if "," in joined else joined.split())]
        field_lat, field_lon = ("LAT,LON", "LAT,LON") if "," in joined else ("LAT", "LON")
        if len(parts) != 2 or not all(parts):
            raise ValidationError(
                "cannot check this place",
                [
                    Fault(
                        f"expected a latitude and a longitude, got {joined!r}: {_FORMS} "
                        "(decimal degrees with a point: 6.74 -73.47)",
                        field=field_lat,
                    )
                ],
            )
        texts = (parts[0], parts[1])
    else:
        field_lat, field_lon = "--lat", "--lon"
        missing = [n for n, v in (("--lat", lat), ("--lon", lon)) if v is None]
        if missing:
            raise ValidationError(
                "cannot check this place",
                [Fault(f"{n} is missing: {_FORMS}", field=n) for n in missing],
            )
        texts = (str(lat), str(lon))
    values = [
        _number(texts[0], "latitude", field_lat),
        _number(texts[1], "longitude", field_lon),
    ]
    faults = [v for v in values if isinstance(v, Fault)]
    if not faults:
        y, x = float(values[0]), float(values[1])  # type: ignore[arg-type]
        faults = place_faults(y, x, field_lat, field_lon)
        if not faults:
            return y, x
    raise ValidationError("cannot check this place", faults)


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
        _print(told, kinds, radius, y, x)


_DATE_TYPE = {
    "eo_reports": ("reported_at", "status"),
    "accidents": ("occurred_at", "accident_type"),
}


def _print(told: dict[str, Any], kinds: tuple[str, ...], radius: float, y: float, x: float) -> None:
    from rich.table import Table

    con = console()
    con.print(f"[bold]{told['warning_level'].upper()}[/]: ", end="")
    con.print(told["message"], markup=False)
    if told["hazards"]:
        t = Table(
            "distance",
            "id",
            "name",
            "type",
            "status",
            "devices",
            title=f"Recorded hazards within {radius:g} m of {y}, {x}",
        )
        for d in told["hazards"]:
            t.add_row(
                "INSIDE" if d["inside"] else f"{d['distance_m']:,.0f} m",
                d["id"],
                d["name"] or "",
                d["hazard_type"] or "",
                d["status"] or "",
                d["device_categories"] or "",
            )
        con.print(t)
    for kind in kinds:
        items = told[kind]
        what = "EO reports" if kind == "eo_reports" else "Accidents"
        if not items:
            con.print(f"No {what.lower()} within {radius:g} m.", markup=False)
            continue
        date, typ = _DATE_TYPE[kind]
        n = told["counts"][kind]
        shown = f", the nearest {len(items)} of {n}" if n > len(items) else ""
        why = "unconfirmed, " if kind == "eo_reports" else ""
        con.print(f"{what} within {radius:g} m ({why}a reason for caution{shown}):", markup=False)
        for d in items:  # one line each, the id whole (to be copied into `demine show`)
            details = [d.get("device_category"), d.get("device_type"), d.get("description")]
            con.print(
                f"  {d['distance_m']:>7,.0f} m  {str(d.get(date) or '')[:10]:<10}  "
                f"{d.get(typ) or '':<9}  {d['id']}  " + "; ".join(str(v) for v in details if v),
                markup=False,
            )
    if not told["hazards"]:
        con.print(told["notice"], markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`). ``check`` takes
    unknown options as arguments, so that a negative coordinate (-73.47) is a value."""
    app.command(context_settings={"ignore_unknown_options": True})(check)
