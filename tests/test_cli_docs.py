"""Every CLI command is documented in docs/cli.md, and `--help` works for each."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from demine.cli.app import app

DOC = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_there_are_commands() -> None:
    assert {
        "init",
        "import",
        "export",
        "list",
        "show",
        "history",
        "restore",
        "check",
        "validate",
        "demo",
    } <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_documented(name: str) -> None:
    assert f"## `demine {name}`" in DOC


@pytest.mark.parametrize("name", COMMANDS)
def test_help(name: str) -> None:
    r = CliRunner().invoke(app, [name, "--help"])
    assert r.exit_code == 0 and "Usage" in r.output
