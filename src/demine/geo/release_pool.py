"""Many land-release accounts at once, on worker processes when there are many (issue 16).

:func:`accounts_many` gives :func:`demine.geo.release.account` of each (hazard, releases)
pair, in order. Inside :func:`pooled` and with at least :data:`MIN_POOL` pairs (and more than
one CPU), the pairs go in batches of :data:`BATCH` to a pool of worker processes started the
**forkserver** way (spawn where there is none), never by fork: the process may have other
threads (an import's duplicate search, the HTTP server's). The pool is started by the first
call that needs it and reused by the next ones in the same :func:`pooled` (a rebuild of the
derived tables starts it once, not per chunk); it is shut down when :func:`pooled` ends, on
error too. Outside :func:`pooled`, with few pairs, or in a program that has not allowed worker
processes (:func:`demine.procs.allow`: the ``demine`` command does; a Python program calling
the store must, under ``if __name__ == "__main__":``), the accounts are computed here, one
after the other.

The accounts are the same either way, to the bit: a worker runs the same GEOS operations on
the same coordinates (deterministic), geometries travel as WKB (exact doubles), and each
gets back the precision grid it had (which later operations heed).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import shapely

from demine import procs
from demine.geo.release import Account, ReleaseInput, account

MIN_POOL = 200  # fewer pairs than this in one call: computed here (a pool is not worth it)
BATCH = 100  # pairs sent to a worker at a time
MAX_WORKERS = 2  # at most this many workers (and no more than the CPUs)

Item = tuple[Any, Sequence[ReleaseInput]]


def _slots(a: Account) -> list[tuple[Any, str]]:
    """Where an account keeps geometries (object, attribute), in a fixed order."""
    out: list[tuple[Any, str]] = [(a, "released"), (a, "remaining")]
    for p in a.pieces:
        out += [(p, "credited"), (p, "outside"), (p, "remaining_after"), (p, "released_after")]
    return out


def _grids(a: Account) -> list[float]:
    """The precision grid of each of an account's geometries (0: none), which a geometry
    loses on its way between processes (as WKB) and later operations heed."""
    return [
        0.0 if (g := getattr(o, n)) is None else float(shapely.get_precision(g))
        for o, n in _slots(a)
    ]


def _regrid(a: Account, grids: list[float]) -> Account:
    """Give an account's geometries back their precision grids (their coordinates are on
    them already: pointwise, nothing moves)."""
    for (o, n), grid in zip(_slots(a), grids, strict=True):
        if grid > 0:
            setattr(o, n, shapely.set_precision(getattr(o, n), grid, mode="pointwise"))
    return a


def _batch(items: list[Item], year_ends: bool) -> list[tuple[Account, list[float]]]:
    """A worker's part: the accounts of a batch of pairs, with their geometries' grids."""
    accs = [account(g, r, year_ends=year_ends) for g, r in items]
    return [(a, _grids(a)) for a in accs]


def _nothing() -> None:
    """A task that only starts a worker."""


def _workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


class _Pool:
    """A process pool started on first use (:meth:`get`) and shut down by :meth:`close`."""

    def __init__(self) -> None:
        self._ex: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self._ex is None:
            ctx: Any
            if "forkserver" in multiprocessing.get_all_start_methods():
                ctx = multiprocessing.get_context("forkserver")
                # the fork server (one per process, started once) imports shapely and the
                # overlay code before it forks: a worker need not import them again
                ctx.set_forkserver_preload(["__main__", __name__])
            else:
                ctx = multiprocessing.get_context("spawn")
            self._ex = ProcessPoolExecutor(max_workers=_workers(), mp_context=ctx)
        return self._ex

    def warm(self) -> None:
        """Start the workers now (they start while the caller reads its records)."""
        ex = self.get()
        for _ in range(_workers()):
            ex.submit(_nothing)

    @property
    def started(self) -> bool:
        return self._ex is not None

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None


_POOL: ContextVar[_Pool | None] = ContextVar("demine_release_pool", default=None)


@contextmanager
def pooled() -> Iterator[None]:
    """Within: :func:`accounts_many` may compute on worker processes (one pool, started when
    first needed, shut down at the end). Nested: the outer one's pool is used."""
    if _POOL.get() is not None or not procs.allowed():  # nested, or not allowed: no pool
        yield
        return
    pool = _Pool()
    token = _POOL.set(pool)
    try:
        yield
    finally:
        _POOL.reset(token)
        pool.close()


def warm() -> None:
    """Inside :func:`pooled`, with more than one CPU: start the worker processes now (a
    caller that will have many accounts to compute, ahead of its first :func:`accounts_many`).
    Elsewhere nothing."""
    pool = _POOL.get()
    if pool is not None and _workers() >= 2:
        pool.warm()


def pool_started() -> bool:
    """Whether the current :func:`pooled` has started its worker processes (tests)."""
    pool = _POOL.get()
    return pool is not None and pool.started


def accounts_many(items: Sequence[Item], *, year_ends: bool = False) -> list[Account]:
    """:func:`demine.geo.release.account` of each (hazard, releases) pair, in order: on worker
    processes inside :func:`pooled` when there are at least :data:`MIN_POOL` pairs and more
    than one CPU, else here."""
    pool = _POOL.get()
    if pool is None or len(items) < MIN_POOL or _workers() < 2:
        return [account(g, r, year_ends=year_ends) for g, r in items]
    ex = pool.get()
    parts = [list(items[i : i + BATCH]) for i in range(0, len(items), BATCH)]
    futures = [ex.submit(_batch, part, year_ends) for part in parts]
    out: list[Account] = []
    for f in futures:
        out.extend(_regrid(a, grids) for a, grids in f.result())
    return out
