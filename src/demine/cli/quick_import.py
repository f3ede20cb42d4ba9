"""``demine import``'s quick path: the options read without building the typer app (its
commands, and pydantic, which typer loads to check each option's value: a tenth of a second of
every import, docs/benchmarks.md), then the command's own function
(:func:`demine.cli.importing.import_`): the same output, messages and exit codes.

:func:`answer_import` answers only ``demine [--db DB] [--role ROLE] import FILE... --kind
KIND`` with any of ``--json``, ``--repair``, ``--skip-invalid``, ``--skip-duplicates``,
``--strict``, ``--reason TEXT`` and ``--db DB`` (each value at most once, as ``--name value``
or ``--name=value``; ``-k KIND`` too). Anything else (``--help``, the mapping options, an
option it does not know or a value given twice, a role that is not one, no file or no kind) it
leaves to the full command, which then answers as it always has: nothing has been read or
printed by then.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from demine.cli.quick_stats import _Full, _option, global_options, read_options

_VALUES = {"--kind": "kind", "-k": "kind", "--reason": "reason", "--db": "db"}
_FLAGS = {
    "--json": "as_json",
    "--repair": "repair",
    "--skip-invalid": "skip_invalid",
    "--skip-duplicates": "skip_duplicates",
    "--strict": "strict",
}


def answer_import(argv: list[str]) -> int | None:
    """Run ``demine [GLOBAL OPTIONS] import ...`` if this path reads all of its options; its
    exit code, or None (nothing done) when the full command must read them."""
    args = read_options(_parse, argv)
    if args is None:
        return None
    import typer

    from demine import procs
    from demine.cli.common import state
    from demine.cli.importing import import_

    procs.allow()  # as the full command's entry point (demine.cli.app.main)
    state.db, state.role = args.pop("global_db"), args.pop("role")
    files = [Path(f) for f in args.pop("files")]
    try:
        import_(files, **args)
    except typer.Exit as e:
        return int(e.exit_code)
    except KeyboardInterrupt:  # as click says it
        print("\nAborted!", file=sys.stderr)
        return 1
    return 0


def _parse(argv: list[str]) -> dict[str, Any] | None:
    """The options of ``demine import`` as the full command reads them, or None when it is
    not one this path answers."""
    got = global_options(argv, "import")
    if got is None:
        return None
    out: dict[str, Any] = {"global_db": got[0], "role": got[1]}
    out.update(kind=None, reason=None, db=None, files=[])
    out.update(dict.fromkeys(_FLAGS.values(), False))
    i = got[2]
    seen: set[str] = set()
    while i < len(argv):
        t = argv[i]
        if t in _FLAGS:
            out[_FLAGS[t]] = True
            i += 1
        elif t.startswith("-"):  # "-" alone, "--", -kKIND, --help, any other: the full command
            if t.startswith("-k="):  # click reads "=KIND" there
                raise _Full
            name, value, i = _option(argv, i, tuple(_VALUES), seen)
            if _VALUES[name] == "kind" and {"-k", "--kind"} <= seen:
                raise _Full  # the kind given twice
            out[_VALUES[name]] = value
        else:
            out["files"].append(t)
            i += 1
    if out["kind"] is None or not out["files"]:
        return None  # the full command's usage error
    return out
