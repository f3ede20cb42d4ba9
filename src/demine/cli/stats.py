"""``demine stats``, ``demine chart`` and ``demine report annual``: statistics, charts and the
annual report (docs/statistics.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

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
from demine.files import write_private

ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Reference layer of admin areas (imported with --kind layer:NAME) to split by.",
    ),
]
NameFieldOpt = Annotated[
    str | None,
    typer.Option(
        "--name-field",
        help="The layer's field that names each area (default: name, name_en, name_uk, "
        "region, ... or the first text field).",
    ),
]
PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="YEAR or YEAR-YEAR (inclusive; default: every year). A release "
        "counts in the year of its released_on.",
    ),
]


def _fmt(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "—" if v is None else str(v)


def _years(by_year: dict[str, int]) -> str:
    """``; by year: 2023 2, 2024 5, unknown date 1`` (nothing when there is no year)."""
    if not by_year:
        return ""
    cells = ", ".join(
        f"{'unknown date' if k == 'unknown' else k} {_fmt(v)}" for k, v in by_year.items()
    )
    return f"; by year: {cells}"


def stats_cmd(
    by: ByOpt = None,
    name_field: NameFieldOpt = None,
    period: PeriodOpt = None,
    as_csv: Annotated[
        bool,
        typer.Option("--csv", help="Print the land-release table (area x year) as CSV."),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Land cancelled, reduced and cleared; devices found; accidents and casualties (by year);
    EO reports; risk education: by admin area and period. Casualty counts under 5 show as '<5'
    unless the role is victim_assistance or admin."""
    from demine.services.stats import compute as compute_stats
    from demine.services.stats import land_release_csv

    with with_store(db, as_json) as store:
        if not as_json and not as_csv:
            synthetic_banner(store, False)
        st = compute_stats(store, role=state.role, by=by, name_field=name_field, period=period)
        if as_json:
            print_json(st)
            return
        if as_csv:
            sys.stdout.write(land_release_csv(st))
            sys.stdout.flush()
            return
        _print(st)


def _print(st: dict[str, Any]) -> None:
    from rich.table import Table

    con = console()
    per = st["period"]["label"] if st["period"] else "all years"
    land = st["land_release"]
    t = Table(title=f"Land released, {per} (m²)")
    for c in ("area", "period", "cancelled", "reduced", "cleared", "released"):
        t.add_column(c, justify="left" if c in ("area", "period") else "right")
    for r in land["rows"]:
        t.add_row(
            r["area"],
            r["period"],
            *(_fmt(r[f"{k}_m2"]) for k in ("cancelled", "reduced", "cleared", "released")),
        )
    tot = land["total"]
    t.add_row(
        "total",
        per,
        *(_fmt(tot[f"{k}_m2"]) for k in ("cancelled", "reduced", "cleared", "released")),
        style="bold",
    )
    con.print(t)
    hz = st["hazards"]
    con.print(
        f"Hazardous areas open at the end: {hz['open']} "
        f"(remaining {_fmt(hz['remaining_m2'])} m²); closed in the period: "
        f"{hz['closed_in_period']}",
        markup=False,
    )
    if hz.get("overlap_note"):
        con.print(f"  {hz['overlap_note']}", markup=False)
    dev = st["devices"]
    cats = ", ".join(f"{k} {v}" for k, v in dev["by_category"].items() if v) or "none"
    states = ", ".join(f"{k} {v}" for k, v in dev["by_state"].items() if v) or "none"
    con.print(f"Devices found: {dev['total']} — {cats}; by state: {states}", markup=False)
    acc = st["accidents"]
    types = ", ".join(f"{k} {v}" for k, v in acc["by_type"].items())
    con.print(f"Accidents: {acc['total']} ({types}){_years(acc['by_year'])}", markup=False)
    if acc.get("undated") and st.get("period"):
        con.print(
            f"  {acc['undated']} accident(s) of unknown date are in no period: not counted above",
            markup=False,
        )
    cas = st["casualties"]
    parts = []
    for name, b in cas["breakdowns"].items():
        if b["withheld"]:
            parts.append(f"{name}: withheld")
        else:
            cells = b["cells"].items()
            if name == "area":  # many areas: the ones with casualties
                cells = [(k, v) for k, v in cells if v]
            parts.append(f"{name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in cells))
    con.print(f"Casualties: {_fmt(cas['total'])} — " + "; ".join(parts), markup=False)
    if cas["rule"]:
        con.print(f"  {cas['rule']}", markup=False, style="dim")
    rep = st["eo_reports"]
    statuses = ", ".join(f"{k} {v}" for k, v in rep["by_status"].items() if v) or "none"
    con.print(
        f"EO reports{' (public reports only)' if rep['public_only'] else ''}: {rep['total']} "
        f"— by status: {statuses}; linked to a hazard: {rep['linked_to_hazard']}"
        f"{_years(rep['by_year'])}",
        markup=False,
    )
    eo = st["eore"]
    con.print(
        f"Risk education: {eo['sessions']} sessions, {eo['beneficiaries']} beneficiaries "
        f"(girls {eo['girls']}, boys {eo['boys']}, women {eo['women']}, men {eo['men']})",
        markup=False,
    )


def chart_cmd(
    name: Annotated[
        str, typer.Argument(help="released (per year), areas (per admin area) or devices.")
    ],
    out: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="svg or png (default: from the file name, else svg)."),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="en or uk.")] = "en",
    by: ByOpt = None,
    name_field: NameFieldOpt = None,
    period: PeriodOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A chart of the statistics as SVG or PNG (labelled SYNTHETIC for a synthetic store)."""
    from demine.errors import Fault, ValidationError
    from demine.services.charts import CHARTS, render
    from demine.services.stats import compute as compute_stats

    with handled(as_json):
        f = (fmt or (out.suffix.lstrip(".").lower() if out.suffix else "svg")).lower()
        if name not in CHARTS:
            raise ValidationError(
                f"unknown chart {name!r}", [Fault(f"expected one of {', '.join(CHARTS)}")]
            )
        if f not in ("svg", "png"):
            raise ValidationError(f"unknown format {f!r}", [Fault("expected svg or png")])
        if lang not in ("en", "uk"):
            raise ValidationError(f"unknown language {lang!r}", [Fault("expected en or uk")])
        store = open_db(db)
        st = compute_stats(store, role=state.role, by=by, name_field=name_field, period=period)
        data = render(st, name, f, lang)
        write_private(out, data)
        if as_json:
            print_json({"chart": name, "format": f, "file": str(out), "bytes": len(data)})
        else:
            console().print(f"wrote {out} ({len(data):,} bytes)", markup=False)


report_app = typer.Typer(
    name="report",
    help="Reports: the annual report (HTML, and PDF through headless Chromium).",
    no_args_is_help=True,
)


@report_app.command("annual")
def annual_cmd(
    year: Annotated[int, typer.Option("--year", help="The year reported on.", min=1900)],
    out: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="HTML file to write (default annual-report-YEAR.html)."
        ),
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option("--pdf", help="Also print it to this PDF (needs Chromium + Playwright)."),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the report: en (English) or uk (Ukrainian).")
    ] = "en",
    by: ByOpt = None,
    name_field: NameFieldOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The annual report: land-release tables (Landmine Monitor layout), Article 7 Forms C, F
    and I, accidents and casualties as aggregates."""
    from demine.services.report import LANGS, annual_html, html_to_pdf

    if lang not in LANGS:
        raise typer.BadParameter(
            f"{lang!r} is not a report language: expected one of {', '.join(LANGS)}",
            param_hint="'--lang'",
        )
    with with_store(db, as_json) as store:
        if not as_json:
            synthetic_banner(store, False)
        page = annual_html(store, year, role=state.role, by=by, name_field=name_field, lang=lang)
        html_path = out or Path(f"annual-report-{year}.html")
        write_private(html_path, page)
        done: dict[str, Any] = {
            "year": year,
            "html": str(html_path),
            "role": state.role,
            "lang": lang,
        }
        if pdf is not None:
            done["pdf"] = str(pdf)
            done["pdf_bytes"] = html_to_pdf(page, pdf, lang=lang)
        if as_json:
            print_json(done)
        else:
            con = console()
            con.print(f"wrote {html_path}", markup=False)
            if pdf is not None:
                con.print(f"wrote {pdf} ({done['pdf_bytes']:,} bytes)", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command("stats")(stats_cmd)
    app.command("chart")(chart_cmd)
    app.add_typer(report_app, name="report")
