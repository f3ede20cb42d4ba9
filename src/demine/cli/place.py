"""``demine check``'s place read from its arguments (LAT LON, "LAT,LON" or --lat/--lon) and
its answer printed as text. No typer here: the quick path of ``demine check``
(:mod:`demine.cli.quick`) reads and prints with the same code as the full one."""

from __future__ import annotations

from typing import Any

from demine.cli.output import console
from demine.errors import Fault, ValidationError

PLACE_HELP = (
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


_DATE_TYPE = {
    "eo_reports": ("reported_at", "status"),
    "accidents": ("occurred_at", "accident_type"),
}


def print_answer(
    told: dict[str, Any], kinds: tuple[str, ...], radius: float, y: float, x: float
) -> None:
    from rich.table import Table

    """``demine check``'s answer as text: the level and message, a table of the hazards, the
    EO reports and accidents asked for, and the notice when no hazard is near."""
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
