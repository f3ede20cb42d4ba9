"""``demine rebuild-derived`` with the land-release accounts on worker processes (issue 16,
geo/release_pool.py): ``store.rebuild_derived()`` on the SYNTHETIC national store
(bench/national.py) as it is now (accounts on a pool of worker processes where a chunk has
at least ``release_pool.MIN_POOL`` hazards with releases); anchor in the same run: the same
rebuild with the pool off (``MIN_POOL`` out of reach: every account computed in the
process, one after the other, as before). Runs alternate (anchor, then pool) ``--repeat``
times; medians. The derived accounts must be the same, to the bit (every figure, and the
WKB of every geometry).

    python bench/derived_pool.py --hazards 2000 [--pg-url postgresql://...] [--repeat 3]

The store is the cached one of national.py (used as it is, ``reuse``), copied first: the
rebuilds write to the copy.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from typing import Any

import _common as C
import national

GOAL = 0.8  # the accounts are most of a rebuild's time: two processes should show


def _digest(store: Any) -> tuple[int, int, str]:
    """(hazards, pieces, a hash of every figure and geometry of the derived accounts)."""
    import shapely

    def wkb(g: Any) -> bytes:
        return b"-" if g is None else bytes(shapely.to_wkb(g))

    h = hashlib.sha256()
    accs = store.derived_accounts()
    pieces = 0
    for hid, a in sorted(accs.items()):
        h.update(repr((hid, a.hazard_m2, a.released_m2, a.remaining_m2, a.by_type)).encode())
        h.update(wkb(a.released) + wkb(a.remaining))
        for p in a.pieces:
            pieces += 1
            h.update(
                repr(
                    (
                        p.release_id,
                        p.credited_m2,
                        p.overlap_m2,
                        p.overlaps_with,
                        p.outside_m2,
                        p.remaining_after_m2,
                    )
                ).encode()
            )
            for g in (p.credited, p.outside, p.remaining_after, p.released_after):
                h.update(wkb(g))
    return len(accs), pieces, h.hexdigest()


def run_backend(name: str, location: str, repeat: int, rep: C.Report) -> None:
    from demine import procs
    from demine.geo import release_pool
    from demine.store.open import open_store

    procs.allow()  # this script's work runs under if __name__ == "__main__"
    default = release_pool.MIN_POOL
    store: Any = open_store(location)
    times: dict[str, list[float]] = {"anchor": [], "pool": []}
    loads: list[float] = []
    outputs: dict[str, set[tuple[int, int, str]]] = {"anchor": set(), "pool": set()}
    n = 0
    try:
        for i in range(repeat):
            for which in ("anchor", "pool"):
                release_pool.MIN_POOL = 10**12 if which == "anchor" else default
                C.log(f"{name}: rebuild {i + 1}/{repeat}, {which} ...")
                t0 = time.perf_counter()
                n = store.rebuild_derived()
                times[which].append(time.perf_counter() - t0)
                loads.append(os.getloadavg()[0])
                outputs[which].add(_digest(store))
    finally:
        release_pool.MIN_POOL = default
        store.close()
    if len(outputs["anchor"] | outputs["pool"]) != 1:
        raise SystemExit(f"{name}: the derived accounts differ with and without the pool")
    hazards, pieces, digest = outputs["pool"].pop()
    med = {k: statistics.median(v) for k, v in times.items()}
    rep.rows.append(
        C.Row(
            what=f"{name}: rebuild_derived of {n:,} hazards ({pieces:,} release pieces), "
            f"accounts on {release_pool._workers()} worker processes",
            demine_s=med["pool"],
            anchor="the same, accounts in the process one after the other (before)",
            anchor_s=med["anchor"],
            goal=f"≤ {GOAL}×",
            goal_ratio=GOAL,
            note=f"load average (1 min) {min(loads):.2f}-{max(loads):.2f}; "
            f"accounts equal (sha256 {digest[:12]})",
        )
    )
    rep.details[name] = {
        "times_s": times,
        "load_average_1min": loads,
        "min_pool": default,
        "batch": release_pool.BATCH,
        "workers": release_pool._workers(),
        "cpus": os.cpu_count(),
        "accounts_sha256": digest,
    }


def main() -> None:
    national.run_on_copies(
        "derived_pool",
        "rebuild-derived with the accounts on worker processes, against one process (SYNTHETIC)",
        run_backend,
        __doc__ or "",
    )


if __name__ == "__main__":
    main()
