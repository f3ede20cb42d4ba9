"""What every command shares: the Typer app, options, output and error mapping.

Exit codes: 0 ok, 1 invalid input (every fault listed), 2 other error or bad usage,
3 not found, 4 conflict, 5 permission denied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import orjson
import typer

from demine.errors import DemineError, ValidationError

app = typer.Typer(
    name="demine",
    help="demine: an open information system for humanitarian mine action.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store: a GeoPackage file (default $DEMINE_DB or ./demine.gpkg) or a "
        "postgresql://USER@HOST/DB?demine_schema=NAME URL.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class State:
    db: str | None = None
    role: str = "analyst"


state = State()


@app.callback()
def _main(
    db: DbOpt = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            envvar="DEMINE_ROLE",
            help="Whose view the output is for: public, field, analyst (default), admin or "
            "victim_assistance. Restricted fields (victims' personal data, reporters' "
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


def _store(db: str | None) -> Any:
    from demine.store.open import open_store

    return open_store(db or state.db)


def _out(data: Any) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _fail(e: DemineError, as_json: bool) -> NoReturn:
    if as_json:
        _out({"error": e.to_problem()})
    else:
        con = _console(stderr=True)
        con.print(f"[bold red]error:[/] {e.message}", markup=True)
        if isinstance(e, ValidationError):
            for f in e.faults[:200]:
                con.print(f"  - {f}", markup=False)
            if len(e.faults) > 200:
                con.print(f"  ... and {len(e.faults) - 200} more (use --json for all)")
    raise typer.Exit(e.exit_code)


def _synthetic_banner(store: Any, as_json: bool) -> bool:
    try:
        synthetic = bool(store.setting("synthetic"))
    except DemineError:
        return False
    if synthetic and not as_json:
        from demine.model.synthetic import SYNTHETIC_NOTICE

        _console(stderr=True).print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    return synthetic


@contextmanager
def handled(as_json: bool) -> Iterator[None]:
    """Map demine errors to a message and an exit code."""
    try:
        yield
    except DemineError as e:
        _fail(e, as_json)
    except Exception as e:  # a store driver's failure (full disk, lost connection): no traceback
        from demine.store.open import store_failure

        mapped = store_failure(e)
        if mapped is None:
            raise
        _fail(mapped, as_json)
