"""The typer app of ``demine`` (see :mod:`demine.cli.app`, its entry point): the commands live in
one module per group and are registered here, in the order ``demine --help`` lists them; a new
group is a module with a ``register(app)`` function, added below.

Exit codes: 0 ok, 1 invalid input (every fault listed), 2 other error or bad usage,
3 not found, 4 conflict, 5 permission denied.
"""

from __future__ import annotations

from typing import Annotated

import typer

from demine.cli import (
    admin,
    attachments,
    duplicates,
    extract,
    forms,
    impact,
    intake,
    publish,
    quality,
    records,
    release,
    risk,
    safety,
    serve,
    stats,
)
from demine.cli.common import DbOpt, state

__all__ = ["app"]

app = typer.Typer(
    name="demine",
    help="demine: an open information system for humanitarian mine action.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    db: DbOpt = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            envvar="DEMINE_ROLE",
            help="Whose view the output is for: public, field, operator, analyst (default), "
            "reviewer, admin or victim_assistance (field and operator writes become "
            "submissions for review). Restricted fields (victims' personal data, reporters' "
            "contacts) are left out of lists, records, histories, exports and reports the role "
            "may not read.",
        ),
    ] = "analyst",
) -> None:
    """demine: hazard register, residual risk, civilian safety lookups, land release."""
    from demine.services.access import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    state.db = db
    state.role = role


records.register(
    app
)  # init, import, validate, export, list, show, history, restore, update, delete
safety.register(app)  # check
serve.register(app)  # demo, serve
admin.register(app)  # copy, user, token
risk.register(app)  # risk
impact.register(app)  # prioritize
release.register(app)  # release
stats.register(app)  # stats, chart, report
duplicates.register(app)  # duplicates
quality.register(app)  # quality
intake.register(app)  # organisations, submit, review
attachments.register(app)  # attach, attachments, attachment get
forms.register(app)  # forms list, show, xlsform
extract.register(app)  # extract keygen, keys, revoke, make, verify
publish.register(app)  # publish (the offline safety pack)
