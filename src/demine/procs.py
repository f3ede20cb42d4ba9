"""Whether this program may start worker processes (:mod:`demine.geo.release_pool`).

Python's ``multiprocessing`` (forkserver, spawn) imports the program's main module in each
worker: a program whose work is not under ``if __name__ == "__main__":`` would run it again
there. The ``demine`` command allows worker processes (its entry point is guarded); a Python
program that calls the store allows them with :func:`allow`, once its work runs under that
guard. Otherwise every land-release account is computed in the calling process, as before.
Nothing here imports anything: the command's quick paths stay quick.
"""

from __future__ import annotations

_allowed = False


def allow(on: bool = True) -> None:
    """Let this program start worker processes (or not, with ``on=False``)."""
    global _allowed
    _allowed = on


def allowed() -> bool:
    """Whether :func:`allow` was called."""
    return _allowed
