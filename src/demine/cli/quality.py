"""``demine quality KIND FILE`` and ``demine quality KIND --id RECORD_ID``: the quality score,
the missing minimum data, the plausibility findings and the candidate matches of each feature
of a file (as a submission of it would get them) or of a stored record
(:mod:`demine.services.quality_report`); ``--save-minimum-data FILE`` keeps a store's own
minimum data (docs/quality.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from demine.cli.common import DbOpt, JsonOpt, console, current_role, print_json, with_store
from demine.errors import Fault, ValidationError


def quality(
    kind: Annotated[
        str | None,
        typer.Argument(help="The kind: hazards, finds, activities, releases, accidents, ..."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Argument(help="A file of features to assess as submissions (GeoJSON, CSV, ...)."),
    ] = None,
    record_id: Annotated[
        str | None, typer.Option("--id", help="Assess this stored record instead of a file.")
    ] = None,
    near: Annotated[
        float,
        typer.Option("--near", help="Candidates: geometries within this many metres are near."),
    ] = 100.0,
    limit: Annotated[int, typer.Option("--limit", help="Candidates per feature, at most.")] = 5,
    save_minimum_data: Annotated[
        Path | None,
        typer.Option(
            "--save-minimum-data",
            help="Check this TOML file of minimum data and keep it in the store (admin); the "
            "kinds it gives replace the built-in ones. An empty file clears it.",
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Quality of submissions: minimum data, geocheck, plausibility, score and candidates."""
    from demine.services import quality_report as qr
    from demine.services.quality import save_minimum_data as save

    role = current_role()
    with with_store(db, as_json) as store:
        if save_minimum_data is not None:
            qr.require_settings_admin(role)
            try:
                text = save_minimum_data.read_text(encoding="utf-8")
            except OSError as e:
                raise ValidationError(
                    f"cannot read {save_minimum_data}",
                    [Fault(e.strerror or str(e), source=str(save_minimum_data))],
                ) from None
            kinds = save(store, text.strip() or None, source=save_minimum_data.name)
            if kind is None:
                out = {"saved": sorted(kinds), "source": save_minimum_data.name}
                if as_json:
                    print_json(out)
                else:
                    what = ", ".join(sorted(kinds)) or "none (cleared: the built-in applies)"
                    console().print(f"minimum data saved for: {what}", markup=False)
                return
        if kind is None or (file is None) == (record_id is None):
            raise ValidationError(
                "give a KIND and either a FILE or --id RECORD_ID",
                [Fault("expected KIND FILE or KIND --id RECORD_ID", field="arguments")],
            )
        if file is not None:
            res = qr.assess_file(store, kind, file, role=role, near_m=near, limit=limit)
        else:
            assert record_id is not None
            res = qr.assess_record(store, kind, record_id, role=role, near_m=near, limit=limit)
        if as_json:
            print_json(res)
            return
        _print(res)


def _print(res: dict[str, Any]) -> None:
    con = console()
    items = res.get("features", [res])
    for it in items:
        q = it["quality"]
        head = f"feature {it['index']}" if "index" in it else f"{res['kind']} {it['id']}"
        sid = f" (source id {it['source_id']})" if it.get("source_id") else ""
        upd = f", updates {it['updates']}" if it.get("updates") else ""
        con.print(f"{head}{sid}{upd}: score {q['score']}", markup=False)
        if q["missing"]:
            con.print(f"  missing minimum data: {', '.join(q['missing'])}", markup=False)
        for i in q["issues"]:
            if i["rule"] == "completeness":
                continue
            con.print(f"  -{i['deduction']:g} {i['rule']}: {i['message']}", markup=False)
        for c in it["candidates"]:
            con.print(f"  candidate {c['id']}: {'; '.join(c['reasons'])}", markup=False)
    if "features" in res:
        con.print(
            f"{len(items)} features, mean score {res['mean_score']}, "
            f"{res['incomplete']} missing minimum data",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add this module's command to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(quality)
