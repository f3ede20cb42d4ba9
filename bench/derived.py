"""The derived tables of issue 16 (store/core/derived.py) on the SYNTHETIC national store
(bench/national.py): ``demine stats``, ``stats --by admin_areas``, ``stats --period 2022`` and
``prioritize --top 10``, one CLI process each (``--json``, start to exit), reading the derived
tables (first run, then again with the zonal cache filled); anchor in the same run: the same
command on the same store with the tables marked not built and no zonal cache (the full
computation, as before them). The two outputs must be equal (``generated_at``
aside): the run fails otherwise. Also ``demine rebuild-derived`` (every account from the
records) and the store's build time per kind (the upkeep on write is in it).

    python bench/derived.py --hazards 2000 [--pg-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import shutil
from typing import Any

import _common as C
import national

COMMANDS = {
    "stats": ["stats", "--json"],
    "stats --by admin_areas": ["stats", "--by", national.LAYER, "--json"],
    "stats --period 2022": ["stats", "--period", "2022", "--json"],
    "prioritize --top 10": ["prioritize", "--top", "10", "--json"],
}
VOLATILE = ("generated_at",)


def _set_built(loc: str, value: str) -> None:
    from demine.store.open import open_store

    s: Any = open_store(loc)
    try:
        s._transaction(
            "__derived__",
            lambda c: c.execute(
                f"UPDATE demine_derived_state SET value = {s.P} WHERE key = 'built'", (value,)
            ),
        )
    finally:
        s.close()


def _clear_zonal(loc: str) -> None:
    from demine.store.open import open_store

    s: Any = open_store(loc)
    try:
        s._transaction("__zonal__", lambda c: c.execute("DELETE FROM demine_derived_zonal"))
    finally:
        s.close()


def _same(a: str, b: str) -> bool:
    x, y = json.loads(a), json.loads(b)
    for d in (x, y):
        if isinstance(d, dict):
            for k in VOLATILE:
                d.pop(k, None)
    return bool(x == y)


def run(name: str, loc: str, rep: C.Report) -> None:
    dt, out = C.time_cmd(C.demine_cmd("--db", loc, "rebuild-derived", "--json"))
    C.log(f"{name}: rebuild-derived {dt:.1f} s ({json.loads(out)})")
    rep.rows.append(C.Row(f"{name}: rebuild-derived", dt, "—", None, note="every account"))
    for what, args in COMMANDS.items():
        _set_built(loc, "yes")
        _clear_zonal(loc)
        d_s, d_out = C.time_cmd(C.demine_cmd("--db", loc, *args))
        w_s, w_out = C.time_cmd(C.demine_cmd("--db", loc, *args))  # the zonal cache filled
        _set_built(loc, "no")
        _clear_zonal(loc)
        a_s, a_out = C.time_cmd(C.demine_cmd("--db", loc, *args))
        _set_built(loc, "yes")
        same = _same(d_out, a_out) and _same(w_out, a_out)
        C.log(
            f"{name}: {what}: {d_s:.2f} s, again {w_s:.2f} s, full computation {a_s:.2f} s, "
            f"same output: {same}"
        )
        if not same:
            raise SystemExit(f"{name}: {what}: the outputs differ with and without the tables")
        anchor = "the same command, derived tables not built, no zonal cache"
        rep.rows.append(C.Row(f"{name}: {what}", d_s, anchor, a_s, note="first run; same output"))
        rep.rows.append(
            C.Row(f"{name}: {what}, again", w_s, anchor, a_s, note="zonal cache filled")
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hazards", type=int, default=national.FULL)
    ap.add_argument("--pg-url")
    ap.add_argument("--no-gpkg", action="store_true")
    ap.add_argument("--name", default="derived", help="results file name")
    a = ap.parse_args()
    rep = C.Report(
        a.name,
        "commands reading the derived tables vs the full computation (SYNTHETIC national store)",
        False,
        params={"hazards": a.hazards, "counts": national.counts(a.hazards)},
    )
    if not a.no_gpkg:
        src = national.national_store(a.hazards)
        loc = C.data_dir() / f"derived_{a.hazards}.gpkg"
        shutil.copyfile(src, loc)
        rep.details["GeoPackage build"] = national.build_times(str(src))
        run("GeoPackage", str(loc), rep)
    if a.pg_url:
        loc_pg = national.national_store(a.hazards, pg_url=a.pg_url)
        rep.details["PostGIS build"] = national.build_times(loc_pg)
        run("PostGIS", loc_pg, rep)
    rep.print()
    print(rep.write())


if __name__ == "__main__":
    main()
