"""Two small pieces of an import shared by its two ways (services.imports, one process;
services.import_split, two): work on another thread whose result is applied later, and the
error of a full disk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from demine.errors import StoreFull


def store_full(paths: Sequence[Path]) -> StoreFull:
    names = ", ".join(p.name for p in paths)
    return StoreFull(
        f"the store's disk is full: nothing was imported from {names}; free some space and "
        "import it again"
    )


class Later:
    """Work run on another thread; calling the object waits for it, raises what it raised,
    then applies its result (once)."""

    def __init__(self, work: Callable[[], None], apply: Callable[[], None] | None = None) -> None:
        import threading

        self._apply: Callable[[], None] | None = apply
        self._failed: list[BaseException] = []

        def run() -> None:
            try:
                work()
            except BaseException as e:  # raised where the caller waits
                self._failed.append(e)

        self._thread = threading.Thread(target=run, name="demine-duplicates", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        self._thread.join()

    @property
    def busy(self) -> bool:
        """Still at work (calling the object would wait)."""
        return self._thread.is_alive()

    def __call__(self) -> None:
        self.wait()
        if self._failed:
            raise self._failed[0]
        apply, self._apply = self._apply, None
        if apply is not None:
            apply()
