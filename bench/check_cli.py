"""Benchmark 3: one ``demine check`` process, start to answer, on the store of synthetic hazards.

``demine --db X check LAT LON --radius 500 --json`` run many times at random points (seeded) in
the study area; reported: median, p90, min. Anchors in the same run: Python's own start-up
(``python -c pass``) and ``python -c "import demine"``; and the full command (the typer app,
``demine.cli.commands``, which answered every check before the quick path of issue 16) at the
same points, with the same answers checked. Goal (issue 16): under 100 ms median.

    python bench/check_cli.py            # store of 100,000 hazards, 15 runs
    python bench/check_cli.py --quick    # store of 10,000 hazards, 15 runs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

RADIUS_M = 500.0
GOAL_S = 0.100  # issue 16: one `demine check` process under 100 ms median
RETRY_WAIT_S, RETRY_FOR_S = 120.0, 40 * 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="store of 10,000 hazards")
    ap.add_argument("--hazards", type=int)
    ap.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached store")
    ap.add_argument("--no-retry", action="store_true")
    ap.add_argument(
        "--importtime",
        action="store_true",
        help="also print the slowest imports of one check (python -X importtime)",
    )
    args = ap.parse_args()
    n = args.hazards or (c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS)

    def build_store() -> Path:
        return c.hazard_store(n, fresh=args.fresh, log=c.log)

    store = (
        build_store()
        if args.no_retry
        else c.retry(
            "demine store", build_store, wait_s=RETRY_WAIT_S, until_s=RETRY_FOR_S, log=c.log
        )
    )

    rng = np.random.default_rng(c.SEED_CHECKS)
    lons = rng.uniform(c.LON_MIN, c.LON_MAX, args.runs)
    lats = rng.uniform(c.LAT_MIN, c.LAT_MAX, args.runs)
    py = sys.executable
    cmd_pass = [py, "-c", "pass"]
    cmd_import = [py, "-c", "import demine"]

    def check_cmd(i: int) -> list[str]:
        return c.demine_cmd(
            "--db",
            str(store),
            "check",
            f"{lats[i]:.6f}",
            f"{lons[i]:.6f}",
            "--radius",
            f"{RADIUS_M:g}",
            "--json",
        )

    def full_cmd(i: int) -> list[str]:  # the typer app, without the quick path
        return [
            py,
            "-c",
            "import sys; from demine.cli.commands import app; sys.argv[0] = 'demine'; app()",
            *check_cmd(i)[-8:],
        ]

    answers: dict[int, str] = {}

    def one_check(i: int, bytecode_cache: bool = True) -> tuple[float, int]:
        dt, out = c.time_cmd(check_cmd(i), bytecode_cache=bytecode_cache)
        answers[i] = out
        return dt, len(json.loads(out)["hazards"])

    def one_full(i: int) -> float:
        dt, out = c.time_cmd(full_cmd(i))
        assert out == answers[i], f"the full command answered otherwise at point {i}"
        return dt

    # warm the file cache and check that it works
    if args.no_retry:
        one_check(0)
    else:
        c.retry(
            "demine check",
            lambda: one_check(0),
            wait_s=RETRY_WAIT_S,
            until_s=RETRY_FOR_S,
            log=c.log,
        )
    c.time_cmd(cmd_pass)
    c.time_cmd(cmd_import)
    c.time_cmd(full_cmd(0))

    t_check: list[float] = []
    t_full: list[float] = []
    hits: list[int] = []
    t_pass: list[float] = []
    t_import: list[float] = []
    c.log(f"{args.runs} runs of each, interleaved ...")
    for i in range(args.runs):  # interleaved, so that a slow spell of the machine hits all three
        t_pass.append(c.time_cmd(cmd_pass)[0])
        t_import.append(c.time_cmd(cmd_import)[0])
        dt, h = one_check(i)
        t_check.append(dt)
        hits.append(h)
        t_full.append(one_full(i))
    # the same without a bytecode cache: every process compiles demine's sources first (what
    # happens where PYTHONDONTWRITEBYTECODE is set or the source tree is read-only)
    t_nocache = [one_check(i, bytecode_cache=False)[0] for i in range(min(args.runs, 7))]
    s_check, s_pass, s_import = c.summary(t_check), c.summary(t_pass), c.summary(t_import)
    s_nocache = c.summary(t_nocache)
    s_full = c.summary(t_full)
    met = s_check["median"] < GOAL_S

    rep = c.Report(
        "check_cli",
        f"One 'demine check' process on a store of {n:,} hazards "
        f"(radius {RADIUS_M:g} m, {args.runs} runs)",
        quick=args.quick and not args.hazards,
    )
    rep.params = {
        "hazards": n,
        "runs": args.runs,
        "radius_m": RADIUS_M,
        "command": " ".join(
            check_cmd(0)[:1]
            + ["--db", "STORE", "check", "LAT", "LON", "--radius", f"{RADIUS_M:g}", "--json"]
        ),
    }
    for stat in ("median", "p90", "min"):
        rep.rows.append(
            c.Row(
                f"demine check, {stat}",
                s_check[stat],
                "python -c pass",
                s_pass[stat],
                goal=f"< {GOAL_S * 1e3:.0f} ms" if stat == "median" else "",
                goal_s=GOAL_S if stat == "median" else None,
            )
        )
    rep.rows.append(
        c.Row(
            "demine check, median",
            s_check["median"],
            "python -c 'import demine'",
            s_import["median"],
        )
    )
    rep.rows.append(
        c.Row(
            "demine check, median",
            s_check["median"],
            "the full command (typer app), median",
            s_full["median"],
        )
    )
    rep.rows.append(
        c.Row(
            f"demine check without bytecode cache, median of {len(t_nocache)}",
            s_nocache["median"],
            "python -c pass",
            s_pass["median"],
        )
    )
    rep.details = {
        "check_no_bytecode_cache_s": t_nocache,
        "check_no_bytecode_cache": s_nocache,
        "check_s": t_check,
        "full_command_s": t_full,
        "full_command": s_full,
        "goal_s": GOAL_S,
        "goal_met": met,
        "hits": hits,
        "python_pass_s": t_pass,
        "python_import_demine_s": t_import,
        "check": s_check,
        "python_pass": s_pass,
        "python_import_demine": s_import,
        "points": [[float(a), float(b)] for a, b in zip(lats, lons, strict=True)],
    }
    rep.notes.append(
        f"hazards found per check: {min(hits)}..{max(hits)} "
        f"({sum(h > 0 for h in hits)} of {args.runs} points had some); "
        f"demine check median − python -c pass median = "
        f"{(s_check['median'] - s_pass['median']) * 1e3:.0f} ms, − import demine = "
        f"{(s_check['median'] - s_import['median']) * 1e3:.0f} ms; "
        f"goal under {GOAL_S * 1e3:.0f} ms median: {'met' if met else 'NOT met'}; the full "
        f"command gave the same answer at every point"
    )
    if args.importtime:
        rep.details["importtime"] = _importtime(check_cmd(0))
        rep.notes.append(
            "slowest imports (cumulative µs): "
            + ", ".join(f"{m} {us:,}" for m, us in rep.details["importtime"][:12])
        )
    rep.print()
    print(f"results: {rep.write()}")


def _importtime(cmd: list[str]) -> list[tuple[str, int]]:
    """The top-level imports of one check, slowest first (µs, from python -X importtime)."""
    import subprocess

    args = cmd[1:] if cmd[0] != sys.executable else cmd[3:]
    py_cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-c",
        "import sys; from demine.cli.app import main; sys.argv[0] = 'demine'; sys.exit(main())",
        *args,
    ]
    p = subprocess.run(py_cmd, capture_output=True, text=True, env=c.subprocess_env())
    top: list[tuple[str, int]] = []
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith(" ") and not name.startswith("  "):  # top level: one space
            top.append((name.strip(), int(cumulative)))
    top.sort(key=lambda x: -x[1])
    return top


if __name__ == "__main__":
    main()
