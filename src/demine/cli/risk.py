"""``demine risk``: residual-risk estimates and learning from clearance."""

from __future__ import annotations

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

risk_app = typer.Typer(
    name="risk",
    help="Residual risk of non-persistent mines: estimates, and learning from clearance. "
    "Estimates inform; they never change a hazard's status.",
    no_args_is_help=True,
)

DrawsOpt = Annotated[int, typer.Option("--draws", help="Monte Carlo draws.", min=100)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same numbers).")]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


COUNT_LABEL = "live devices, predictive 5–95 %"
COUNT_NOTE = "(the count itself, with chance)"
RATES_LABEL = "expected live 5–95 % (uncertainty of the rates only)"
COUNT_CAPTION = (
    "expected live 5–95 % is the uncertainty of the rates only, not a range of counts; "
    "live devices, predictive 5–95 % is the range of the number of live devices itself, "
    "with chance"
)


def _count_text(d: dict[str, float]) -> str:
    """The predictive range of the number of live devices, labelled apart from the interval
    of the expected number."""
    return f"{COUNT_LABEL}: {d['live_count_p05']:.0f}–{d['live_count_p95']:.0f} {COUNT_NOTE}"


@risk_app.command("estimate")
def estimate_cmd(
    device_type: Annotated[str, typer.Option("--device-type", help="Device type code.")],
    quantity: Annotated[
        float, typer.Option("--quantity", help="Number laid (best estimate).", min=0)
    ],
    days: Annotated[float, typer.Option("--days", help="Days since laying.")],
    low: Annotated[
        float | None, typer.Option("--min", help="Lowest estimate of the number.")
    ] = None,
    high: Annotated[
        float | None, typer.Option("--max", help="Highest estimate of the number.")
    ] = None,
    draws: DrawsOpt = 1000,
    seed: SeedOpt = 0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expected live devices and the chance that at least one is live, DAYS after laying
    (analyst and above: it uses the failure rates learned from clearance)."""
    from demine.services.risk import estimate_device_type, require_full_risk

    with handled(as_json):
        require_full_risk(state.role, "run estimates for a chosen quantity")
        store = open_db(db)
        est = estimate_device_type(
            store, device_type, quantity, [days], low=low, high=high, draws=draws, seed=seed
        )
        d = est.to_dicts()[0]
        d.pop("date", None)
        out = {
            "device_type": device_type,
            "quantity": quantity,
            "quantity_min": low,
            "quantity_max": high,
            "days": days,
            **d,
            "draws": est.draws,
            "seed": est.seed,
            "assumptions": est.assumptions,
        }
        if as_json:
            print_json(out)
            return
        con = console()
        con.print(
            f"{quantity:g} × {device_type}, {days:g} days after laying: "
            f"[bold]{d['expected_live']:.2f}[/] expected live "
            f"(expected live 5–95 % (uncertainty of the rates only): "
            f"{d['expected_live_p05']:.2f}–{d['expected_live_p95']:.2f}); "
            f"chance at least one is live [bold]{_pct(d['p_any_live'])}[/] "
            f"(averaged over the uncertainty {_pct(d['p_any_live_mean'])})"
        )
        con.print(f"  {_count_text(d)}")
        for a in est.assumptions:
            con.print(f"  assumption: {a}", markup=False)


@risk_app.command("hazard")
def hazard_cmd(
    hazard_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="Hazard id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every hazard.")] = False,
    at: Annotated[str | None, typer.Option("--at", help="Date YYYY-MM-DD (default today).")] = None,
    series: Annotated[
        tuple[str, str, int] | None,
        typer.Option(
            "--series", metavar="START END STEP", help="Dates from START to END every STEP days."
        ),
    ] = None,
    draws: DrawsOpt = 1000,
    seed: SeedOpt = 0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Residual estimate per hazard (summed over its emplacement records), at a date or over
    a series of dates. Roles below analyst (--role public, field, victim_assistance) see the
    chance that a device is live as a band, without quantities or failure rates."""
    import numpy as np

    from demine.ids import is_uuid, normalise_id
    from demine.services.risk import full_risk, parse_date, role_hazard_risks, today_day

    with handled(as_json):
        if (hazard_id is None) == (not all_):
            raise ValidationError(
                "say which hazard", [Fault("give a hazard ID or --all (not both)", field="ID")]
            )
        if hazard_id is not None and not is_uuid(hazard_id):
            raise ValidationError(
                f"{hazard_id!r} is not a record id (a UUID)", [Fault("not a UUID", field="ID")]
            )
        if at is not None and series is not None:
            raise ValidationError(
                "--at or --series, not both", [Fault("choose one", field="--at/--series")]
            )
        if series is not None:
            start, end, step = series
            a, b = parse_date(start, "--series START"), parse_date(end, "--series END")
            if step <= 0 or b < a:
                raise ValidationError(
                    "bad --series",
                    [Fault("END must not be before START, and STEP > 0", field="--series")],
                )
            dates = np.arange(a, b + 0.5, step, dtype=float)
        else:
            dates = np.array([parse_date(at, "--at") if at else today_day()])
        store = open_db(db)
        synthetic = synthetic_banner(store, as_json)
        views = role_hazard_risks(
            store,
            dates,
            state.role,
            hazard_id=None if all_ else normalise_id(hazard_id),
            draws=draws,
            seed=seed,
        )
        if as_json:
            print_json({"synthetic": synthetic, "hazards": views})
            return
        from rich.table import Table

        if not full_risk(state.role):
            t = Table(
                "hazard",
                "date",
                "P(≥1 live)",
                "notes",
                title="Residual risk (information only: it never releases land)",
                caption="the chance is shown as a band; device numbers and failure rates are "
                "for analysts",
            )
            for v in views:
                name = v["name"] or v["id"]
                if v.get("released"):
                    t.add_row(name, "", "released", "released: no estimate")
                    continue
                if not v["known"]:
                    t.add_row(name, "", "unknown", "no emplacement record: unknown, not safe")
                    continue
                for i, d in enumerate(v["estimates"]):
                    t.add_row(
                        name if i == 0 else "",
                        d["date"],
                        d["p_any_live_band"],
                        "; ".join(v["notes"]) if i == 0 else "",
                    )
            console().print(t)
            return

        t = Table(
            "hazard",
            "date",
            f"expected live ({RATES_LABEL})",
            f"{COUNT_LABEL} {COUNT_NOTE}",
            "P(≥1 live)",
            "notes",
            title="Residual risk (information only: it never releases land)",
            caption=COUNT_CAPTION,
        )
        for v in views:
            name = v["name"] or v["id"]
            if v.get("released"):
                t.add_row(name, "", "released", "released", "released", "released: no estimate")
                continue
            if not v["known"]:
                t.add_row(
                    name,
                    "",
                    "unknown",
                    "unknown",
                    "unknown",
                    "no emplacement record: unknown, not safe",
                )
                continue
            for i, d in enumerate(v["estimates"]):
                t.add_row(
                    name if i == 0 else "",
                    d["date"],
                    f"{d['expected_live']:.2f} ({d['expected_live_p05']:.2f}–"
                    f"{d['expected_live_p95']:.2f})",
                    f"{d['live_count_p05']:.0f}–{d['live_count_p95']:.0f}",
                    _pct(d["p_any_live"]),
                    "; ".join(v["notes"]) if i == 0 else "",
                )
        console().print(t)


@risk_app.command("learn")
def learn_cmd(
    accept_below_limit: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-below-limit",
            metavar="TYPE",
            help="Sign off, as an analyst, that this treaty-limit device type may get a learned "
            "rate below the treaty limit (recorded with the update, with --reason; repeatable).",
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the sign-off (required with it).")
    ] = None,
    withdraw_sign_off: Annotated[
        list[str] | None,
        typer.Option(
            "--withdraw-sign-off",
            metavar="TYPE",
            help="Withdraw an earlier sign-off: the type's rates are floored at the treaty "
            "limits again (repeatable).",
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Update the failure-rate beliefs per device type from finds and accidents in cleared
    areas that have emplacement records, and store them with their evidence
    (docs/risk-model.md#learning-from-clearance)."""
    from demine.services.register import current_actor
    from demine.services.risk import learn, require_full_risk

    with handled(as_json):
        require_full_risk(state.role, "learn failure rates")
        store = open_db(db)
        learned = learn(  # written through the one write path, which checks the role
            store,
            accept_below_limit=accept_below_limit or (),
            reason=reason,
            withdraw_sign_off=withdraw_sign_off or (),
            actor=f"demine risk ({current_actor()})",
            role=state.role,
        )
        if as_json:
            print_json({"learned": [x.to_dict() for x in learned]})
            return
        con = console()
        if not learned:
            con.print(
                "no evidence yet: finds linked to emplacement records on cleared land "
                "(closed hazards, releases of type cleared) teach the model"
            )
            return
        from rich.table import Table

        t = Table(
            "device type",
            "rate",
            "prior mean",
            "evidence",
            "posterior mean",
            title="Learned from clearance",
        )
        for x in learned:
            post = f"{x.posterior.mean:.4g}"
            if x.reverted:
                post += " (reverted to the prior: evidence gone)"
            elif x.floored and x.update is not None:
                post += f" (floored at the treaty limit; the update gave {x.update.mean:.4g})"
            elif x.sign_off:
                post += f" (below-limit sign-off: {x.sign_off})"
            t.add_row(
                x.device_type,
                x.parameter,
                f"{x.prior.mean:.4g}",
                f"{x.successes} of {x.trials}",
                post,
            )
        con.print(t)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.add_typer(risk_app, name="risk")
