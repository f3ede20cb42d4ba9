"""``demine prioritize``: open hazards ranked by civilian impact, each score explained."""

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
)
from demine.errors import Fault, ValidationError

SHORT = {
    "population": "people",
    "settlements": "settl.",
    "schools": "school",
    "roads": "road",
    "farmland": "farm",
    "accidents": "accid.",
    "eo_reports": "EO rep.",
    "risk": "risk",
    "area": "area",
}


def prioritize_cmd(
    top: Annotated[
        int | None, typer.Option("--top", help="Show the first N hazards only.", min=1)
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file of weights and parameters (default: the one saved in the store, "
            "else the built-in one; see --show-config).",
        ),
    ] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Save the --config file's settings in the store.")
    ] = False,
    show_config: Annotated[
        bool,
        typer.Option("--show-config", help="Print the configuration in use as TOML and stop."),
    ] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Date of the residual-risk estimate, YYYY-MM-DD (today)."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank the open hazards by weighted factors (people nearby from a population raster,
    settlements, schools, roads, farmland, accidents and EO reports nearby, residual risk,
    area to release). Every score is broken down by factor, and missing data is listed.
    Analyst and above (as GET /api/v1/priorities): the scores carry exact residual-risk
    figures."""
    from demine.services.impact import prioritize, resolve_config, save_config
    from demine.services.risk import parse_date, require_full_risk

    with handled(as_json):
        require_full_risk(state.role, "see the priorities")
        if save and config is None:
            raise ValidationError(
                "--save needs --config FILE", [Fault("give the file to save", field="--save")]
            )
        day = parse_date(at, "--at") if at else None
        store = open_db(db)
        cfg = resolve_config(store, config)
        if show_config:
            typer.echo(cfg.to_toml(), nl=False)
            return
        if save:
            save_config(store, cfg)
        synthetic = synthetic_banner(store, as_json)
        result = prioritize(store, cfg, at=day, top=top, synthetic=synthetic)
        con = console(stderr=True)
        if as_json:
            print_json(result.hazards)
            for m in result.missing:
                con.print(f"missing: {m}", markup=False)
            return
        from rich.table import Table

        t = Table(
            "#",
            "hazard",
            "score",
            *(SHORT[f] for f in SHORT),
            title=f"Priorities (contribution = weight × value; * = missing data, fallback "
            f"value) — config: {result.config.source}; risk at {result.at}",
        )
        for r in result.hazards:
            cells = []
            for f in r["factors"]:
                cells.append(f"{f['contribution']:.2f}{'*' if f['fallback'] else ''}")
            t.add_row(str(r["rank"]), r["name"] or r["id"], f"{r['score']:.2f}", *cells)
        out = console()
        out.print(t)
        out.print(
            "weights: "
            + ", ".join(f"{f}={cfg.weight(f):g}" for f in SHORT)
            + f"; geometry: {result.geometry}",
            markup=False,
        )
        if result.missing:
            out.print("missing data:", markup=False)
            for m in result.missing:
                out.print(f"  - {m}", markup=False)
        if save:
            out.print(f"configuration from {config} saved in the store", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command("prioritize")(prioritize_cmd)
