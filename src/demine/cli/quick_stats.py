"""``demine stats --json`` and ``--csv``'s quick path: the options read without typer (its app
of every command, and pydantic under it, take a good part of a short process's time), then the
same service (:func:`demine.services.stats.compute`) and the same output as the full command.

:func:`answer_stats` answers only ``demine [--db DB] [--role ROLE] stats`` with ``--json`` or
``--csv`` and any of ``--by``, ``--name-field``, ``--period``, ``--db`` (each at most once,
as ``--name value`` or ``--name=value``). Anything else (the table, ``--help``, an option it
does not know, a role that is not one) and any error (a layer that is not one, a bad period,
a store that cannot be read) it leaves to the full command, which then answers (and reports)
as it always has: nothing has been printed by then.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import Any

_GLOBAL = ("--db", "--role")
_VALUES = {"--by": "by", "--name-field": "name_field", "--period": "period", "--db": "db"}
_FLAGS = {"--json": "json", "--csv": "csv"}


class _Full(Exception):
    """The full command answers this one."""


def answer_stats(argv: list[str]) -> bool:
    """Answer ``demine [GLOBAL OPTIONS] stats ... --json`` (or ``--csv``) if it can be
    answered here exactly as the full command does; False (nothing printed) otherwise."""
    args = read_options(_parse, argv)
    if args is None:
        return False
    # the statistics make millions of objects (no reference cycles): a pass of the cyclic
    # garbage collector over them, set off by any allocation once they exist, takes longer
    # than printing them. The process ends after printing them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _answer(args)
    finally:
        if collecting:
            gc.enable()


def _answer(args: dict[str, Any]) -> bool:
    from demine.cli.output import print_json
    from demine.services.stats import compute, land_release_csv
    from demine.store.open import open_store

    try:
        store = open_store(args["db"])
        try:
            st = compute(
                store,
                role=args["role"],
                by=args["by"],
                name_field=args["name_field"],
                period=args["period"],
            )
        finally:
            store.close()
    except Exception:  # a DemineError, a driver's error, anything: the full command answers
        return False
    if args["json"]:
        print_json(st)
    else:
        sys.stdout.write(land_release_csv(st))
        sys.stdout.flush()
    return True


def _parse(argv: list[str]) -> dict[str, Any] | None:
    """The options of ``demine stats`` as the full command reads them, or None when it is
    not one this path answers."""
    got = global_options(argv, "stats")
    if got is None:
        return None
    db, role, i = got
    out: dict[str, Any] = {"db": None, "role": role}
    out.update(by=None, name_field=None, period=None, json=False, csv=False)
    seen: set[str] = set()
    while i < len(argv):
        t = argv[i]
        if t in _FLAGS:
            out[_FLAGS[t]] = True
            i += 1
            continue
        name, value, i = _option(argv, i, tuple(_VALUES), seen)
        out[_VALUES[name]] = value
    if out["json"] == out["csv"]:
        return None  # the table (rich, the banner), or both: the full command
    out["db"] = out["db"] or db
    return out


def read_options(
    parse: Callable[[list[str]], dict[str, Any] | None], argv: list[str]
) -> dict[str, Any] | None:
    """A quick path's options, read by ``parse``; None when the full command must read
    them (an option the quick path does not read, a role that is not one)."""
    try:
        args = parse(argv)
    except _Full:
        return None
    if args is None:
        return None
    from demine.services.access import ROLES

    return args if args["role"] in ROLES else None


def global_options(argv: list[str], command: str) -> tuple[str | None, str, int] | None:
    """``demine [--db DB] [--role ROLE] COMMAND ...``'s global options as the full command
    reads them: the store, the role (else $DEMINE_ROLE, else analyst) and where the command's
    own options begin; None when ``command`` is not there. Any other option: :class:`_Full`."""
    db, role = None, os.environ.get("DEMINE_ROLE") or "analyst"
    seen: set[str] = set()
    i = 0
    while i < len(argv) and argv[i] != command:
        name, value, i = _option(argv, i, _GLOBAL, seen)
        if name == "--db":
            db = value
        else:
            role = value
    if i >= len(argv):
        return None
    return db, role, i + 1


def _option(
    argv: list[str], i: int, names: tuple[str, ...], seen: set[str]
) -> tuple[str, str, int]:
    """The option at argv[i] (``--name value`` or ``--name=value``) and where the next one
    is; one not among ``names``, given twice or without a value: the full command's."""
    name, eq, value = argv[i].partition("=")
    if name not in names or name in seen:
        raise _Full
    seen.add(name)
    if eq:
        return name, value, i + 1
    if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
        raise _Full
    return name, argv[i + 1], i + 2
