"""Relationship lookups by indexed field: every relationship field (the UUID-typed ``*_id``
fields: a release's hazard_id and activity_id, a find's activity_id...) has an index on both
backends, a store made before gets them when opened, and ``store.list(kind, where={field: X})``
is answered through that index (the query plan names it). Behaviour, not timings."""

from __future__ import annotations

from typing import Any

import shapely

from demine.ids import uuid7
from demine.model.kinds import KINDS
from demine.model.schema import FieldType, Record
from demine.store.open import open_store
from gpkg_check import assert_gdal_valid

EXPECTED = {(k.name, f.name) for k in KINDS.values() for f in k.fields if f.type is FieldType.UUID}


def _is_pg(store: Any) -> bool:
    return str(store.location).startswith("postgres")


def _indexed_columns(store: Any) -> set[tuple[str, str]]:
    """(table, column) of every single-column index on the record tables."""
    out: set[tuple[str, str]] = set()
    if _is_pg(store):
        rows = store.conn.execute(
            "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_attribute a ON "
            "a.attrelid = t.oid AND a.attnum = i.indkey[0] WHERE n.nspname = %s "
            "AND i.indnatts = 1",
            (store.schema,),
        ).fetchall()
        return {(t, c) for t, c in rows}
    for table in {t for t, _ in EXPECTED}:
        for row in store.conn.execute(f'PRAGMA index_list("{table}")').fetchall():
            cols = store.conn.execute(f'PRAGMA index_info("{row[1]}")').fetchall()
            if len(cols) == 1:
                out.add((table, cols[0][2]))
    return out


def test_every_relationship_field_is_indexed(store: Any) -> None:
    assert ("releases", "hazard_id") in EXPECTED and ("finds", "activity_id") in EXPECTED
    missing = EXPECTED - _indexed_columns(store)
    assert not missing, f"relationship fields without an index: {sorted(missing)}"


class _Recorder:
    """Stands for the store's connection and keeps every statement run through it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements: list[tuple[str, Any]] = []

    def execute(self, sql: str, args: Any = ()) -> Any:
        self.statements.append((sql, args))
        return self._conn.execute(sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _plan(store: Any, kind: str, where: dict[str, Any]) -> str:
    """The query plan of the statement ``store.list(kind, where=where)`` runs."""
    real = store.conn
    rec = _Recorder(real)
    store._conn = rec
    try:
        list(store.list(kind, where=where))
    finally:
        store._conn = real
    (sql, args) = next(
        (s, a) for s, a in rec.statements if all(f'"{f}"' in s for f in where) and kind in s
    )
    if _is_pg(store):
        real.execute("SET enable_seqscan = off")  # a tiny table: the plan a big one gets
        try:
            rows = real.execute("EXPLAIN " + sql, args).fetchall()
        finally:
            real.execute("RESET enable_seqscan")
    else:
        rows = real.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


def _hazard_with_releases(store: Any, x0: float) -> tuple[str, str, list[str]]:
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": f"H {x0}"},
        shapely.MultiPolygon([shapely.box(x0, 48.0, x0 + 0.004, 48.003)]),
    )
    store.upsert("hazards", [h], actor="t")
    a = Record(
        "activities",
        uuid7(),
        {
            "hazard_id": h.id,
            "activity_type": "clearance",
            "status": "ongoing",
            "organisation": "Op",
            "started_on": "2024-01-02",
        },
        None,
    )
    store.upsert("activities", [a], actor="t")
    rels = [
        Record(
            "releases",
            uuid7(),
            {
                "activity_id": a.id,
                "hazard_id": h.id,
                "release_type": "cleared",
                "released_on": f"2024-0{i + 2}-01",
            },
            shapely.MultiPolygon([shapely.box(x0 + i * 0.001, 48.0, x0 + (i + 1) * 0.001, 48.001)]),
        )
        for i in range(3)
    ]
    store.upsert("releases", rels, actor="t")
    return h.id, a.id, [r.id for r in rels]


def test_releases_of_a_hazard_are_found_through_the_index(store: Any) -> None:
    hid, aid, rids = _hazard_with_releases(store, 37.80)
    other, _, _ = _hazard_with_releases(store, 37.90)
    got = [r.id for r in store.list("releases", where={"hazard_id": hid})]
    assert got == rids  # in the order they were stored, the other hazard's left out
    assert [r.id for r in store.list("releases", where={"activity_id": aid})] == rids
    assert len(list(store.list("releases", where={"hazard_id": [hid, other]}))) == 6
    assert "releases_hazard_id" in _plan(store, "releases", {"hazard_id": hid})
    assert "releases_activity_id" in _plan(store, "releases", {"activity_id": aid})
    assert "finds_activity_id" in _plan(store, "finds", {"activity_id": aid})
    assert "activities_hazard_id" in _plan(store, "activities", {"hazard_id": hid})


def test_a_store_made_before_gets_the_indexes_when_opened(store: Any) -> None:
    hid, _, rids = _hazard_with_releases(store, 37.80)
    names = [f"{t}_{c}" for t, c in sorted(EXPECTED)]
    if _is_pg(store):
        for n in names:
            store.conn.execute(f'DROP INDEX "{n}"')
        store.conn.execute("UPDATE demine_schema SET version = 7")
    else:
        for n in names:
            store.conn.execute(f'DROP INDEX "{n}"')
        store.conn.execute("UPDATE demine_settings SET value = '8' WHERE key = 'schema_version'")
    assert not EXPECTED & _indexed_columns(store)
    store.close()
    again = open_store(store.location)
    try:
        assert [r.id for r in again.list("releases", where={"hazard_id": hid})] == rids
        assert not EXPECTED - _indexed_columns(again)  # migrated on open
        if not _is_pg(again):
            again.close()  # the migrated file still passes GDAL's GeoPackage validator
            assert_gdal_valid(again.path)
    finally:
        again.close()
