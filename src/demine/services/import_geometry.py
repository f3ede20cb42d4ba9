"""The geometry work of a large import shared by two threads: each checks its half of the
features, promotes their geometries to the kind's type and measures their areas; the results
are joined in the features' order, the same as one thread gives for all.

Most of that work is numpy and GEOS, which release Python's lock: two threads do it in about
two thirds of the time one takes (docs/benchmarks.md), while the import's own thread checks
the properties."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np

SPLIT_FEATURES = 20_000  # from this many features, the geometry work is done in two halves

Part = tuple[list[Any], np.ndarray, np.ndarray | None]  # checks, geometries, areas


def halves(n: int) -> list[tuple[int, int]]:
    """The spans of features checked apart: two halves from :data:`SPLIT_FEATURES`, else
    all in one."""
    if n < SPLIT_FEATURES:
        return [(0, n)]
    return [(0, n // 2), (n // 2, n)]


class Joined:
    """The parts' results joined in order by ``join``, once, whichever thread asks first (a
    future's ``result()``)."""

    def __init__(self, parts: Sequence[Future[Part]], join: Callable[[list[Part]], Any]) -> None:
        self._parts, self._join = parts, join
        self._lock = threading.Lock()
        self._value: Any = None
        self._done = False

    def result(self) -> Any:
        with self._lock:
            if not self._done:
                self._value = self._join([p.result() for p in self._parts])
                self._done = True
            return self._value


def _checks(parts: list[Part]) -> list[Any]:
    return [c for part in parts for c in part[0]]


def _derived(parts: list[Part]) -> tuple[np.ndarray, np.ndarray | None]:
    geoms = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, dtype=object)
    areas = [p[2] for p in parts]
    if any(a is None for a in areas):
        return geoms, None
    return geoms, np.concatenate([a for a in areas if a is not None])


def submit_parts(
    pool: Executor,
    spans: Sequence[tuple[int, int]],
    check: Callable[[tuple[int, int]], list[Any]],
    derive: Callable[[list[Any]], tuple[np.ndarray, np.ndarray | None]],
) -> tuple[list[Future[Part]], Joined, Joined]:
    """Each span's checks (``check(span)``) and then its geometries and areas
    (``derive(checks)``) submitted to ``pool``; the parts, and the checks and the derived
    values of all joined."""

    def work(span: tuple[int, int]) -> Part:
        got = check(span)
        geoms, areas = derive(got)
        return got, geoms, areas

    parts = [pool.submit(work, s) for s in spans]
    return parts, Joined(parts, _checks), Joined(parts, _derived)
