"""The GeoPackage store: every change a revision, delete and restore, optimistic locking."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from demine.errors import Conflict, NotFound, ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.records import WriteContext
from demine.services.register import delete_record, history, restore, show, update_record


def _hazard(**props: Any) -> Record:
    p = {"hazard_type": "SHA", "status": "open", "name": "H1"}
    p.update(props)
    return Record(
        "hazards", uuid7(), p, shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)])
    )


def test_update_delete_restore_keep_every_version(store: Any) -> None:
    rec = _hazard()
    store.upsert("hazards", [rec], actor="alice", reason="survey report 12")
    update_record(
        store,
        rec.id,
        {"hazard_type": "CHA", "evidence": "mine found"},
        ctx=WriteContext(actor="bob", reason="direct evidence"),
    )
    update_record(store, rec.id, {"name": "H1 north"}, ctx=WriteContext(actor="carol"))
    delete_record(store, rec.id, ctx=WriteContext(actor="dave", reason="entered twice"))

    with pytest.raises(NotFound, match="was deleted at revision 4"):
        show(store, rec.id)
    revs = history(store, rec.id)
    assert [(h.revision, h.op, h.actor) for h in revs] == [
        (1, "create", "alice"),
        (2, "update", "bob"),
        (3, "update", "carol"),
        (4, "delete", "dave"),
    ]
    assert revs[0].reason == "survey report 12"
    assert revs[1].state is not None and revs[1].state.properties["hazard_type"] == "CHA"
    assert revs[0].state is not None and revs[0].state.properties["hazard_type"] == "SHA"
    assert revs[3].state is None

    back = restore(store, rec.id, 2, ctx=WriteContext(actor="erin", reason="not a duplicate"))
    assert back.revision == 5
    assert back.properties["hazard_type"] == "CHA" and back.properties["name"] == "H1"
    cur = show(store, rec.id)
    assert cur.properties == back.properties
    assert shapely.equals(cur.geometry, rec.geometry)
    assert [h.op for h in history(store, rec.id)][-1] == "restore"
    assert store.count("hazards") == 1


def test_restore_an_older_revision_of_a_live_record(store: Any) -> None:
    rec = _hazard()
    store.upsert("hazards", [rec], actor="a")
    new_geom = shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.02, 48.02)])
    store.update("hazards", rec.id, geometry=new_geom, actor="b")
    restored = restore(store, rec.id, 1, ctx=WriteContext(actor="c"))
    assert restored.revision == 3
    assert shapely.equals(show(store, rec.id).geometry, rec.geometry)
    # the R-tree follows the geometry: the old, larger box no longer matches
    assert list(store.list("hazards", bbox=(37.015, 48.015, 37.019, 48.019))) == []


def test_stale_revision_is_a_conflict_and_loses_nothing(store: Any) -> None:
    rec = _hazard()
    store.upsert("hazards", [rec], actor="a")
    update_record(store, rec.id, {"name": "first"}, if_revision=1, ctx=WriteContext(actor="a"))
    with pytest.raises(Conflict, match="revision 2, not 1"):
        update_record(store, rec.id, {"name": "second"}, if_revision=1, ctx=WriteContext(actor="b"))
    assert show(store, rec.id).properties["name"] == "first"


def test_update_is_validated(store: Any) -> None:
    rec = _hazard()
    store.upsert("hazards", [rec], actor="a")
    with pytest.raises(ValidationError) as e:
        update_record(store, rec.id, {"status": "closed"}, ctx=WriteContext(actor="a"))
    assert e.value.faults[0].field == "closed_on"
    with pytest.raises(ValidationError) as e2:
        update_record(store, rec.id, {"hazard_type": "maybe"}, ctx=WriteContext(actor="a"))
    assert e2.value.faults[0].field == "hazard_type"
    assert len(history(store, rec.id)) == 1


def test_upsert_is_all_or_nothing(store: Any) -> None:
    a = Record(
        "device_types",
        uuid7(),
        {"code": "x-1", "name": "X", "category": "other", "persistence": "persistent"},
    )
    b = Record(
        "device_types",
        uuid7(),
        {"code": "x-1", "name": "dup", "category": "other", "persistence": "persistent"},
    )
    before = store.count("device_types")
    with pytest.raises(Conflict):
        store.upsert("device_types", [a, b], actor="a")
    assert store.count("device_types") == before


def test_unchanged_reimport_makes_no_revision(store: Any) -> None:
    rec = _hazard()
    rec.source_id = "IMSMA-17"
    store.upsert("hazards", [rec], actor="a")
    again = _hazard()
    again.source_id = "IMSMA-17"
    res = store.upsert("hazards", [again], actor="a")
    assert res.unchanged == [rec.id] and again.id == rec.id
    changed = _hazard(name="renamed")
    changed.source_id = "IMSMA-17"
    res2 = store.upsert("hazards", [changed], actor="a")
    assert res2.updated == [rec.id]
    assert store.count("hazards") == 1
    assert [h.revision for h in history(store, rec.id)] == [1, 2]
