"""The history keeps a revision's geometry once (copy on write): a history row whose geometry is
its record's current one holds no copy, and the geometry is copied into it before the record's
geometry changes. Every reader (history, revisions, restore, copy) sees the same revisions as
when every row held a copy. On both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely

from demine.errors import Conflict
from demine.model.schema import Record
from demine.services.import_check import ImportOptions
from demine.services.records import WriteContext
from demine.services.register import delete_record, history, import_file, restore, update_record
from demine.store.gpkg import GeoPackageStore
from demine.store.open import open_store
from gpkg_check import assert_gdal_valid


def _is_pg(store: Any) -> bool:
    return str(store.location).startswith("postgres")


def _geojson(path: Path, n: int, dx: float = 0.0) -> Path:
    feats = []
    for i in range(n):
        x, y = 37.0 + (i % 50) * 0.02 + dx, 48.0 + (i // 50) * 0.02
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
        feats.append(
            {
                "type": "Feature",
                "id": f"h-{i:05d}",
                "properties": {"hazard_type": "SHA", "status": "open", "name": f"H{i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _key(rev: Any) -> tuple[Any, ...]:
    st = rev.state
    state = None
    if st is not None:
        wkb = None if st.geometry is None else shapely.to_wkb(st.geometry, hex=True)
        state = (json.dumps(st.properties, sort_keys=True), st.source_id, st.extra, wkb)
    return (rev.record_id, rev.kind, rev.revision, rev.op, rev.at, rev.actor, rev.reason, state)


def _rows(store: Any) -> list[tuple[str, int, bool, bool]]:
    """(record id, revision, holds a geometry copy, shares the record's) of every history row."""
    return [
        (r[0], r[1], r[2] is not None, bool(r[3]))
        for r in store.conn.execute(
            "SELECT record_id, revision, geom, geom_shared FROM demine_history "
            "WHERE kind = 'hazards' "
            "ORDER BY record_id, revision"
        ).fetchall()
    ]


def _ids(store: Any) -> list[str]:
    return [r.id for r in store.list("hazards")]


def test_an_imported_record_s_history_row_holds_no_copy_of_its_geometry(
    store: Any, tmp_path: Path
) -> None:
    rep = import_file(store, _geojson(tmp_path / "h.geojson", 60), ImportOptions(kind="hazards"))
    assert rep.stored and rep.imported == 60
    rows = _rows(store)
    assert len(rows) == 60
    assert all(not copy and shared for _, _, copy, shared in rows)
    for rid in _ids(store)[:5]:  # and the history still gives it
        (rev,) = history(store, rid)
        assert rev.state is not None
        assert shapely.equals(rev.state.geometry, store.get("hazards", rid).geometry)


def test_a_properties_change_keeps_sharing_a_geometry_change_copies_it(
    store: Any, tmp_path: Path
) -> None:
    import_file(store, _geojson(tmp_path / "h.geojson", 3), ImportOptions(kind="hazards"))
    a, b, _ = _ids(store)
    update_record(store, b, {"hazard_type": "CHA", "status": "open"}, ctx=WriteContext(actor="t"))
    update_record(
        store,
        a,
        {"hazard_type": "SHA", "status": "open"},
        geometry=shapely.MultiPolygon([shapely.box(30, 40, 30.01, 40.01)]),
        ctx=WriteContext(actor="t"),
    )
    rows = {(rid, rev): (copy, shared) for rid, rev, copy, shared in _rows(store)}
    assert rows[(b, 1)] == (False, True) and rows[(b, 2)] == (False, True)
    assert rows[(a, 1)] == (True, False) and rows[(a, 2)] == (False, True)


def test_update_delete_restore_and_reimport_leave_every_revision_as_it_was(
    store: Any, tmp_path: Path
) -> None:
    src = _geojson(tmp_path / "h.geojson", 6)
    import_file(store, src, ImportOptions(kind="hazards"))
    ids = _ids(store)
    before = {rid: [_key(r) for r in history(store, rid)] for rid in ids}
    first = {rid: store.get("hazards", rid).geometry for rid in ids}
    ctx = WriteContext(actor="bob", reason="survey")
    moved = shapely.MultiPolygon([shapely.box(36.0, 47.0, 36.01, 47.01)])
    props = {"hazard_type": "CHA", "status": "open", "name": "moved"}
    update_record(store, ids[0], props, geometry=moved, ctx=ctx)
    update_record(store, ids[1], props, ctx=ctx)
    delete_record(store, ids[2], ctx=ctx)
    restore(store, ids[2], 1, ctx=ctx)
    update_record(store, ids[3], props, geometry=moved, ctx=ctx)
    restore(store, ids[3], 1, ctx=ctx)
    delete_record(store, ids[4], ctx=ctx)
    # the same file with every polygon moved: an update through import (upsert)
    rep = import_file(
        store, _geojson(tmp_path / "moved.geojson", 6, dx=0.5), ImportOptions(kind="hazards")
    )
    assert rep.stored

    for rid in ids:  # the revisions written before are unchanged, geometries included
        now = [_key(r) for r in history(store, rid)]
        assert now[: len(before[rid])] == before[rid]
    h0 = history(store, ids[0])
    assert h0[1].state is not None and shapely.equals(h0[1].state.geometry, moved)
    assert h0[0].state is not None and shapely.equals(h0[0].state.geometry, first[ids[0]])
    h3 = history(store, ids[3])
    assert [r.op for r in h3][:3] == ["create", "update", "restore"]
    assert h3[2].state is not None and shapely.equals(h3[2].state.geometry, first[ids[3]])
    h4 = history(store, ids[4])
    assert h4[-1].op in ("delete", "create")
    assert h4[0].state is not None and shapely.equals(h4[0].state.geometry, first[ids[4]])
    # every live record's current geometry is its last revision's
    for rec in store.list("hazards"):
        last = history(store, rec.id)[-1]
        assert last.state is not None and shapely.equals(last.state.geometry, rec.geometry)
    # only a live record's revisions share its row; a deleted record's rows hold copies
    live = set(_ids(store))
    assert all(rid in live for rid, _, _, shared in _rows(store) if shared)
    # revisions() reads the same as history(), record by record
    everything = [_key(r) for r in store.revisions()]
    assert everything == [
        _key(r) for rid in sorted({k[0] for k in everything}) for r in history(store, rid)
    ]

    # a copy of the store (load_revisions) has the same revisions, and shares again
    dst = GeoPackageStore(tmp_path / "copy.gpkg")
    dst.init()  # empty, as a copy's target is
    try:
        dst.load_revisions(list(store.revisions()))
        assert [_key(r) for r in dst.revisions()] == everything
        shared = [(rid, rev) for rid, rev, _, s in _rows(dst) if s]
        assert {rid for rid, _ in shared} == live
        update_record(dst, ids[1], props, geometry=moved, ctx=ctx)
        assert [_key(r) for r in history(dst, ids[1])][:-1] == [
            k for k in everything if k[0] == ids[1]
        ]
    finally:
        dst.close()


def test_a_store_made_before_keeps_its_history_when_opened(store: Any, tmp_path: Path) -> None:
    import_file(store, _geojson(tmp_path / "h.geojson", 4), ImportOptions(kind="hazards"))
    ids = _ids(store)
    before = [_key(r) for r in store.revisions()]
    # as an older demine wrote it: a copy in every row, no geom_shared column
    store.conn.execute(
        "UPDATE demine_history SET geom = (SELECT t.geom FROM hazards t "
        "WHERE t.id = demine_history.record_id)"
    )
    if _is_pg(store):  # nor the triggers that keep it
        store.conn.execute("DROP FUNCTION demine_keep_shared_geometry() CASCADE")
    else:
        for (name,) in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'demine%keep%'"
        ).fetchall():
            store.conn.execute(f'DROP TRIGGER "{name}"')
    store.conn.execute("ALTER TABLE demine_history DROP COLUMN geom_shared")
    if _is_pg(store):
        store.conn.execute("UPDATE demine_schema SET version = 8")
    else:
        store.conn.execute("UPDATE demine_settings SET value = '9' WHERE key = 'schema_version'")
    store.close()
    again = open_store(store.location)
    try:
        assert [_key(r) for r in again.revisions()] == before  # migrated on open
        update_record(
            again,
            ids[0],
            {"hazard_type": "CHA", "status": "open"},
            geometry=shapely.MultiPolygon([shapely.box(36, 47, 36.01, 47.01)]),
            ctx=WriteContext(actor="t"),
        )
        assert [_key(r) for r in history(again, ids[0])][:1] == [
            k for k in before if k[0] == ids[0]
        ]
        if not _is_pg(again):
            again.close()
            assert_gdal_valid(again.path)
    finally:
        again.close()


def test_a_bulk_import_passes_the_validator_and_its_rtree_answers_boxes(
    gpkg_store: Any, tmp_path: Path
) -> None:
    from demine.store.gpkg import BULK_ROWS

    n = BULK_ROWS + 100
    rep = import_file(gpkg_store, _geojson(tmp_path / "h.geojson", n), ImportOptions("hazards"))
    assert rep.stored and rep.imported == n
    conn = gpkg_store.conn
    assert conn.execute("SELECT count(*) FROM rtree_hazards_geom").fetchone()[0] == n
    bbox = (37.1, 48.1, 37.3, 48.3)
    got = {r.id for r in gpkg_store.list("hazards", bbox=bbox)}
    want = {
        r.id
        for r in gpkg_store.list("hazards")
        if shapely.intersects(shapely.box(*r.geometry.bounds), shapely.box(*bbox))
    }
    assert got == want and len(want) > 10
    gpkg_store.close()
    assert_gdal_valid(gpkg_store.path)


def test_a_failed_import_stores_nothing_and_leaves_the_history_as_it_was(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_file(store, _geojson(tmp_path / "h.geojson", 3), ImportOptions(kind="hazards"))
    before = [_key(r) for r in store.revisions()]
    rows = _rows(store)
    ids = _ids(store)
    recs = [store.get("hazards", rid) for rid in ids]
    for r in recs:  # every geometry changes: their history rows get their copies first
        r.geometry = shapely.MultiPolygon([shapely.box(20, 20, 20.01, 20.01)])
    new = Record("hazards", "new-one", dict(recs[0].properties), recs[0].geometry)

    def fail(*a: Any, **kw: Any) -> None:  # a refusal after the rows are written
        raise Conflict("refused at the end")

    monkeypatch.setattr(store, "_check_foreign_ids", fail)
    with pytest.raises(Conflict, match="refused at the end"):
        store.upsert("hazards", [*recs, new], actor="t")
    assert [_key(r) for r in store.revisions()] == before
    assert _rows(store) == rows
    assert store.count("hazards") == 3


def test_an_edit_outside_demine_leaves_the_history_as_it_was(store: Any, tmp_path: Path) -> None:
    """As QGIS edits the file (or the database): a geometry changed or a row deleted by plain
    SQL, past demine. The history keeps the geometry each revision had."""
    import_file(store, _geojson(tmp_path / "h.geojson", 3), ImportOptions(kind="hazards"))
    a, b, c = _ids(store)
    before = {rid: [_key(r) for r in history(store, rid)] for rid in (a, b, c)}
    store.conn.execute(
        f"UPDATE hazards SET geom = (SELECT geom FROM hazards WHERE id = '{b}') WHERE id = '{a}'"
    )
    store.conn.execute(f"DELETE FROM hazards WHERE id = '{c}'")
    assert [_key(r) for r in history(store, a)] == before[a]
    assert [_key(r) for r in history(store, c)] == before[c]
    rows = {(rid, rev): (copy, shared) for rid, rev, copy, shared in _rows(store)}
    assert rows[(a, 1)] == (True, False) and rows[(c, 1)] == (True, False)
    assert rows[(b, 1)] == (False, True)
