"""A SYNTHETIC national store for the issue-16 benchmarks (module and CLI).

By default: 100,000 hazards, 100,000 releases over 5 years (2020-2024) with the activities that
made them, 20,000 accidents, 50,000 EO reports, and a reference layer ``admin_areas`` of 1,500
administrative areas (the study area of bench/_common.py tiled 50 x 30). ``--hazards N`` scales
every count with N (the areas stay 1,500). Everything is seeded, so two builds are equal.

* Hazards: the star-shaped rings of :func:`_common.hazard_rings` (30 vertices, 1-50 ha), open,
  SHA/CHA, reported 2018-2019, ``admin_area`` the area holding their first vertex.
* Releases: on half of the hazards (1 to about 6 each, 2 on average); the i-th of m releases
  of a hazard is the hazard cut by the i-th of m vertical strips of its bounding box, so it
  lies inside its hazard and no two overlap. Type: 30 % cancelled (non-technical survey),
  30 % reduced (technical survey), 40 % cleared (clearance). Each is made by the one activity
  of its hazard and type (completed; started 20 days before its first release, completed on
  its last), as the model requires; ``hazard_id`` taken from the activity.
* Accidents: points in the study area, 2020-2024, 30 % demining (linked to an activity and its
  hazard), 70 % civilian (a third of them linked to a hazard).
* EO reports: points, 2021-2024, statuses new/verified/dismissed/linked (linked ones name a
  hazard), a third public.

Records are written with ``store.upsert`` in batches of 10,000 (the bulk write path that
``demine import`` ends in: one transaction per batch, a history revision per record, the
R-tree filled in bulk), derived fields (``area_m2``) computed by demine's own geodesic area;
the admin areas are imported with ``import_file`` as ``demine import --kind layer:admin_areas``
does. The store is marked synthetic (the CLI says so on every command).

Cached: ``bench/.data/national_<n>.gpkg`` (a stamp next to it), and on PostGIS the schema
``national_<n>`` of ``--pg-url`` (the stamp in its settings); rebuilt when demine's store code,
the model or this generator change, or with ``--fresh``.

    python bench/national.py                        # GeoPackage, 100,000 hazards
    python bench/national.py --hazards 1000         # the small store
    python bench/national.py --pg-url postgresql://localhost/bench   # also on PostGIS
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import _common as C
import numpy as np

SEED = 20261116
FULL = 100_000
AREAS_X, AREAS_Y = 50, 30  # 1,500 administrative areas
BATCH = 10_000
LAYER = "admin_areas"
YEARS = (2020, 2024)


def counts(hazards: int) -> dict[str, int]:
    """The counts of a national store of ``hazards`` hazards (the issue's proportions)."""
    return {
        "hazards": hazards,
        "releases": hazards,
        "accidents": hazards // 5,
        "eo_reports": hazards // 2,
        "admin_areas": AREAS_X * AREAS_Y,
    }


def fingerprint() -> str:
    """A hash of the sources that shape the store (their syntax trees: a change of layout or
    comments rebuilds nothing)."""
    h = hashlib.sha1()
    for rel in (
        "store/gpkg.py",
        "store/gpkg_format.py",
        "store/postgis.py",
        "store/common.py",
        "store/base.py",
        "store/core/records.py",
        "store/core/derived.py",  # the derived tables, made on write
        "store/core/derived_schema.py",
        "store/core/derived_stats.py",  # their statistics' figures, measured on write
        "geo/release.py",
        "model/kinds.py",
        "model/schema.py",
    ):
        h.update(ast.dump(ast.parse((C.SRC / "demine" / rel).read_text())).encode())
    h.update(ast.dump(ast.parse(Path(__file__).read_text())).encode())
    return h.hexdigest()[:12]


# --- the data ---------------------------------------------------------------------------------


def _days(rng: np.random.Generator, n: int, first: date, last: date) -> list[str]:
    span = (last - first).days
    return [(first + timedelta(days=int(d))).isoformat() for d in rng.integers(0, span + 1, n)]


def _area_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index (0-based) of the admin area holding each position."""
    w = (C.LON_MAX - C.LON_MIN) / AREAS_X
    h = (C.LAT_MAX - C.LAT_MIN) / AREAS_Y
    ix = np.clip(((lon - C.LON_MIN) / w).astype(int), 0, AREAS_X - 1)
    iy = np.clip(((lat - C.LAT_MIN) / h).astype(int), 0, AREAS_Y - 1)
    return iy * AREAS_X + ix


def area_name(i: int) -> str:
    return f"Synthetic area {i + 1:04d}"


def admin_areas_geojson(path: Path) -> Path:
    w = (C.LON_MAX - C.LON_MIN) / AREAS_X
    h = (C.LAT_MAX - C.LAT_MIN) / AREAS_Y
    feats = []
    for iy in range(AREAS_Y):
        for ix in range(AREAS_X):
            x0, y0 = C.LON_MIN + ix * w, C.LAT_MIN + iy * h
            ring = [
                [round(x, 7), round(y, 7)]
                for x, y in ((x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0))
            ]
            i = iy * AREAS_X + ix
            feats.append(
                {
                    "type": "Feature",
                    "id": f"area-{i + 1:04d}",
                    "properties": {"name": area_name(i), "code": f"UA-SYN-{i + 1:04d}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    import orjson

    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def make_records(n: int, seed: int = SEED) -> dict[str, list[Any]]:
    """Every record of a national store of n hazards (Record objects, ids made here)."""
    import shapely

    from demine.geo.geodesy import geodesic_area
    from demine.ids import uuid7
    from demine.model.kinds import RELEASE_BY
    from demine.model.schema import Record

    rng = np.random.default_rng(seed)
    cnt = counts(n)
    rings, _ = C.hazard_rings(n, seed)
    polys = shapely.polygons(rings)
    hgeoms = shapely.multipolygons(polys[:, None])
    harea = geodesic_area(hgeoms)
    hids = [uuid7() for _ in range(n)]
    htype = np.where(rng.random(n) < 0.6, "SHA", "CHA")
    hrep = _days(rng, n, date(2018, 1, 1), date(2019, 12, 31))
    harea_ix = _area_of(rings[:, 0, 0], rings[:, 0, 1])
    hazards = [
        Record(
            "hazards",
            hids[i],
            {
                "name": f"Synthetic hazard {i + 1}",
                "reference": f"SYN-{i + 1:06d}",
                "hazard_type": str(htype[i]),
                "status": "open",
                "reported_on": hrep[i],
                "admin_area": area_name(int(harea_ix[i])),
                "area_m2": round(float(harea[i]), 2),
            },
            hgeoms[i],
            source_id=f"national-{i + 1:06d}",
        )
        for i in range(n)
    ]

    # releases: on half of the hazards, the i-th of m is the hazard cut by the i-th strip
    nrel = cnt["releases"]
    on = np.sort(rng.integers(0, n // 2 if n > 1 else 1, nrel))  # hazard of each release
    first = np.searchsorted(on, on, side="left")
    last = np.searchsorted(on, on, side="right")
    k, m = np.arange(nrel) - first, last - first
    bounds = shapely.bounds(polys[on])
    wid = bounds[:, 2] - bounds[:, 0]
    x0 = bounds[:, 0] + wid * k / m
    x1 = bounds[:, 0] + wid * (k + 1) / m
    strips = shapely.box(x0 - (k == 0) * 1e-6, bounds[:, 1], x1 + (k == m - 1) * 1e-6, bounds[:, 3])
    parts = shapely.intersection(polys[on], strips)
    parts = np.where(shapely.is_empty(parts), polys[on], parts)  # cannot happen; kept safe
    rgeoms = [
        g
        if g.geom_type == "MultiPolygon"
        else shapely.MultiPolygon([p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"])
        for g in parts
    ]
    rarea = geodesic_area(np.asarray(rgeoms, dtype=object))
    u = rng.random(nrel)
    rtype = np.where(u < 0.3, "cancelled", np.where(u < 0.6, "reduced", "cleared"))
    ron = _days(rng, nrel, date(YEARS[0], 1, 1), date(YEARS[1], 12, 31))
    acts: dict[tuple[int, str], dict[str, Any]] = {}
    for j in range(nrel):
        key = (int(on[j]), str(rtype[j]))
        a = acts.get(key)
        if a is None:
            a = acts[key] = {"id": uuid7(), "dates": []}
        a["dates"].append(ron[j])
    activities = []
    for (h, rt), a in acts.items():
        d0 = min(a["dates"])
        activities.append(
            Record(
                "activities",
                a["id"],
                {
                    "hazard_id": hids[h],
                    "activity_type": RELEASE_BY[rt],
                    "status": "completed",
                    "organisation": f"Synthetic operator {h % 7 + 1}",
                    "started_on": (date.fromisoformat(d0) - timedelta(days=20)).isoformat(),
                    "completed_on": max(a["dates"]),
                },
                None,
            )
        )
    releases = [
        Record(
            "releases",
            uuid7(),
            {
                "activity_id": acts[(int(on[j]), str(rtype[j]))]["id"],
                "hazard_id": hids[int(on[j])],
                "release_type": str(rtype[j]),
                "released_on": ron[j],
                "organisation": f"Synthetic operator {int(on[j]) % 7 + 1}",
                "area_m2": round(float(rarea[j]), 2),
            },
            rgeoms[j],
        )
        for j in range(nrel)
    ]

    # accidents and EO reports: points in the study area
    act_list = list(acts.items())
    nacc = cnt["accidents"]
    lon = rng.uniform(C.LON_MIN, C.LON_MAX, nacc)
    lat = rng.uniform(C.LAT_MIN, C.LAT_MAX, nacc)
    when = _days(rng, nacc, date(YEARS[0], 1, 1), date(YEARS[1], 12, 31))
    demining = rng.random(nacc) < 0.3
    linked = rng.random(nacc) < 1 / 3
    pick = rng.integers(0, max(len(act_list), 1), nacc)
    hpick = rng.integers(0, n, nacc)
    cats = ("ap_blast", "ap_fragmentation", "at", "uxo")
    cat = rng.integers(0, 4, nacc)
    hour = rng.integers(6, 18, nacc)
    acc_area = _area_of(lon, lat)
    accidents = []
    for i in range(nacc):
        props: dict[str, Any] = {
            "occurred_at": f"{when[i]}T{int(hour[i]):02d}:00:00Z",
            "accident_type": "demining" if demining[i] else "civilian",
            "device_category": cats[int(cat[i])],
            "admin_area": area_name(int(acc_area[i])),
        }
        if demining[i] and act_list:
            (h, _), a = act_list[int(pick[i])]
            props.update(activity_id=a["id"], hazard_id=hids[h])
        elif linked[i]:
            props["hazard_id"] = hids[int(hpick[i])]
        accidents.append(
            Record("accidents", uuid7(), props, shapely.Point(float(lon[i]), float(lat[i])))
        )
    neo = cnt["eo_reports"]
    lon = rng.uniform(C.LON_MIN, C.LON_MAX, neo)
    lat = rng.uniform(C.LAT_MIN, C.LAT_MAX, neo)
    when = _days(rng, neo, date(2021, 1, 1), date(YEARS[1], 12, 31))
    status = rng.choice(["new", "verified", "dismissed", "linked"], neo, p=[0.3, 0.3, 0.2, 0.2])
    public = rng.random(neo) < 1 / 3
    hpick = rng.integers(0, n, neo)
    eo_reports = []
    for i in range(neo):
        props = {
            "reported_at": f"{when[i]}T10:00:00Z",
            "status": str(status[i]),
            "public": bool(public[i]),
            "description": "Synthetic report",
        }
        if status[i] == "linked":
            props["hazard_id"] = hids[int(hpick[i])]
        eo_reports.append(
            Record("eo_reports", uuid7(), props, shapely.Point(float(lon[i]), float(lat[i])))
        )
    return {
        "hazards": hazards,
        "activities": activities,
        "releases": releases,
        "accidents": accidents,
        "eo_reports": eo_reports,
    }


# --- the store ----------------------------------------------------------------------------------


def _fill(store: Any, n: int, log: Callable[[str], None]) -> dict[str, float]:
    """Write a national store of n hazards into an empty, initialised store."""
    from demine.model.synthetic import SYNTHETIC_NOTICE
    from demine.services.register import ImportOptions, import_file

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    recs = make_records(n)
    times["generate_s"] = time.perf_counter() - t0
    log(f"  records made in {times['generate_s']:.1f} s")
    store.set_setting("synthetic", True)
    store.set_setting("synthetic_notice", SYNTHETIC_NOTICE)
    for kind, rows in recs.items():
        t = time.perf_counter()
        for s in range(0, len(rows), BATCH):
            store.upsert(
                kind, rows[s : s + BATCH], actor="bench", reason="synthetic national store"
            )
        times[f"{kind}_s"] = time.perf_counter() - t
        log(f"  {len(rows):,} {kind} in {times[f'{kind}_s']:.1f} s")
    t = time.perf_counter()
    src = admin_areas_geojson(C.data_dir() / "national_admin_areas.geojson")
    rep = import_file(
        store, src, ImportOptions(kind=f"layer:{LAYER}", reason="synthetic", actor="bench")
    )
    assert rep.imported == AREAS_X * AREAS_Y, rep.imported
    times["admin_areas_s"] = time.perf_counter() - t
    store.set_setting("bench_national", {"fingerprint": fingerprint(), "hazards": n})
    return times


def gpkg_path(n: int) -> Path:
    return C.data_dir() / f"national_{n}.gpkg"


def pg_location(pg_url: str, n: int) -> str:
    sep = "&" if "?" in pg_url else "?"
    return f"{pg_url}{sep}demine_schema=national_{n}"


def national_store(
    n: int = FULL,
    *,
    pg_url: str | None = None,
    fresh: bool = False,
    reuse: bool = False,
    log: Callable[[str], None] = C.log,
) -> str:
    """The location of a national store of n hazards (GeoPackage, or PostGIS at ``pg_url``),
    built if missing or out of date. Build times go to a stamp next to it / its settings.
    ``reuse``: a store that is there is used even if other sources made it (its records are
    the same; say so with the figures: the build's fingerprint is in its stamp/settings)."""
    from demine.services.setup import init_store
    from demine.store.open import open_store

    fp = fingerprint()
    if pg_url is None:
        path = gpkg_path(n)
        stamp = path.with_suffix(".json")
        if (
            not fresh
            and stamp.exists()
            and path.exists()
            and (reuse or json.loads(stamp.read_text()).get("fingerprint") == fp)
        ):
            return str(path)
        tmp = path.with_name(path.stem + ".tmp.gpkg")
        C.remove_gpkg(tmp)
        location = str(tmp)
    else:
        location = pg_location(pg_url, n)
        if not fresh:
            try:
                s = open_store(location)
                try:
                    meta = s.setting("bench_national") or {}
                finally:
                    s.close()
                if meta.get("fingerprint") == fp or (reuse and meta):
                    return location
            except Exception:  # noqa: BLE001 - no store there yet: build it
                pass
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "national_{n}" CASCADE')
    log(f"making the SYNTHETIC national store of {n:,} hazards at {location.split('?')[-1]} ...")
    t0 = time.perf_counter()
    store = open_store(location)
    try:
        init_store(store)
        times = _fill(store, n, log)
    finally:
        store.close()
    times["total_s"] = time.perf_counter() - t0
    log(f"  done in {times['total_s']:.0f} s")
    meta = {"fingerprint": fp, "hazards": n, "build": times, "counts": counts(n)}
    if pg_url is None:
        C.remove_gpkg(path)
        Path(location).replace(path)
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return str(path)
    s = open_store(location)
    try:
        s.set_setting("bench_national_build", times)
    finally:
        s.close()
    return location


def build_fingerprint(location: str) -> str | None:
    """The fingerprint of the sources that built the store at ``location``."""
    if location.startswith("postgres"):
        from demine.store.open import open_store

        s = open_store(location)
        try:
            return (s.setting("bench_national") or {}).get("fingerprint")
        finally:
            s.close()
    stamp = Path(location).with_suffix(".json")
    return json.loads(stamp.read_text()).get("fingerprint") if stamp.exists() else None


def build_times(location: str) -> dict[str, Any]:
    """The build times kept with a national store."""
    if location.startswith("postgres"):
        from demine.store.open import open_store

        s = open_store(location)
        try:
            return dict(s.setting("bench_national_build") or {})
        finally:
            s.close()
    stamp = Path(location).with_suffix(".json")
    return json.loads(stamp.read_text()).get("build", {}) if stamp.exists() else {}


def run_on_copies(
    name: str,
    title: str,
    run_backend: Callable[[str, str, int, Any], None],
    description: str,
) -> None:
    """The ``main`` of a benchmark on the national store: ``--hazards``, ``--pg-url``,
    ``--repeat``; ``run_backend(backend, location, repeat, report)`` on a copy of the cached
    GeoPackage store (it may write to it), and on the cached PostGIS store when asked; then the
    report printed and written."""
    import shutil
    import tempfile

    ap = argparse.ArgumentParser(description=description.split("\n")[0])
    ap.add_argument("--hazards", type=int, default=2000)
    ap.add_argument("--pg-url", help="also on PostGIS (a server with PostGIS)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rep = C.Report(name, title, False, params={"hazards": a.hazards, "repeat": a.repeat})
    src = national_store(a.hazards, reuse=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "national.gpkg"
        shutil.copy(src, copy)
        run_backend("GeoPackage", str(copy), a.repeat, rep)
    if a.pg_url:
        pg = national_store(a.hazards, pg_url=a.pg_url, reuse=True)
        run_backend("PostGIS", pg, a.repeat, rep)
    rep.print()
    print(rep.write())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hazards", type=int, default=FULL)
    ap.add_argument("--pg-url", help="also build it on PostGIS (schema national_<n>)")
    ap.add_argument("--no-gpkg", action="store_true", help="PostGIS only")
    ap.add_argument("--fresh", action="store_true", help="rebuild even if cached")
    a = ap.parse_args()
    if not a.no_gpkg:
        loc = national_store(a.hazards, fresh=a.fresh)
        print(loc, json.dumps(build_times(loc)))
    if a.pg_url:
        loc = national_store(a.hazards, pg_url=a.pg_url, fresh=a.fresh)
        print(loc.split("?")[-1], json.dumps(build_times(loc)))


if __name__ == "__main__":
    main()
