"""The progress bar of the long commands (``demine import``, ``demine rebuild-derived``): on
stderr, only when stderr is a terminal and the output is not ``--json``; transient (gone when
the command ends, its report printed instead). On a national store a rebuild of the
land-release accounts takes minutes: the bar says which stage runs and how far it is, e.g.
``rebuilding land-release accounts 12,000/100,000``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from demine.cli.output import console

ACCOUNTS = "land-release accounts"


class Bar:
    """One rich progress bar whose description and counts change with the stage."""

    def __init__(self, description: str, accounts: str) -> None:
        from rich.progress import Progress

        # no refresh thread: it is redrawn at each change (an import forks, which copies only
        # the calling thread: services.import_split)
        self._bar = Progress(console=console(stderr=True), transient=True, auto_refresh=False)
        self._task = self._bar.add_task(description, total=None)
        self._accounts = accounts

    def start(self) -> None:
        self._bar.start()

    def stop(self) -> None:
        self._bar.stop()

    def _show(self, **kw: Any) -> None:
        self._bar.update(self._task, **kw)
        self._bar.refresh()  # a few times a stage, or once per chunk of hazards: cheap

    def count(self, done: int, total: int) -> None:
        """The current stage's progress (an import's check: features read and checked)."""
        self._show(completed=done, total=total)

    def stage(self, description: str) -> None:
        """A new stage starts, of unknown length until it counts."""
        self._show(description=description, completed=0, total=None)

    def accounts(self, done: int, total: int) -> None:
        """Hazards whose land-release accounts are recomputed, of those to do."""
        self._show(
            description=f"{self._accounts} {done:,}/{total:,}",
            completed=done,
            total=max(total, 1),
        )


@contextmanager
def progress_bar(
    description: str, as_json: bool, accounts: str = f"updating {ACCOUNTS}"
) -> Iterator[Bar | None]:
    """A started bar on stderr, stopped (and erased) at the end; None (nothing shown) with
    ``--json`` or when stderr is not a terminal. ``accounts``: what the bar says while the
    land-release accounts are recomputed."""
    if as_json or not sys.stderr.isatty():
        yield None
        return
    bar = Bar(description, accounts)
    bar.start()
    try:
        yield bar
    finally:
        bar.stop()
