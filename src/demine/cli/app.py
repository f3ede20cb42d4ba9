"""``demine``: the command line. Each command parses input, calls a service, formats output.

The commands live in one module per group and are registered in :mod:`demine.cli.commands`,
in the order ``demine --help`` lists them. This module stays small: :func:`main` first lets
``demine check`` answer through its quick path (:mod:`demine.cli.quick`, no typer, numpy,
shapely or pyproj loaded), ``demine stats --json`` (or ``--csv``) through its own
(:mod:`demine.cli.quick_stats`, no typer) and ``demine import`` through its own
(:mod:`demine.cli.quick_import`: no typer app, no pydantic), and builds the typer app only
for everything else.
``app`` (the typer app) is loaded on first use.

Exit codes: 0 ok, 1 invalid input (every fault listed), 2 other error or bad usage,
3 not found, 4 conflict, 5 permission denied.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demine.cli.commands import app

__all__ = ["app", "main"]


def main() -> None:
    from demine.cli.quick import answer_check

    if answer_check(sys.argv[1:]):
        return
    if "stats" in sys.argv[1:]:
        from demine.cli.quick_stats import answer_stats

        if answer_stats(sys.argv[1:]):
            return
    if "import" in sys.argv[1:]:
        from demine.cli.quick_import import answer_import

        code = answer_import(sys.argv[1:])
        if code is not None:
            if code:
                sys.exit(code)
            return
    from demine import procs
    from demine.cli.commands import app

    procs.allow()  # this entry point is guarded: workers may import it (geo/release_pool.py)
    app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from demine.cli.commands import app

        return app
    raise AttributeError(f"module 'demine.cli.app' has no attribute {name!r}")


if __name__ == "__main__":
    main()
