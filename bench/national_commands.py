"""The "before" figures of issue 16: ``demine stats``, ``demine stats --by admin_areas`` and
``demine prioritize --top 10`` on the SYNTHETIC national store (bench/national.py), one CLI
process each (``--json``, start to exit), on GeoPackage and (``--pg-url``) PostGIS; then each
once more under cProfile on the national store of ``--profile-hazards`` (default 10,000: same
generator, so the same shares at a tenth of the wait; GeoPackage only unless ``--profile-pg``),
its top functions by own time and by cumulative time kept in the JSON and printed. Nothing is
compared yet: the anchor (the same aggregation in PostGIS SQL) comes with the work that makes
these fast.

    python bench/national_commands.py [--pg-url postgresql://...] [--no-profile]
"""

from __future__ import annotations

import argparse
import pstats
import sys
from typing import Any

import _common as C
import national

COMMANDS = {
    "stats": ["stats", "--json"],
    "stats --by admin_areas": ["stats", "--by", national.LAYER, "--json"],
    "prioritize --top 10": ["prioritize", "--top", "10", "--json"],
}


def _top(prof: str, key: str, n: int = 10) -> list[dict[str, Any]]:
    st = pstats.Stats(prof)
    rows = []
    for func, (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{func[0].split('/site-packages/')[-1].split('/src/')[-1]}:"
                f"{func[1]}({func[2]})",
                "calls": nc,
                "own_s": round(tt, 3),
                "cumulative_s": round(ct, 3),
            }
        )
    rows.sort(key=lambda r: -r["own_s" if key == "own" else "cumulative_s"])
    return rows[:n]


def run(
    name: str, loc: str, profile: str | None, rep: C.Report, only: list[str] | None = None
) -> None:
    """Time each command on the store at ``loc``; with ``profile`` (a store's location),
    run it again under cProfile on that store."""
    for what, args in COMMANDS.items():
        if only and what not in only:
            continue
        C.log(f"{name}: demine {' '.join(args)} ...")
        dt, _ = C.time_cmd(C.demine_cmd("--db", loc, *args))
        C.log(f"  {dt:.1f} s")
        rep.rows.append(C.Row(f"{name}: {what}", dt, "—", None, note="before (issue 16)"))
        rep.details.setdefault(f"{name}: {what}", {})["wall_s"] = dt
        if profile is None:
            continue
        prof = str(C.data_dir() / f"national_{name}_{what.replace(' ', '_')}.prof")
        cmd = [sys.executable, "-m", "cProfile", "-o", prof, "-m", "demine.cli.app"]
        pdt, _ = C.time_cmd([*cmd, "--db", profile, *args])
        own, cum = _top(prof, "own"), _top(prof, "cum", 15)
        rep.details[f"{name}: {what}"].update(
            profiled_store=profile.split("/")[-1].split("?")[-1],
            profiled_wall_s=pdt,
            top_own=own,
            top_cumulative=cum,
        )
        C.log(f"  under cProfile {pdt:.1f} s; top by own time:")
        for r in own:
            C.log(f"    {r['own_s']:8.2f} s  {r['calls']:>9}  {r['function']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url")
    ap.add_argument("--hazards", type=int, default=national.FULL)
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--profile-pg", action="store_true")
    ap.add_argument("--no-gpkg", action="store_true")
    ap.add_argument(
        "--profile-hazards",
        type=int,
        default=10_000,
        help="profile on the national store of this many hazards (same generator; default "
        "10,000: the full one under cProfile takes several times as long)",
    )
    ap.add_argument("--only", action="append", help="only this command (repeatable)")
    ap.add_argument("--name", default="national_commands", help="results file name")
    a = ap.parse_args()
    rep = C.Report(
        a.name,
        "stats, stats --by, prioritize on the national store (SYNTHETIC): before",
        False,
        params={"hazards": a.hazards, "counts": national.counts(a.hazards)},
    )
    rep.params["profile_hazards"] = a.profile_hazards
    if not a.no_gpkg:
        prof = None if a.no_profile else national.national_store(a.profile_hazards)
        run("GeoPackage", national.national_store(a.hazards), prof, rep, a.only)
    if a.pg_url:
        loc = national.national_store(a.hazards, pg_url=a.pg_url)
        prof = None
        if a.profile_pg and not a.no_profile:
            prof = national.national_store(a.profile_hazards, pg_url=a.pg_url)
        run("PostGIS", loc, prof, rep, a.only)
    rep.print()
    print(rep.write())


if __name__ == "__main__":
    main()
