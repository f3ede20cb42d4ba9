"""``demine forms``: the form specifications (:mod:`demine.services.forms`) and their
XLSForms for ODK Collect and KoboToolbox (:mod:`demine.services.xlsform`; docs/field.md
"ODK Collect and KoboToolbox")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from demine.cli.common import DbOpt, JsonOpt, console, print_json, state, with_store

forms_app = typer.Typer(
    name="forms",
    help="Form specifications and XLSForms (ODK Collect, KoboToolbox).",
    no_args_is_help=True,
)

KindArg = Annotated[
    str,
    typer.Argument(
        metavar="KIND",
        help="The kind: hazards, finds, eo_reports, activities, releases, accidents, "
        "eore_sessions, ...",
    ),
]
ForOpt = Annotated[
    str | None,
    typer.Option(
        "--for",
        help="The role whose form it is (default: --role): fields that role may not set are "
        "left out, and a role that may not write the kind has no form (exit 5).",
    ),
]


def _role(for_role: str | None) -> str:
    from demine.services.access import check_role

    return check_role(for_role) if for_role is not None else state.role


@forms_app.command("list")
def forms_list(for_role: ForOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The forms a role may fill in: kind, title and version."""
    from demine.services.forms import form_list

    with with_store(db, as_json) as store:
        out = form_list(store, _role(for_role))
        if as_json:
            print_json({"forms": out})
            return
        for f in out:
            console().print(f"{f['kind']}: {f['title']['en']} ({f['version']})", markup=False)


@forms_app.command("show")
def forms_show(kind: KindArg, for_role: ForOpt = None, db: DbOpt = None) -> None:
    """One form's specification as JSON (what GET /api/v1/forms/KIND answers)."""
    from demine.services.forms import form_spec

    with with_store(db, True) as store:
        print_json(form_spec(store, kind, _role(for_role)))


@forms_app.command("xlsform")
def forms_xlsform(
    kind: KindArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write it here (default: demine_KIND.xlsx)."),
    ] = None,
    lang: Annotated[
        str,
        typer.Option("--lang", help="Labels in en, uk or both (default; English first)."),
    ] = "both",
    for_role: ForOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the XLSForm of a kind's form (survey, choices, settings) for ODK Central or
    KoboToolbox; its submissions' exports import with `demine import` / `demine submit`."""
    from demine.files import write_private
    from demine.services.forms import form_spec
    from demine.services.xlsform import languages, workbook_bytes

    with with_store(db, as_json) as store:
        languages(lang)
        spec = form_spec(store, kind, _role(for_role))
        data = workbook_bytes(spec, lang)
        target = output or Path(f"demine_{spec['kind']}.xlsx")
        write_private(target, data)
        out = {"kind": spec["kind"], "file": str(target), "version": spec["version"]}
        if as_json:
            print_json({**out, "bytes": len(data), "lang": lang})
        else:
            console().print(
                f"wrote the XLSForm of {spec['kind']} (version {spec['version']}) to {target}",
                markup=False,
            )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.add_typer(forms_app, name="forms")
