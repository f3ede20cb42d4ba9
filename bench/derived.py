"""The derived tables of issue 16 (store/core/derived.py) on the SYNTHETIC national store
(bench/national.py): ``demine stats``, ``stats --by admin_areas``, ``stats --period 2022`` and
``prioritize --top 10``, one CLI process each (``--json``, start to exit), reading the derived
tables (first run, then again with the zonal cache filled); anchor in the same run: the same
command on the same store with the tables marked not built and no zonal cache (the full
computation, as before them). The two outputs must be equal (``generated_at``
aside): the run fails otherwise. Also ``demine rebuild-derived`` (every account from the
records) and the store's build time per kind (the upkeep on write is in it).

    python bench/derived.py --hazards 2000 [--pg-url postgresql://...]

On the 100,000-hazard store the full computation takes a quarter of an hour per command: the
anchor may be run for some commands only (``--anchor stats``: ``demine stats``), the others
compared with the first run's output instead; ``--store`` times a copy made before (its
derived tables rebuilt first unless ``--no-rebuild``), e.g. when this code changed the store's
schema and national.py would build the store again:

    python bench/derived.py --hazards 100000 --store bench/.data/national_100000.gpkg \
        --no-rebuild --anchor stats --commands stats "stats --by admin_areas" \
        "stats --period 2022" --name derived-100000

The machine's load average (1 minute) is kept with each row.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def run(
    name: str,
    loc: str,
    rep: C.Report,
    *,
    rebuild: bool = True,
    anchored: tuple[str, ...] | None = None,
    commands: tuple[str, ...] | None = None,
) -> None:
    if rebuild:
        dt, out = C.time_cmd(C.demine_cmd("--db", loc, "rebuild-derived", "--json"))
        C.log(f"{name}: rebuild-derived {dt:.1f} s ({json.loads(out)})")
        rep.rows.append(
            C.Row(f"{name}: rebuild-derived", dt, "—", None, note=f"every account; {_load()}")
        )
    for what in commands or tuple(COMMANDS):  # in the order given
        args = COMMANDS[what]
        _set_built(loc, "yes")
        _clear_zonal(loc)
        load_d = _load()
        d_s, d_out = C.time_cmd(C.demine_cmd("--db", loc, *args))
        load_w = _load()
        w_s, w_out = C.time_cmd(C.demine_cmd("--db", loc, *args))  # the zonal table filled
        a_s: float | None = None
        if anchored is None or what in anchored:
            _set_built(loc, "no")
            _clear_zonal(loc)
            a_s, a_out = C.time_cmd(C.demine_cmd("--db", loc, *args))
            _set_built(loc, "yes")
            same = _same(d_out, a_out) and _same(w_out, a_out)
        else:
            same = _same(d_out, w_out)  # no anchor: the two runs agree
        C.log(
            f"{name}: {what}: {d_s:.2f} s ({load_d}), again {w_s:.2f} s ({load_w}), "
            f"full computation {a_s if a_s is None else round(a_s, 2)} s, same output: {same}"
        )
        if not same:
            raise SystemExit(f"{name}: {what}: the outputs differ with and without the tables")
        anchor = "the same command, derived tables not built, no zonal table"
        if a_s is None:
            anchor = "not run (a quarter of an hour); see the stats row"
        rep.rows.append(
            C.Row(f"{name}: {what}", d_s, anchor, a_s, note=f"first run; same output; {load_d}")
        )
        rep.rows.append(
            C.Row(f"{name}: {what}, again", w_s, anchor, a_s, note=f"zonal table filled; {load_w}")
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hazards", type=int, default=national.FULL)
    ap.add_argument("--pg-url")
    ap.add_argument("--no-gpkg", action="store_true")
    ap.add_argument("--name", default="derived", help="results file name")
    ap.add_argument("--store", help="time this GeoPackage store (a copy) instead of national.py's")
    ap.add_argument("--no-rebuild", action="store_true", help="do not run rebuild-derived first")
    ap.add_argument("--anchor", nargs="*", help="the commands to run the full computation of")
    ap.add_argument("--commands", nargs="*", help="only these commands (names of COMMANDS)")
    a = ap.parse_args()
    opts: dict[str, Any] = {
        "rebuild": not a.no_rebuild,
        "anchored": None if a.anchor is None else tuple(a.anchor),
        "commands": None if a.commands is None else tuple(a.commands),
    }
    rep = C.Report(
        a.name,
        "commands reading the derived tables vs the full computation (SYNTHETIC national store)",
        False,
        params={"hazards": a.hazards, "counts": national.counts(a.hazards)},
    )
    if a.store:
        rep.details["GeoPackage build"] = national.build_times(a.store)
        rep.details["store"] = a.store
        run("GeoPackage", a.store, rep, **opts)
    elif not a.no_gpkg:
        src = national.national_store(a.hazards)
        loc = C.data_dir() / f"derived_{a.hazards}.gpkg"
        shutil.copyfile(src, loc)
        rep.details["GeoPackage build"] = national.build_times(str(src))
        run("GeoPackage", str(loc), rep, **opts)
    if a.pg_url:
        loc_pg = national.national_store(a.hazards, pg_url=a.pg_url)
        rep.details["PostGIS build"] = national.build_times(loc_pg)
        run("PostGIS", loc_pg, rep, **opts)
    rep.print()
    print(rep.write())


if __name__ == "__main__":
    main()
