"""Output shared by the commands, without typer: JSON on stdout and rich consoles. Here so
that ``demine check``'s quick path (:mod:`demine.cli.quick`) prints exactly as the full one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.console import Console


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (the ``--json`` output)."""
    sys.stdout.buffer.write(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def console(stderr: bool = False) -> Console:
    """A rich console for human output (tables, messages), no highlighting, soft-wrapped."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)
