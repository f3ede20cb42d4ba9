"""``demine stats``, ``demine stats --by admin_areas`` and ``demine prioritize --top 10`` on
the SYNTHETIC national store (bench/national.py), one CLI process each (``--json``, start to
exit; ``stats`` and ``stats --by`` first with what the store keeps for them forgotten, once,
then again, the median of ``--repeat`` runs), on GeoPackage and (``--pg-url``) PostGIS,
against the anchor in the same run: the same aggregation written by hand in PostGIS SQL on
the PostGIS national store (bench/national_sql.py; a statement timeout, ``--timeout-min``,
reported as "> timeout").

``--before-src DIR``: also time ``prioritize --top 10`` with demine's sources from DIR (an
export of an older commit: ``git archive <commit> src | tar -x -C DIR``), on the same stores,
and check that both give the same output. ``--profile``: run each command again under
cProfile (on the store of ``--profile-hazards``) and keep its top functions.

The "before" figures of issue 16 (before the derived tables) are in docs/benchmarks.md and
bench/results/national_commands-before.json.

    python bench/national_commands.py --pg-url postgresql://... [--hazards 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import _common as C
import national
import national_sql

FIRST_STATS = "stats, first run"
FIRST_BY = "stats --by admin_areas, first run"
FIRST = (FIRST_STATS, FIRST_BY)
# the anchor of each command: the SQL keeps nothing, its first run is its every run
ANCHOR_OF = {FIRST_STATS: "stats", FIRST_BY: "stats --by admin_areas"}


def _forget(loc: str, splits: bool) -> None:
    """Forget the statistics' memo (as ``demine rebuild-derived`` does) and with ``splits``
    every split among a layer's areas the store keeps (the zonal table too, as after a change
    of the layer): the next ``stats`` (``stats --by``) makes them again."""
    from demine.store.open import open_store

    store = open_store(loc)
    try:

        def clear(c: Any) -> None:
            if splits:
                c.execute("DELETE FROM demine_derived_zonal")
            c.execute("DELETE FROM demine_derived_memo")

        store._transaction("__zonal__", clear)  # type: ignore[attr-defined]
    finally:
        store.close()


COMMANDS = {
    # the statistics' memo forgotten first (as after `demine rebuild-derived`)
    FIRST_STATS: ["stats", "--json"],
    "stats": ["stats", "--json"],
    # the kept splits among the layer's areas forgotten first (_forget)
    FIRST_BY: ["stats", "--by", national.LAYER, "--json"],
    "stats --by admin_areas": ["stats", "--by", national.LAYER, "--json"],
    "prioritize --top 10": ["prioritize", "--top", "10", "--json"],
}
GOALS = {
    FIRST_STATS: "",
    "stats": "< 2 s",
    FIRST_BY: "",
    "stats --by admin_areas": "< 5 s",
    "prioritize --top 10": "",
}
GOAL_S = {"stats": 2.0, "stats --by admin_areas": 5.0}


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


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _time_with(
    src: str | None, args: list[str], timeout_s: float | None = None
) -> tuple[float | None, str]:
    """Wall time and stdout of a demine command run with the sources in ``src`` (None:
    this tree's); (None, "") when it ran past ``timeout_s``."""
    env = C.subprocess_env()
    if src is not None:
        env["PYTHONPATH"] = src
    cmd = [
        sys.executable,
        "-c",
        "import sys; from demine.cli.app import main; sys.argv[0] = 'demine'; sys.exit(main())",
        *args,
    ]
    # stdout to a file (read after the clock stops): a user's redirect, not the harness's
    # reading and decoding of a pipe (50 MB for stats --json)
    with tempfile.TemporaryFile() as f:
        t0 = time.perf_counter()
        try:
            p = subprocess.run(
                cmd, stdout=f, stderr=subprocess.PIPE, text=True, env=env, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            return None, ""
        dt = time.perf_counter() - t0
        f.seek(0)
        out = f.read().decode()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} exited {p.returncode}: {p.stderr[-2000:]}")
    return dt, out


def _same_ranking(a: str, b: str) -> bool:
    """Two ``prioritize --json`` outputs equal (the date of the estimate aside)."""
    x, y = json.loads(a), json.loads(b)
    return bool(x == y)


def run(
    name: str,
    loc: str,
    rep: C.Report,
    anchors: dict[str, float | None],
    *,
    only: list[str] | None = None,
    before_src: str | None = None,
    profile: str | None = None,
    timeout_s: float | None = None,
    repeat: int = 3,
) -> None:
    """Time each command on the store at ``loc`` (and ``prioritize`` with ``before_src``)."""
    for what, args in COMMANDS.items():
        if only and what not in only:
            continue
        key = f"{name}: {what}"
        if what in FIRST:
            _forget(loc, splits=what == FIRST_BY)
        load = _load()
        C.log(f"{name}: demine {' '.join(args)} ... (load {load})")
        # a first run once; the others ``repeat`` times, the median kept (one run can meet
        # a cold page cache, e.g. after the anchor's queries)
        walls: list[float | None] = []
        for _ in range(1 if what in FIRST else repeat):
            dt, out = _time_with(None, ["--db", loc, *args], timeout_s)
            walls.append(dt)
            C.log(f"  {'> timeout' if dt is None else f'{dt:.2f} s'}")
            if dt is None:
                break
        dt = None if None in walls else statistics.median(w for w in walls if w is not None)
        a = anchors.get(ANCHOR_OF.get(what, what))
        det = rep.details.setdefault(key, {})
        det.update(wall_s=dt, runs_s=walls, load_before=load, load_after=_load())
        if dt is None:
            det["timed_out_after_s"] = timeout_s
        elif what.startswith("prioritize"):
            det["top_ids"] = [h["id"] for h in json.loads(out)]
        if before_src and what.startswith("prioritize") and dt is not None:
            bdt, bout = _time_with(before_src, ["--db", loc, *args], timeout_s)
            if bdt is None:
                raise SystemExit(f"{key}: the older sources ran past the timeout")
            same = _same_ranking(out, bout)
            C.log(f"  before: {bdt:.1f} s; same output: {same}")
            det.update(before_s=bdt, before_src=before_src, same_output_as_before=same)
            if not same:
                raise SystemExit(f"{key}: the output differs from the one of {before_src}")
            rep.rows.append(
                C.Row(f"{key} (before this branch)", bdt, "hand-written PostGIS SQL", a)
            )
        rep.rows.append(
            C.Row(
                key,
                dt,
                "hand-written PostGIS SQL",
                a,
                # the goals: times on GeoPackage, no slower than the SQL on PostGIS
                goal="≤ 1× the SQL" if name == "PostGIS" else GOALS[what],
                goal_ratio=1.0 if name == "PostGIS" else None,
                goal_s=GOAL_S.get(what) if name == "GeoPackage" else None,
            )
        )
        if profile is None:
            continue
        prof = str(C.data_dir() / f"national_{name}_{what.replace(' ', '_')}.prof")
        cmd = [sys.executable, "-m", "cProfile", "-o", prof, "-m", "demine.cli.app"]
        pdt, _ = C.time_cmd([*cmd, "--db", profile, *args])
        own, cum = _top(prof, "own"), _top(prof, "cum", 15)
        det.update(
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
    ap.add_argument("--pg-url", help="PostGIS server (the anchor runs there)")
    ap.add_argument("--hazards", type=int, default=national.FULL)
    ap.add_argument("--no-gpkg", action="store_true")
    ap.add_argument(
        "--reuse", action="store_true", help="use the national stores there, whoever built them"
    )
    ap.add_argument("--gpkg", help="the GeoPackage national store (default: built or cached)")
    ap.add_argument("--before-src", help="also time prioritize with demine's sources here")
    ap.add_argument("--timeout-min", type=float, default=20.0, help="the anchor's and demine's")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (median)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--profile-hazards", type=int, default=10_000)
    ap.add_argument("--only", action="append", help="only this command (repeatable)")
    ap.add_argument("--name", default="national_commands", help="results file name")
    a = ap.parse_args()
    rep = C.Report(
        a.name,
        "stats, stats --by, prioritize on the national store (SYNTHETIC) against hand-written "
        "PostGIS SQL",
        False,
        params={"hazards": a.hazards, "counts": national.counts(a.hazards)},
    )
    rep.params.update(timeout_min=a.timeout_min, load_at_start=_load())
    anchors: dict[str, float | None] = {}
    pg_loc = (
        national.national_store(a.hazards, pg_url=a.pg_url, reuse=a.reuse) if a.pg_url else None
    )
    gpkg = None if a.no_gpkg else (a.gpkg or national.national_store(a.hazards, reuse=a.reuse))
    rep.params["stores_built_by"] = {
        "current sources": national.fingerprint(),
        **({"gpkg": national.build_fingerprint(gpkg)} if gpkg else {}),
        **({"postgis": national.build_fingerprint(pg_loc)} if pg_loc else {}),
    }
    if a.pg_url:
        chosen = [w for w in COMMANDS if not a.only or w in a.only]
        for what in dict.fromkeys(ANCHOR_OF.get(w, w) for w in chosen):
            load = _load()
            C.log(f"anchor: hand-written PostGIS SQL of {what} ... (load {load})")
            dt, info = national_sql.run_anchor(
                a.pg_url, f"national_{a.hazards}", what, a.timeout_min
            )
            C.log(f"  {'> timeout' if dt is None else f'{dt:.1f} s'}")
            anchors[what] = dt
            rep.details[f"anchor: {what}"] = {"wall_s": dt, "load_before": load, **info}
    for name, loc, url in (("GeoPackage", gpkg, None), ("PostGIS", pg_loc, a.pg_url)):
        if loc is None:
            continue
        prof = national.national_store(a.profile_hazards, pg_url=url) if a.profile else None
        run(
            name,
            loc,
            rep,
            anchors,
            only=a.only,
            before_src=a.before_src,
            profile=prof,
            timeout_s=a.timeout_min * 60,
            repeat=a.repeat,
        )
    if pg_loc is not None:
        sql = rep.details.get("anchor: prioritize --top 10", {})
        mine = rep.details.get("PostGIS: prioritize --top 10", {})
        if "top_ids" in sql and "top_ids" in mine:
            sql["same_top_10_as_demine"] = sql["top_ids"] == mine["top_ids"]
            C.log(f"the SQL's top 10 are demine's: {sql['same_top_10_as_demine']}")
    rep.params["load_at_end"] = _load()
    rep.print()
    print(rep.write())


if __name__ == "__main__":
    main()
