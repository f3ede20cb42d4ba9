"""Derived figures kept up to date on write (issue 16, store/core/derived.py): after any
sequence of writes, each hazard's derived account equals a full recomputation from the
records; ``rebuild_derived`` gives the same; a failed write leaves them as they were; an older
store gets the tables (not built until rebuilt) and readers fall back; the statistics are the
same, byte for byte, with and without them. Both backends."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date
from typing import Any

import numpy as np
import pytest
import shapely

import stats_data
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.release_rules import accounts, computed
from demine.services.stats import compute
from demine.store.open import open_store


def _wkb(g: Any) -> tuple[bytes, float] | None:
    """A geometry as its WKB and its precision grid (which later operations heed)."""
    return None if g is None else (bytes(shapely.to_wkb(g)), float(shapely.get_precision(g)))


def _flat(accs: dict[str, Any]) -> list[Any]:
    """Every figure and geometry of the accounts, in order, as comparable values."""
    out: list[Any] = []
    for hid, a in accs.items():
        out.append(
            (
                hid,
                a.hazard_m2,
                a.released_m2,
                a.remaining_m2,
                a.by_type,
                _wkb(a.released),
                _wkb(a.remaining),
            )
        )
        for p in a.pieces:
            out.append(
                (
                    p.release_id,
                    p.release_type,
                    p.released_on,
                    p.recorded_m2,
                    p.credited_m2,
                    p.overlap_m2,
                    p.overlaps_with,
                    p.outside_m2,
                    _wkb(p.credited),
                    _wkb(p.outside),
                )
            )
    return out


def _assert_current(store: Any) -> None:
    derived = store.derived_accounts()
    assert derived is not None, "the derived tables should be built"
    assert _flat(derived) == _flat(computed(store))


def _set_built(store: Any, value: str) -> None:
    store._transaction(
        "__derived__",
        lambda c: c.execute(
            f"UPDATE demine_derived_state SET value = {store.P} WHERE key = 'built'", (value,)
        ),
    )


@pytest.fixture
def year(store: Any) -> stats_data.Year:
    return stats_data.build(store)


def _box_near(g: Any, rng: random.Random) -> Any:
    x0, y0, x1, y1 = shapely.bounds(g)
    w, h = (x1 - x0) or 0.01, (y1 - y0) or 0.01
    x = x0 + rng.uniform(-0.3, 0.8) * w
    y = y0 + rng.uniform(-0.3, 0.8) * h
    return shapely.MultiPolygon([shapely.box(x, y, x + w * rng.uniform(0.2, 0.7), y + h * 0.5)])


def test_new_store_is_built_and_kept_on_write(store: Any, year: stats_data.Year) -> None:
    assert store.derived_built()
    _assert_current(store)
    rels = store.derived_accounts()
    h1 = year.hazards["H1"].id
    assert [p.release_id for p in rels[h1].pieces] == [
        r.id
        for r in sorted(year.releases, key=lambda r: (r.properties["released_on"], r.id))
        if r.properties["hazard_id"] == h1
    ]


def test_random_writes_keep_derived_equal_to_recomputation(
    store: Any, year: stats_data.Year
) -> None:
    rng = random.Random(16)
    hazards = [h.id for h in year.hazards.values()]
    deleted: list[str] = []
    for _step in range(40):
        live = [r.id for r in store.list("releases")]
        op = rng.choice(
            [
                "hazard_geometry",
                "release_geometry",
                "move_release",
                "delete_release",
                "restore_release",
                "new_release",
                "close_hazard",
                "delete_restore_hazard",
                "release_without_geometry",
                "release_date",
            ]
        )
        if op == "hazard_geometry":
            hid = rng.choice(hazards)
            g = store.get("hazards", hid).geometry
            store.update("hazards", hid, geometry=shapely.affinity.scale(g, 1.3, 0.9), actor="t")
        elif op == "release_geometry" and live:
            r = store.get("releases", rng.choice(live))
            h = store.get("hazards", r.properties["hazard_id"])
            store.update("releases", r.id, geometry=_box_near(h.geometry, rng), actor="t")
        elif op == "move_release" and live:
            r = store.get("releases", rng.choice(live))
            props = {**r.properties, "hazard_id": rng.choice(hazards)}
            store.update("releases", r.id, properties=props, actor="t")
        elif op == "delete_release" and live:
            rid = rng.choice(live)
            store.delete("releases", rid, actor="t")
            deleted.append(rid)
        elif op == "restore_release" and deleted:
            rid = deleted.pop(rng.randrange(len(deleted)))
            last = store.history(rid)[-2].revision
            store.restore(rid, last, actor="t")
        elif op == "new_release":
            hid = rng.choice(hazards)
            h = store.get("hazards", hid)
            props = {
                "activity_id": uuid7(),
                "release_type": rng.choice(["cancelled", "reduced", "cleared"]),
                "released_on": f"202{rng.randint(3, 6)}-0{rng.randint(1, 9)}-15",
                "hazard_id": hid,
            }
            store.upsert(
                "releases",
                [Record("releases", uuid7(), props, _box_near(h.geometry, rng))],
                actor="t",
            )
        elif op == "close_hazard":
            hid = rng.choice(hazards)
            h = store.get("hazards", hid)
            props = {**h.properties, "status": "closed", "closed_on": "2025-12-01"}
            store.update("hazards", hid, properties=props, actor="t")
        elif op == "delete_restore_hazard":
            hid = rng.choice(hazards)
            store.delete("hazards", hid, actor="t")
            _assert_current(store)
            store.restore(hid, store.history(hid)[-2].revision, actor="t")
        elif op == "release_without_geometry" and live:
            r = store.get("releases", rng.choice(live))
            store.upsert("releases", [Record("releases", r.id, r.properties, None)], actor="t")
        elif op == "release_date" and live:
            r = store.get("releases", rng.choice(live))
            props = {**r.properties, "released_on": f"202{rng.randint(3, 6)}-07-01"}
            store.update("releases", r.id, properties=props, actor="t")
        _assert_current(store)
    before = _flat(store.derived_accounts())
    assert store.rebuild_derived() == len(hazards)
    assert _flat(store.derived_accounts()) == before
    # accounts up to a date: read up to the end of a year, computed again within one
    for until in ("2022-12-31", "2023-12-31", "2024-12-31", "2025-06-30", "2025-12-31"):
        day = date.fromisoformat(until)
        assert _flat(accounts(store, day)) == _flat(computed(store, day)), until


def test_a_failed_write_leaves_derived_rows_unchanged(store: Any, year: stats_data.Year) -> None:
    before = _flat(store.derived_accounts())
    h1 = year.hazards["H1"]

    def body() -> None:
        store.update("hazards", h1.id, geometry=stats_data.mp((35.0, 47.0, 35.1, 47.1)), actor="t")
        store.delete("releases", year.releases[0].id, actor="t")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.atomically(body)
    assert _flat(store.derived_accounts()) == before
    _assert_current(store)


def test_not_built_falls_back_and_rebuild_builds(store: Any, year: stats_data.Year) -> None:
    _set_built(store, "no")
    assert not store.derived_built()
    assert store.derived_accounts() is None
    # writes while not built leave the tables alone; readers compute from the records
    store.delete("releases", year.releases[0].id, actor="t")
    assert _flat(accounts(store)) == _flat(computed(store))
    assert store.rebuild_derived() == 4
    assert store.derived_built()
    _assert_current(store)


def _stats_json(store: Any, **kw: Any) -> str:
    out = compute(store, **kw)
    out.pop("generated_at")
    return json.dumps(out, sort_keys=True)


@pytest.mark.parametrize("period", [None, "2024", "2025"])
def test_statistics_identical_with_and_without_derived(
    store: Any, year: stats_data.Year, period: str | None
) -> None:
    # shaped like real data: a release moved to another hazard, a hazard edited after its
    # releases, a deleted release, a closed hazard (stats_data has overlaps and outside parts)
    h1, h3 = year.hazards["H1"], year.hazards["H3"]
    moved = year.releases[5]
    store.update(
        "releases", moved.id, properties={**moved.properties, "hazard_id": h1.id}, actor="t"
    )
    store.update(
        "hazards", h3.id, geometry=stats_data.mp((36.20, 48.00, 36.215, 48.012)), actor="t"
    )
    store.delete("releases", year.releases[1].id, actor="t")
    for by in (None, "oblasts"):
        with_derived = _stats_json(store, period=period, by=by)
        _set_built(store, "no")
        without = _stats_json(store, period=period, by=by)
        store.rebuild_derived()
        assert with_derived == without


def _make_old(store: Any) -> Any:
    """Make the store look like one written before the derived tables (and reopen it)."""

    def body(c: Any) -> None:
        for kind in ("hazards", "releases", "activities"):
            if store.P == "?":
                for op in ("insert", "update", "delete"):
                    c.execute(f'DROP TRIGGER "demine_derived_stale_{kind}_{op}"')
            else:
                c.execute(f'DROP TRIGGER "demine_derived_stale_{kind}" ON {kind}')
        for t in ("piece", "hazard", "zonal", "state", "memo"):
            c.execute(f"DROP TABLE demine_derived_{t}")
        if store.P == "?":
            c.execute("DELETE FROM gpkg_contents WHERE table_name LIKE 'demine_derived_%'")
        stats_data.set_schema_version(store, c, gpkg=10, postgis=9)

    store._transaction("__schema__", body)
    store.close()
    return open_store(store.location)


def test_an_older_store_gets_the_tables_not_built(store: Any, year: stats_data.Year) -> None:
    old = _make_old(store)
    try:
        assert not old.derived_built()
        assert old.derived_accounts() is None
        assert _flat(accounts(old)) == _flat(computed(old))
        assert old.rebuild_derived() == 4
        _assert_current(old)
    finally:
        old.close()


def test_rows_of_an_older_definition_are_made_again(store: Any, year: stats_data.Year) -> None:
    """Rows written before an untouched hazard's account was its own polygon (GeoPackage
    schema 13, PostGIS 12) mean something else: an upgraded store has them not built."""

    def body(c: Any) -> None:
        c.execute("DELETE FROM demine_derived_state WHERE key = 'definition'")
        stats_data.set_schema_version(store, c, gpkg=13, postgis=12)

    store._transaction("__schema__", body)
    store.close()
    old = open_store(store.location)
    try:
        assert not old.derived_built()
        assert old.derived_accounts() is None
        assert old.rebuild_derived() == 4
        _assert_current(old)
        old.close()
        again = open_store(store.location)  # the definition is kept: built stays built
        assert again.derived_built()
        again.close()
    finally:
        old.close()


def test_an_untouched_hazards_account_is_its_own_polygon_and_area(
    store: Any, tmp_path: Any
) -> None:
    """A hazard with nothing released is counted as stored: its polygon, and the area its
    ``area_m2`` holds (before rounding); nothing cleaned, cut or measured again."""
    from demine.geo.geodesy import geodesic_area
    from demine.services.register import ImportOptions, import_file

    ring = [[30 + 0.004 * np.cos(t), 48 + 0.003 * np.sin(t)] for t in np.linspace(0, 6.2, 40)]
    ring.append(ring[0])
    feature = {
        "type": "Feature",
        "properties": {"hazard_type": "SHA", "status": "open", "name": "U"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    src = tmp_path / "one.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    (hid,) = import_file(store, src, ImportOptions(kind="hazards")).ids
    stored = store.get("hazards", hid)
    for accs in (store.derived_accounts([hid]), computed(store, None, [hid])):
        acc = accs[hid]
        assert shapely.to_wkb(acc.remaining) == shapely.to_wkb(stored.geometry)
        assert shapely.get_precision(acc.remaining) == 0.0
        assert acc.hazard_m2 == acc.remaining_m2 == float(geodesic_area(stored.geometry)[0])
        assert round(acc.hazard_m2, 2) == stored.properties["area_m2"]
        assert acc.pieces == [] and acc.released_m2 == 0.0
    # the polygon is not kept twice: the derived row holds none, it is read from the hazard
    row = store.conn.execute(
        f"SELECT remaining, remaining_grid FROM demine_derived_hazard WHERE hazard_id = {store.P}",
        (hid,),
    ).fetchone()
    assert row[0] is None and row[1] == 0.0


def test_gdal_validator_accepts_the_derived_tables(gpkg_store: Any) -> None:
    stats_data.build(gpkg_store)
    gpkg_store.close()
    res = subprocess.run(
        [sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(gpkg_store.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "" and "error" not in res.stderr.lower(), res.stdout + res.stderr


def test_unreleased_accounts_together_equal_each_alone() -> None:
    from demine.geo.release import account, unreleased

    rng = random.Random(7)
    hazards = []
    for _ in range(50):
        x, y = rng.uniform(22, 40), rng.uniform(44, 52)
        pts = [
            (x + 0.01 * rng.uniform(0.3, 1) * np.cos(t), y + 0.01 * rng.uniform(0.3, 1) * np.sin(t))
            for t in np.linspace(0, 2 * np.pi, 30, endpoint=False)
        ]
        hazards.append(shapely.MultiPolygon([shapely.Polygon(pts)]))
    hazards.append(shapely.MultiPolygon())
    together = unreleased(hazards)
    for h, a in zip(hazards, together, strict=True):
        b = account(h, [])
        assert (a.hazard_m2, a.remaining_m2, _wkb(a.remaining)) == (
            b.hazard_m2,
            b.remaining_m2,
            _wkb(b.remaining),
        )


def test_last_activity_follows_activities_and_releases(store: Any, year: stats_data.Year) -> None:
    h1 = year.hazards["H1"].id

    def last() -> str:
        return str(
            store.conn.execute(
                f"SELECT last_activity_on FROM demine_derived_hazard WHERE hazard_id = {store.P}",
                (h1,),
            ).fetchone()[0]
        )

    assert last() == "2025-09-01"  # the activities' completion
    act = Record(
        "activities",
        uuid7(),
        {
            "hazard_id": h1,
            "activity_type": "qa_qc",
            "status": "ongoing",
            "started_on": "2026-02-03",
        },
    )
    store.upsert("activities", [act], actor="t")
    assert last() == "2026-02-03"
    store.delete("activities", act.id, actor="t")
    assert last() == "2025-09-01"


def test_a_hazards_account_is_the_same_read_or_computed(store: Any, year: stats_data.Year) -> None:
    from demine.services.release import hazard_account

    moved = year.releases[5]
    props = {**moved.properties, "hazard_id": year.hazards["H1"].id}
    store.update("releases", moved.id, properties=props, actor="t")
    store.delete("releases", year.releases[1].id, actor="t")
    ids = [h.id for h in year.hazards.values()]
    read = [json.dumps(hazard_account(store, i), sort_keys=True) for i in ids]
    _set_built(store, "no")
    assert [json.dumps(hazard_account(store, i), sort_keys=True) for i in ids] == read


def test_an_edit_outside_demine_marks_them_not_built(store: Any, year: stats_data.Year) -> None:
    rel = year.releases[0]
    sql = f"UPDATE releases SET released_on = {store.P} WHERE id = {store.P}"
    store._transaction("__outside__", lambda c: c.execute(sql, ("2026-01-02", rel.id)))
    assert not store.derived_built()  # as QGIS or SQL would: the tables' triggers say so
    assert _flat(accounts(store)) == _flat(computed(store))
    store.delete("releases", year.releases[2].id, actor="t")  # demine's writes keep it so
    assert not store.derived_built()
    store.rebuild_derived()
    _assert_current(store)
    store.delete("releases", year.releases[3].id, actor="t")
    _assert_current(store)


def _zonal_rows(store: Any, hazard_id: str | None = None) -> int:
    sql = "SELECT count(*) FROM demine_derived_zonal"
    args: tuple[Any, ...] = ()
    if hazard_id is not None:
        sql += f" WHERE hazard_id = {store.P}"
        args = (hazard_id,)
    return int(store.conn.execute(sql, args).fetchone()[0])


def _clear_zonal(store: Any) -> None:
    store._transaction("__zonal__", lambda c: c.execute("DELETE FROM demine_derived_zonal"))


def test_zonal_cache_gives_the_same_splits(store: Any, year: stats_data.Year) -> None:
    cold = _stats_json(store, by="oblasts")
    assert _zonal_rows(store) > 0
    assert _stats_json(store, by="oblasts") == cold  # read from the cache
    assert _stats_json(store, by="oblasts", period="2024") == _stats_json(
        store, by="oblasts", period="2024"
    )
    # a hazard's geometry changes: its kept splits go, the others stay
    h1 = year.hazards["H1"].id
    assert _zonal_rows(store, h1) > 0
    store.update("hazards", h1, geometry=stats_data.mp((35.99, 48.0, 36.012, 48.011)), actor="t")
    assert _zonal_rows(store, h1) == 0
    warm = _stats_json(store, by="oblasts")
    _clear_zonal(store)
    assert _stats_json(store, by="oblasts") == warm
    # an admin area changes: every key changes with it
    west = next(r for r in store.list("oblasts") if r.properties["name"] == "west")
    store.update("oblasts", west.id, geometry=stats_data.mp((35.9, 47.9, 36.004, 48.1)), actor="t")
    warm = _stats_json(store, by="oblasts")
    _clear_zonal(store)
    assert _stats_json(store, by="oblasts") == warm
    assert store.rebuild_derived() == 4
    assert _zonal_rows(store) == 0


def test_an_import_keeps_them_equal_to_recomputation(store: Any, tmp_path: Any) -> None:
    """An import computes its hazards' accounts ahead, on a second thread, while it checks
    their properties (geo.release.prepared): the rows are those a recomputation gives, for
    new hazards, a repeated geometry, a hazard imported again with another geometry, and a
    hazard that then gets a release and loses it again."""
    from demine.services.register import ImportOptions, import_file

    rng = random.Random(3)
    feats = []
    for _ in range(30):
        x, y = rng.uniform(33, 39), rng.uniform(46, 50)
        ring = [
            [x + 0.004 * np.cos(t) * rng.uniform(0.5, 1), y + 0.003 * np.sin(t)]
            for t in np.linspace(0, 2 * np.pi, 12, endpoint=False)
        ]
        ring.append(ring[0])
        feats.append(ring)
    feats.append(feats[0])  # the same polygon twice
    shift = [[x + 0.001, y] for x, y in feats[1]]

    def write(rings: list[Any], name: str) -> Any:
        fc = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": f"h{i}",
                    "properties": {"hazard_type": "SHA", "status": "open", "name": f"H{i}"},
                    "geometry": {"type": "Polygon", "coordinates": [r]},
                }
                for i, r in enumerate(rings)
            ],
        }
        p = tmp_path / name
        p.write_text(json.dumps(fc))
        return p

    import_file(store, write(feats, "a.geojson"), ImportOptions(kind="hazards"))
    _assert_current(store)
    before = _flat(store.derived_accounts())
    assert store.rebuild_derived() == len(feats)
    assert _flat(store.derived_accounts()) == before
    again = import_file(store, write([feats[0], shift], "b.geojson"), ImportOptions(kind="hazards"))
    assert again.updated == 1  # h1 has another geometry; h0 is unchanged
    _assert_current(store)
    h1 = store.get("hazards", again.ids[1])
    rel = Record(
        "releases",
        uuid7(),
        {
            "activity_id": uuid7(),
            "release_type": "cleared",
            "released_on": "2025-05-01",
            "hazard_id": h1.id,
        },
        _box_near(h1.geometry, rng),
    )
    store.upsert("releases", [rel], actor="t")
    _assert_current(store)
    assert store.derived_accounts([h1.id])[h1.id].released_m2 > 0
    store.delete("releases", rel.id, actor="t")
    _assert_current(store)
    assert store.derived_accounts([h1.id])[h1.id].pieces == []
