"""One hazard's release account on the SYNTHETIC national store (issue 16).

``demine.services.release.hazard_account`` (what ``demine release account`` and the HTTP route
show) for ``--samples`` random hazards that have releases (seeded), on the national store of
100,000 hazards (bench/national.py) and, in the same run, the anchors:

* the same account on a small store (1,000 hazards, same generator), the two stores' accounts
  interleaved: the ratio national / small shows whether the account depends on the store's
  size (goal: about 1);
* the hand-written SQL that fetches the same rows (the hazard by id, its activities and its
  releases ``WHERE hazard_id = ?``, geometries included), on the same store.

Both backends: GeoPackage, and PostGIS with ``--pg-url`` (stores in schemas national_<n>).
Goal: under 20 ms per account (median) whatever the store's size.

    python bench/release_account.py [--pg-url postgresql://...] [--samples 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import _common as C
import national

GOAL_S = 0.020


def _hazards_with_releases(store: Any, k: int, seed: int) -> list[str]:
    ids = sorted({str(r[0]) for r in store.conn.execute("SELECT hazard_id FROM releases")})
    return random.Random(seed).sample(ids, min(k, len(ids)))


def _sql_anchor(store: Any) -> Callable[[str], int]:
    """The rows of one account fetched by hand-written SQL (indexes as the store has them)."""
    p = "%s" if str(store.location).startswith("postgres") else "?"
    conn = store.conn

    def fetch(hid: str) -> int:
        n = len(conn.execute(f"SELECT * FROM hazards WHERE id = {p}", (hid,)).fetchall())
        for t in ("activities", "releases"):
            n += len(conn.execute(f"SELECT * FROM {t} WHERE hazard_id = {p}", (hid,)).fetchall())
        return n

    return fetch


def _times(f: Callable[[str], Any], ids: list[str]) -> list[float]:
    for h in ids[:5]:  # warm-up: connection, caches
        f(h)
    out = []
    for h in ids:
        t = time.perf_counter()
        f(h)
        out.append(time.perf_counter() - t)
    return out


def _summary(ts: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ts, n=10)
    return {"median_s": statistics.median(ts), "p90_s": q[-1], "n": len(ts)}


def run_backend(
    name: str, pg_url: str | None, big: int, small: int, samples: int, rep: C.Report
) -> None:
    from demine.services.release import hazard_account
    from demine.store.open import open_store

    res: dict[str, dict[str, Any]] = {}
    stores, ids = {}, {}
    for n in (big, small):
        loc = national.national_store(n, pg_url=pg_url)
        rep.details[f"{name}_{n}_build"] = national.build_times(loc)
        stores[n] = open_store(loc)
        ids[n] = _hazards_with_releases(stores[n], samples, seed=n)
    try:
        # the two stores interleaved, one account each in turn, so that a change of the
        # machine's load during the run falls on both alike
        fns = {n: (lambda h, s=stores[n]: hazard_account(s, h)) for n in stores}
        acc: dict[int, list[float]] = {n: [] for n in stores}
        for n in stores:
            for h in ids[n][:5]:
                fns[n](h)
        for i in range(max(len(v) for v in ids.values())):
            for n in stores:
                if i < len(ids[n]):
                    t = time.perf_counter()
                    fns[n](ids[n][i])
                    acc[n].append(time.perf_counter() - t)
        for n in stores:
            sql = _times(_sql_anchor(stores[n]), ids[n])
            nrel = [len(hazard_account(stores[n], h)["releases"]) for h in ids[n]]
            res[str(n)] = {
                "account": _summary(acc[n]),
                "sql": _summary(sql),
                "releases_per_account": statistics.mean(nrel),
            }
            C.log(
                f"{name} {n:,}: account median {res[str(n)]['account']['median_s'] * 1e3:.1f} "
                f"ms, p90 {res[str(n)]['account']['p90_s'] * 1e3:.1f} ms; SQL median "
                f"{res[str(n)]['sql']['median_s'] * 1e3:.2f} ms"
            )
    finally:
        for st in stores.values():
            st.close()
    rep.details[name] = res
    b, s = res[str(big)], res[str(small)]
    rep.rows.append(
        C.Row(
            f"{name}: account, median of {samples} ({big:,} hazards)",
            b["account"]["median_s"],
            f"same on {small:,} hazards",
            s["account"]["median_s"],
            goal="< 20 ms; ratio ~1",
            note=f"p90 {b['account']['p90_s'] * 1e3:.1f} ms vs {s['account']['p90_s'] * 1e3:.1f}",
        )
    )
    rep.rows.append(
        C.Row(
            f"{name}: account, p90 ({big:,} hazards)",
            b["account"]["p90_s"],
            f"same on {small:,} hazards",
            s["account"]["p90_s"],
        )
    )
    rep.rows.append(
        C.Row(
            f"{name}: account, median ({big:,} hazards)",
            b["account"]["median_s"],
            "hand-written SQL, same rows",
            b["sql"]["median_s"],
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", help="also on PostGIS (a server with PostGIS)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--hazards", type=int, default=national.FULL)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="10,000 hazards")
    a = ap.parse_args()
    big = 10_000 if a.quick else a.hazards
    rep = C.Report(
        "release_account",
        "One hazard's release account on the national store (SYNTHETIC)",
        a.quick,
        params={"hazards": big, "small": a.small, "samples": a.samples},
    )
    run_backend("GeoPackage", None, big, a.small, a.samples, rep)
    if a.pg_url:
        run_backend("PostGIS", a.pg_url, big, a.small, a.samples, rep)
    for key in ("GeoPackage", "PostGIS"):
        if key in rep.details:
            med = rep.details[key][str(big)]["account"]["median_s"]
            rep.notes.append(
                f"{key}: goal < 20 ms per account {'met' if med < GOAL_S else 'NOT met'} "
                f"(median {med * 1e3:.1f} ms)"
            )
    rep.print()
    print(rep.write())


if __name__ == "__main__":
    main()
