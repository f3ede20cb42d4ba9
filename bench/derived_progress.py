"""What the progress of ``demine rebuild-derived`` costs (issue 16): ``store.rebuild_derived``
on the SYNTHETIC national store (bench/national.py), telling a callback after each chunk of
at most ``Derived.DERIVE_CHUNK`` hazards (as the CLI's bar is told); anchor in the same run:
the same rebuild as before the progress was added, no callback and one chunk per ``IN (...)``
of the backend (900 ids on GeoPackage, every hazard at once on PostGIS). Runs alternate
(anchor, then with progress) ``--repeat`` times; medians. The accounts must be the same.

    python bench/derived_progress.py --hazards 2000 [--pg-url postgresql://...] [--repeat 3]

The store is the cached one of national.py (used as it is, ``reuse``), copied first: the
rebuilds write to the copy.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import _common as C
import national

GOAL = 1.05  # no slower (within the noise of a shared machine)


def _accounts(store: Any) -> list[tuple[Any, ...]]:
    accs = store.derived_accounts()
    return [
        (h, round(a.released_m2, 6), round(a.remaining_m2, 6), len(a.pieces))
        for h, a in accs.items()
    ]


def run_backend(name: str, location: str, repeat: int, rep: C.Report) -> None:
    from demine.store.core.derived import Derived
    from demine.store.open import open_store

    default = Derived.DERIVE_CHUNK
    store: Any = open_store(location)
    times: dict[str, list[float]] = {"anchor": [], "progress": []}
    loads: list[float] = []
    calls: list[tuple[int, int]] = []
    outputs: dict[str, list[tuple[Any, ...]]] = {}
    try:
        for i in range(repeat):
            for which in ("anchor", "progress"):
                Derived.DERIVE_CHUNK = 10**12 if which == "anchor" else default
                calls.clear()
                cb = (lambda d, t: calls.append((d, t))) if which == "progress" else None
                C.log(f"{name}: rebuild {i + 1}/{repeat}, {which} ...")
                t0 = time.perf_counter()
                n = store.rebuild_derived(progress=cb)
                times[which].append(time.perf_counter() - t0)
                loads.append(os.getloadavg()[0])
                outputs.setdefault(which, _accounts(store))
        Derived.DERIVE_CHUNK = default
    finally:
        Derived.DERIVE_CHUNK = default
        store.close()
    if outputs["anchor"] != outputs["progress"]:
        raise SystemExit(f"{name}: the accounts differ with and without progress")
    med = {k: statistics.median(v) for k, v in times.items()}
    rep.rows.append(
        C.Row(
            what=f"{name}: rebuild_derived of {n:,} hazards, progress told {len(calls)} times",
            demine_s=med["progress"],
            anchor="the same, no callback, one chunk per IN (before)",
            anchor_s=med["anchor"],
            goal=f"≤ {GOAL}×",
            goal_ratio=GOAL,
            note=f"load average (1 min) {min(loads):.2f}-{max(loads):.2f}",
        )
    )
    rep.details[name] = {
        "times_s": times,
        "calls": len(calls),
        "last_call": calls[-1] if calls else None,
        "load_average_1min": loads,
        "derive_chunk": default,
    }


def main() -> None:
    national.run_on_copies(
        "derived_progress",
        "rebuild-derived telling its progress, against the rebuild before (SYNTHETIC)",
        run_backend,
        __doc__ or "",
    )


if __name__ == "__main__":
    main()
