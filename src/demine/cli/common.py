"""What every command shares: the global options' state, the shared options, the store, output
and error mapping. Public, so that each command module (one per command group) uses the same.

Exit codes: 0 ok, 1 invalid input (every fault listed), 2 other error or bad usage,
3 not found, 4 conflict, 5 permission denied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from demine.cli.output import console as console
from demine.cli.output import print_json as print_json
from demine.errors import DemineError, ValidationError

if TYPE_CHECKING:
    from demine.model.schema import Record
    from demine.store.base import Store

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
    """The global options (``demine --db DB --role ROLE COMMAND``), set by the app's callback."""

    db: str | None = None
    role: str = "analyst"


state = State()


def open_db(db: str | None) -> Store:
    """The store of the command's ``--db``, else the global ``--db``, ``$DEMINE_DB`` or
    ./demine.gpkg (a ``postgresql://`` URL opens the PostGIS backend)."""
    from demine.store.open import open_store

    return open_store(db or state.db)


def current_role() -> str:
    """The --role the command runs as: writes are refused (exit 5) where the role may not
    write (demine.services.access.WRITERS; docs/web.md)."""
    return state.role


def as_role(store: Store, r: Record) -> dict[str, Any]:
    """A record just written, as the --role may see it: restricted fields left out, and only
    its id, kind and revision when the role may not read it at all."""
    from demine.services.access import for_role

    v = for_role(store.kind(r.kind), r, state.role)
    if v is None:
        return {"id": r.id, "kind": r.kind, "revision": r.revision}
    out: dict[str, Any] = v.to_dict()
    return out


def fail(e: DemineError, as_json: bool) -> NoReturn:
    """Report ``e`` (as JSON or as a message with every fault) and exit with its code."""
    if as_json:
        print_json({"error": e.to_problem()})
    else:
        con = console(stderr=True)
        con.print(f"[bold red]error:[/] {e.message}", markup=True)
        if isinstance(e, ValidationError):
            for f in e.faults[:200]:
                con.print(f"  - {f}", markup=False)
            if len(e.faults) > 200:
                con.print(f"  ... and {len(e.faults) - 200} more (use --json for all)")
    raise typer.Exit(e.exit_code)


def submitted(sub: dict[str, Any], as_json: bool) -> None:
    """Say that a write became a submission waiting for review (exit 0)."""
    if as_json:
        keys = ("id", "state", "kind", "action", "organisation", "target_id")
        print_json({"submission": {k: sub[k] for k in keys}})
    else:
        console().print(
            f"submitted for review: submission {sub['id']} ({sub['action']} {sub['kind']}); "
            "nothing is a record until it is approved ('demine review show ID')",
            markup=False,
        )


def synthetic_banner(store: Store, as_json: bool) -> bool:
    """Whether the store holds SYNTHETIC data; if so, say it on stderr (unless --json)."""
    try:
        synthetic = bool(store.setting("synthetic"))
    except DemineError:
        return False
    if synthetic and not as_json:
        from demine.model.synthetic import SYNTHETIC_NOTICE

        console(stderr=True).print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    return synthetic


@contextmanager
def handled(as_json: bool) -> Iterator[None]:
    """Map demine errors to a message and an exit code; a write that became a submission
    (a field team's or an operator's) prints the submission's id."""
    from demine.services.submitting import Submitted

    try:
        yield
    except Submitted as s:
        submitted(s.submission, as_json)
    except DemineError as e:
        fail(e, as_json)
    except Exception as e:  # a store driver's failure (full disk, lost connection): no traceback
        from demine.store.open import store_failure

        mapped = store_failure(e)
        if mapped is None:
            raise
        fail(mapped, as_json)


@contextmanager
def with_store(db: str | None, as_json: bool) -> Iterator[Store]:
    """The start of most commands: errors mapped (:func:`handled`), then the store opened
    (:func:`open_db`)::

        with with_store(db, as_json) as store:
            ...
    """
    with handled(as_json):
        yield open_db(db)
