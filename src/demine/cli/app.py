"""``demine``: the command line. Each command parses input, calls a service, formats output.

Exit codes: 0 ok, 1 invalid input (every fault listed), 2 other error or bad usage,
3 not found, 4 conflict, 5 permission denied.
"""

from __future__ import annotations

from demine.cli import commands as _commands  # noqa: F401  (registers the commands)
from demine.cli import impact as _impact  # noqa: F401  (demine prioritize)
from demine.cli import release as _release  # noqa: F401  (demine release)
from demine.cli import stats as _stats  # noqa: F401  (stats, chart, report)
from demine.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
