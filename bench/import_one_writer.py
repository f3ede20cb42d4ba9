"""The bound of a two-process import with ONE writer (issue 16: import no slower than ogr2ogr).

Not demine's import: a measured sketch of the design the sixth stage points to, to say whether
it can reach the goal before it is built. Two processes start at once, each with half of the
file (split beforehand, not timed, as ``import_hazards.py``'s bound):

- each one checks its half as the import does (``read_and_check``: the geometry, property and
  id checks, the records, the accounts made ahead) and builds the store's rows of its records
  the way the store does on a first import (``_encode``, ``_created_rows``,
  ``bare_hazard_rows``);
- the second hands its rows to the first (pickled, through a file);
- the first, the one writer, writes both halves into one new store in one transaction, the way
  a first import does (``_before_insert``, rows many a statement, the R-tree packed in bulk,
  history, derived rows) and commits.

Timed: from the start of both processes to the writer's exit. Left out, so this is a bound and
not the import: duplicates looked for across the halves, repeated ids across them, one report.
The anchor, ``ogr2ogr -f GPKG`` on the whole file, runs in the same run, interleaved.

    python bench/import_one_writer.py            # 100,000 polygons, 3 runs each
    python bench/import_one_writer.py --quick    # 10,000 polygons
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

ACTOR = "bench"


def rows_of_half(half: Path, db: Path) -> tuple[Any, ...]:
    """The checked records of ``half`` as the store's rows: (hazard rows, history rows,
    derived rows), built as a first import builds them."""
    from demine.model.schema import now_utc
    from demine.services.import_check import read_and_check
    from demine.services.register import ImportOptions
    from demine.store.core.derived_bare import bare_hazard_rows
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(db)  # read only here: its settings (area of interest, derived)
    _, good, _, faults = read_and_check(half, ImportOptions(kind="hazards"), store=store)
    if faults:
        raise SystemExit(f"{half}: {len(faults)} faults")
    k = store.kind("hazards")
    blobs = store._encode([r.geometry for r in good])
    at = now_utc()
    why = [None] * len(good)
    ins, hist = store._created_rows(k, good, blobs, why, at, ACTOR, lambda: "AUTHORITY")
    derived = bare_hazard_rows(
        [(r.id, b) for r, b in zip(good, blobs, strict=True)],
        {},
        at,
        store._wkb_keys,
        store._decode,
    )
    store.close()
    return ins, hist, derived


def write_all(db: Path, parts: list[tuple[Any, ...]]) -> int:
    """Both halves' rows into ``db`` in one transaction, as a first import writes them."""
    from demine.store.core.derived_schema import HAZARD_COLS
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(db)
    k = store.kind("hazards")
    ins = [r for p in parts for r in p[0]]
    hist = [r for p in parts for r in p[1]]
    derived = [r for p in parts for r in p[2]]

    def body(conn: Any) -> None:
        token = store._before_insert(conn, k, len(ins))
        store._executemany(conn, store._insert_sql(k), ins)
        store._after_insert(conn, k, ins, token)
        store._executemany(conn, store.HISTORY_INSERT, hist)
        store._executemany(
            conn,
            f"INSERT INTO demine_derived_hazard ({', '.join(HAZARD_COLS)}) "
            f"VALUES ({', '.join('?' * len(HAZARD_COLS))})",
            derived,
        )

    store._transaction("hazards", body)
    n = store.count("hazards")
    # what was written is a store's first import: every hazard with its history and derived
    # row, the R-tree whole
    conn = store.conn
    (h,) = conn.execute("SELECT count(*) FROM demine_history WHERE kind = 'hazards'").fetchone()
    (d,) = conn.execute("SELECT count(*) FROM demine_derived_hazard").fetchone()
    (rt,) = conn.execute("SELECT rtreecheck('rtree_hazards_geom')").fetchone()
    (ri,) = conn.execute("SELECT count(*) FROM rtree_hazards_geom").fetchone()
    store.close()
    if not h == d == ri == n or rt != "ok":
        raise SystemExit(f"store not whole: {n} hazards, {h} history, {d} derived, R-tree {rt}")
    return n


def role(args: argparse.Namespace) -> None:
    """One of the two processes (``--half``)."""
    import gc

    gc.disable()  # as the import does
    mine = rows_of_half(Path(args.half), Path(args.db))
    if args.out:  # the second: hand the rows over
        tmp = Path(args.out + ".part")
        with tmp.open("wb") as f:
            pickle.dump(mine, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, args.out)
        return
    other = Path(args.other)  # the writer: wait for the other half's rows
    while not other.exists():
        time.sleep(0.005)
    with other.open("rb") as f:
        theirs = pickle.load(f)
    print(write_all(Path(args.db), [mine, theirs]))


def run_pair(halves: tuple[Path, Path], db: Path, work: Path, n: int) -> float:
    handed = work / "one_writer_rows.pickle"
    handed.unlink(missing_ok=True)
    c.remove_gpkg(db)
    c.time_cmd(c.demine_cmd("--db", str(db), "init", "--json"))
    env = c.subprocess_env()
    me = [sys.executable, str(Path(__file__).resolve())]
    t0 = time.perf_counter()
    second = subprocess.Popen(
        [*me, "--half", str(halves[1]), "--db", str(db), "--out", str(handed)],
        env=env,
        stderr=subprocess.PIPE,
    )
    writer = subprocess.Popen(
        [*me, "--half", str(halves[0]), "--db", str(db), "--other", str(handed)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = writer.communicate()
    dt = time.perf_counter() - t0
    _, err2 = second.communicate()
    if writer.returncode or second.returncode:
        raise RuntimeError(f"a half failed: {err[-2000:]!r} {err2[-2000:]!r}")
    if int(out) != n:
        raise RuntimeError(f"stored {int(out)} of {n}")
    handed.unlink(missing_ok=True)
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 polygons")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (best compared)")
    ap.add_argument("--half", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--other", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.half:
        role(args)
        return
    import import_hazards as ih

    n = c.QUICK_HAZARDS if args.quick else c.FULL_HAZARDS
    src = c.hazards_geojson(n, log=c.log)
    work = c.data_dir()
    halves = ih.split_halves(src, work)
    db = work / "import_one_writer.gpkg"
    out_ogr = work / "import_one_writer_ogr2ogr.gpkg"
    ogr: list[float] = []
    ogr_cpu: list[float] = []
    pair: list[float] = []
    for r in range(args.repeat):
        c.log(f"run {r + 1}/{args.repeat}: ogr2ogr ...")
        ogr.append(ih.run_ogr2ogr(src, out_ogr, ogr_cpu))
        c.log(f"  {ogr[-1]:.2f} s; two processes, one writer ...")
        pair.append(run_pair(halves, db, work, n))
        c.log(f"  {pair[-1]:.2f} s")
    for p in halves:
        p.unlink(missing_ok=True)
    for p in (db, out_ogr):
        c.remove_gpkg(p)
    best, anchor = min(pair), min(ogr)
    rep = c.Report(
        "import_one_writer",
        f"Bound of a two-process import with one writer, {n:,} polygons",
        quick=bool(args.quick),
        params={"n": n, "repeat": args.repeat},
    )
    rep.rows.append(
        c.Row(
            "two processes, each checking half and building its rows; one writes both",
            best,
            "ogr2ogr -f GPKG (whole file)",
            anchor,
            goal="≤ 1× ogr2ogr (issue 16's goal for the import)",
            goal_ratio=1.0,
        )
    )
    rep.details = {
        "one_writer_s": pair,
        "ogr2ogr_s": ogr,
        "ogr2ogr_cpu_s": ogr_cpu,
        "medians": {"one_writer": statistics.median(pair), "ogr2ogr": statistics.median(ogr)},
        "load_average_after": list(os.getloadavg()),
    }
    c.print_table(rep)
    c.log(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
