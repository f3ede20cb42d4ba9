"""The rows a write of many records stores are built in bulk (store/core/rows.py; a first
import's records in one pass) and the derived rows of a chunk of hazards with nothing released
the quick way (store/core/derived_bare.py), issue 16: every stored row is the same as the
record-by-record way gave it (kept here as it was: :func:`old_upsert`, its rows from
:func:`old_geo_values` and :func:`old_history_row`, and the derived rows' general way), for
records of real-world shape (None values, booleans, partial dates and date-times, unicode,
foreign fields kept in ``extra``, given organisations, repairs' reasons), creates, updates,
unchanged records, matches by source id, released and untouched hazards, refused batches
(nothing stored) and an import. Both backends."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import shapely

from demine.errors import Conflict
from demine.model.kinds import Kind
from demine.model.schema import FieldType, Record
from demine.model.write_rules import check_change
from demine.store.base import UpsertResult
from demine.store.core.dialect import to_json

PG_URL = os.environ.get("DEMINE_TEST_PG")

# --- the record-by-record way, as it was -----------------------------------------------------


def old_field_values(store: Any, kind: Kind, rec: Record) -> list[Any]:
    get = rec.properties.get
    vals: list[Any] = []
    for f in kind.fields:
        v = get(f.name)
        if store.P == "?":  # GeoPackage: SQLite has no booleans
            if v is not None and f.type is FieldType.BOOLEAN:
                v = int(v)
        elif v is not None and f.type is FieldType.BOOLEAN:
            v = bool(v)
        elif v is not None and f.partial:
            from demine.store.postgis import _partial_text

            v = _partial_text(f, v)
        vals.append(v)
    return vals


def old_geo_values(store: Any, kind: Kind, rec: Record, blob: bytes | None) -> list[Any]:
    return ([blob] if kind.geometry_type else []) + [
        rec.id,
        rec.source_id,
        *old_field_values(store, kind, rec),
        to_json(rec.extra) if rec.extra else None,
        rec.revision,
        rec.created_at,
        rec.updated_at,
        rec.updated_by,
        rec.record_organisation,
    ]


def old_history_row(
    rec: Record, op: str, at: str, actor: str, reason: str | None, blob: bytes | None
) -> tuple[Any, ...]:
    shared = blob is not None
    return (
        rec.id,
        rec.kind,
        rec.revision,
        op,
        at,
        actor,
        reason,
        rec.source_id,
        to_json(rec.properties),
        to_json(rec.extra) if rec.extra else None,
        None if shared else blob,
        True if shared else None,
    )


def old_upsert(
    self: Any,
    kind: str,
    records: Sequence[Record],
    *,
    actor: str,
    reason: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    origin: str = "user",
    reasons: Sequence[str | None] | None = None,
) -> UpsertResult:
    """Records.upsert as it was before the rows were built in bulk."""
    from demine.store.core import records as records_module

    k = self.kind(kind)
    if not records:
        return UpsertResult()
    insert_sql, update_sql = self._insert_sql(k), self._update_sql(k)
    blobs = (
        self._encode([r.geometry for r in records]) if k.geometry_type else [None] * len(records)
    )
    given_ids = [r.id for r in records]

    def body(c: Any) -> UpsertResult:
        for r, rid in zip(records, given_ids, strict=True):
            r.id = rid
        result = UpsertResult()
        at = records_module.now_utc()
        existing = self._match(c, k, records)
        ins_rows: list[list[Any]] = []
        upd_rows: list[list[Any]] = []
        hist_rows: list[tuple[Any, ...]] = []
        seen: set[str] = set()
        org: list[str] = []

        def made_by() -> str:
            if not org:
                org.append(self._organisation_of(c, actor))
            return org[0]

        for i, (rec, blob) in enumerate(zip(records, blobs, strict=True)):
            old = existing[i]
            why = reason
            if reasons is not None and reasons[i]:
                why = f"{reason}; {reasons[i]}" if reason else reasons[i]
            if old is not None:
                rec.id = old[1].id
            if rec.id in seen:
                raise Conflict(f"feature {i}: record {rec.id} appears twice in one batch")
            seen.add(rec.id)
            if old is not None:
                fid, old_rec, old_blob = old
                if (
                    old_rec.properties == rec.properties
                    and old_blob == blob
                    and old_rec.source_id == rec.source_id
                    and old_rec.extra == rec.extra
                ):
                    result.unchanged.append(rec.id)
                    continue
                check_change(k.name, old_rec.properties, rec.properties, origin)
                rec.revision = old_rec.revision + 1
                rec.created_at = old_rec.created_at
                rec.record_organisation = old_rec.record_organisation or made_by()
                rec.updated_at, rec.updated_by = at, actor
                upd_rows.append([*old_geo_values(self, k, rec, blob), fid])
                hist_rows.append(old_history_row(rec, "update", at, actor, why, blob))
                result.updated.append(rec.id)
            else:
                rec.revision = 1
                rec.created_at = rec.updated_at = at
                rec.record_organisation = rec.record_organisation or made_by()
                rec.updated_by = actor
                ins_rows.append(old_geo_values(self, k, rec, blob))
                hist_rows.append(old_history_row(rec, "create", at, actor, why, blob))
                result.created.append(rec.id)
        before = self._derived_before(c, k.name, result.updated)
        try:
            self._executemany(c, update_sql, upd_rows)
            token = self._before_insert(c, k, len(ins_rows))
            self._executemany(c, insert_sql, ins_rows)
            self._after_insert(c, k, ins_rows, token)
        except self.DB_ERRORS as e:
            raise Conflict(f"cannot store {k.name}: {self._db_message(e)}") from None
        new_ids = [r.id for r, o in zip(records, existing, strict=True) if o is None]
        self._check_foreign_ids(c, k, new_ids)
        if hist_rows:
            self._executemany(c, self.HISTORY_INSERT, hist_rows)
            self._touch(c, k, at)
        self._derived_after(c, k.name, result.created + result.updated, before, progress)
        return result

    return self._transaction(k.name, body)  # type: ignore[no-any-return]


# --- two stores of one backend: the new way and the old ---------------------------------------


class Clock:
    """now_utc of the store core: one time per step, the same in both stores."""

    def __init__(self) -> None:
        self.step = 0

    def __call__(self) -> str:
        return f"2024-06-01T12:{self.step // 60:02d}:{self.step % 60:02d}Z"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from demine.store.core import derived, records

    c = Clock()
    monkeypatch.setattr(records, "now_utc", c)
    monkeypatch.setattr(derived, "now_utc", c)
    return c


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunks of hazards the quick way made the derived rows of (in either store)."""
    from demine.store.core import derived

    calls: list[int] = []
    real = derived.bare_hazard_rows

    def spy(*a: Any, **kw: Any) -> Any:
        calls.append(len(a[0]))
        return real(*a, **kw)

    monkeypatch.setattr(derived, "bare_hazard_rows", spy)
    return calls


@pytest.fixture(params=["gpkg", "postgis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """(a store writing the new way, one writing the old way), both new, of one backend."""
    from demine.services.setup import init_store
    from demine.store.open import open_store

    schemas: list[str] = []
    locations = []
    for name in ("new", "old"):
        if request.param == "gpkg":
            locations.append(str(tmp_path / f"{name}.gpkg"))
        else:
            if not PG_URL:
                pytest.skip("no PostgreSQL + PostGIS server: set DEMINE_TEST_PG (.ci/run)")
            schemas.append("t_" + uuid.uuid4().hex[:12])
            sep = "&" if "?" in PG_URL else "?"
            locations.append(f"{PG_URL}{sep}demine_schema={schemas[-1]}")
    stores = [open_store(loc) for loc in locations]
    try:
        for s in stores:
            init_store(s)
            s.add_organisation("DEMI", "Démineurs sans frontières", "operator")
            s.add_user("amélie", "editor", "DEMI")
            s.DERIVE_CHUNK = 3  # chunks with and without released hazards
        new, old = stores
        old.bare_quick = False
        old.upsert = old_upsert.__get__(old)
        yield new, old
    finally:
        for s in stores:
            s.close()
        if schemas:
            import psycopg

            assert PG_URL
            with psycopg.connect(PG_URL.split("?")[0], autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


TABLES = (
    "hazards",
    "releases",
    "emplacements",
    "victims",
    "demine_history",
    "demine_derived_hazard",
    "demine_derived_piece",
    "demine_derived_state",
)


def snapshot(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a write of these records touches, in order, as stored."""
    out = {}
    for t in TABLES:
        # (init_store's device-type catalogue has ids and times of its own)
        where = " WHERE kind <> 'device_types'" if t == "demine_history" else ""
        rows = store.conn.execute(f'SELECT * FROM "{t}"{where} ORDER BY 1').fetchall()
        out[t] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]
    return out


def both(
    pair: tuple[Any, Any], clock: Clock, kind: str, make: Callable[[], list[Record]], **kw: Any
) -> Any:
    """Upsert the records ``make()`` gives in both stores (a fresh copy each); check that the
    results, the records as a stored upsert left them and every stored row are the same.
    Returns the result (a refused batch: ("refused", message))."""
    clock.step += 1
    got = []
    for s in pair:
        recs = make()
        try:
            res: Any = s.upsert(kind, recs, **kw)
        except Conflict as e:
            res = ("refused", str(e))
        got.append((res, [r.to_dict() for r in recs], snapshot(s)))
    new, old = got
    assert new[0] == old[0]
    if not isinstance(new[0], tuple):  # (a refused batch's records may be left half-set)
        assert new[1] == old[1]
    for t in TABLES:
        assert new[2][t] == old[2][t], t
    return new[0]


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=0x0190_0000_0000_7000_8000_0000_0000_0000 + i)) for i in range(n)]


H = ids(40)


def square(i: int, size: float = 0.01) -> Any:
    x, y = 30 + (i % 7) * 0.05, 45 + (i // 7) * 0.05
    return shapely.MultiPolygon([shapely.box(x, y, x + size, y + size)])


def hazard(i: int, **props: Any) -> Record:
    base: dict[str, Any] = {
        "name": f"Champ {i} — Ñandú 地雷 ☢" if i % 3 else f"Hazard {i}",
        "hazard_type": "SHA" if i % 2 else "CHA",
        "status": "open",
        "reported_on": ["2019", "2019-05", "2020-03-04", "unknown"][i % 4],
        "reference": None if i % 5 == 0 else f"REF-{i:03d}",
        "area_m2": None if i % 4 == 0 else 1234.5 + i,
        "notes": "line one\nline «two»" if i % 6 == 0 else None,
    }
    base.update(props)
    extra = (
        {"legacy_code": f"ÅB-{i}", "tags": ["a", i], "nested": {"x": None}} if i % 3 == 0 else {}
    )
    return Record(
        "hazards",
        H[i],
        base,
        square(i),
        source_id=None if i % 7 == 0 else f"src-{i}",
        extra=extra,
        record_organisation="DEMI" if i % 8 == 5 else None,
    )


def release(j: int, hazard_index: int, on: str, kind: str = "cleared") -> Record:
    g = square(hazard_index)
    x0, y0, x1, y1 = g.bounds
    part = shapely.MultiPolygon([shapely.box(x0, y0, x0 + (x1 - x0) * (0.3 + 0.1 * j), y1)])
    return Record(
        "releases",
        str(uuid.UUID(int=0x0190_0000_0000_7000_9000_0000_0000_0000 + j)),
        {
            "activity_id": str(uuid.UUID(int=0x0190_0000_0000_7000_A000_0000_0000_0000 + j)),
            "hazard_id": H[hazard_index],
            "release_type": kind,
            "released_on": on,
            "notes": "réduit ✓" if j % 2 else None,
        },
        part,
        source_id=f"rel-{j}",
    )


def test_upserts_store_the_same_rows_as_record_by_record(
    pair: tuple[Any, Any], clock: Clock, quick: list[int]
) -> None:
    first = list(range(20))
    reasons = [None if i % 3 else f"repaired: ring {i} closed" for i in first]
    # a first import: every record new (the one-pass way), with and without a reason
    res = both(pair, clock, "hazards", lambda: [hazard(i) for i in first], actor="amélie",
               reason="import hazards.geojson", reasons=reasons)  # fmt: skip
    assert len(res.created) == 20 and quick == [3] * 6 + [2]  # the new store's chunks
    # releases: some hazards released (the derived rows' general way for their chunks)
    both(
        pair,
        clock,
        "releases",
        lambda: [
            release(0, 1, "2023-04-01"),
            release(1, 1, "2024-02-01", "reduced"),
            release(2, 4, "2022-11-30", "cancelled"),
            release(3, 11, "2024-06-01"),
        ],
        actor="amélie",
    )

    def second() -> list[Record]:
        recs = [hazard(i) for i in range(14, 26)]  # 14..19 stored, 20..25 new
        recs[0].properties["status"] = "closed"  # changed
        recs[0].properties["closed_on"] = "2024-05"
        recs[1].geometry = square(15, 0.012)  # another geometry
        recs[2].extra = {"legacy_code": "changed"}  # another extra
        recs[3] = Record("hazards", H[39], dict(hazard(17).properties), square(17),
                         source_id="src-17")  # fmt: skip
        # matched by its source id: takes the stored id
        recs[4].properties["name"] = None  # a value removed
        recs.append(hazard(1, notes="après le déminage"))  # a released hazard, changed
        same = hazard(4)  # a released hazard, unchanged (as stored: no None values)
        same.properties = {k: v for k, v in same.properties.items() if v is not None}
        recs.append(same)
        return recs

    # updates, unchanged records and new ones together, no reasons, no organisation of the
    # actor (a local user: the authority)
    quick.clear()
    res = both(pair, clock, "hazards", second, actor="local")
    assert (len(res.created), len(res.updated), len(res.unchanged)) == (6, 7, 1)
    assert res.updated[3] == H[17] and quick and len(quick) < 5  # some chunks released
    # refused: an id twice in a batch of new records; nothing stored
    res = both(pair, clock, "hazards", lambda: [hazard(30), hazard(31), hazard(30)], actor="amélie")
    assert res[0] == "refused" and "appears twice" in res[1]
    # refused after the rows were written: an id that a release has
    rel_id = release(0, 1, "2023-04-01").id
    res = both(
        pair,
        clock,
        "hazards",
        lambda: [
            hazard(32),
            Record("hazards", rel_id, {"hazard_type": "SHA", "status": "open"}, square(33)),
        ],  # fmt: skip
        actor="amélie",
    )
    assert "belongs to a releases record" in res[1]
    # a hazard's release moves to another hazard (both recomputed)
    moved = release(3, 11, "2024-06-01")
    moved.properties["hazard_id"] = H[12]
    both(pair, clock, "releases", lambda: [moved], actor="amélie", reason="moved")


def test_other_kinds_store_the_same_rows(pair: tuple[Any, Any], clock: Clock) -> None:
    """Booleans (SQLite: 0/1), integers, partial date-times (PostGIS: in UTC), a kind without
    geometry; one batch of creates, one of updates and creates."""

    def emplacements(second: bool = False) -> list[Record]:
        out = []
        for i in range(6):
            props: dict[str, Any] = {
                "device_type": "PMN-2" if i % 2 else "TM-62M",
                "quantity": i + 1,
                "laid_at": ["2022", "2022-03", "2022-03-04T10:15:00+02:00", "2022-03-04"][i % 4],
                "anti_handling": [True, False, None][i % 3],
                "hazard_id": H[i],
                "notes": "piégé ⚠" if i % 2 else None,
            }
            if second and i % 2:
                props["anti_handling"] = not props["anti_handling"]
                props["quantity"] = 10 * i
            out.append(
                Record(
                    "emplacements",
                    str(uuid.UUID(int=0x0190_0000_0000_7000_B000_0000_0000_0000 + i)),
                    props,
                    shapely.Point(30 + i * 0.01, 45),
                    source_id=f"e{i}",
                    extra={"raw": {"anti_handling": "yes"}} if i == 2 else {},
                )
            )
        return out

    both(pair, clock, "emplacements", emplacements, actor="amélie")
    both(pair, clock, "emplacements", lambda: emplacements(True)[1:], actor="amélie",
         reasons=["r1", None, "r3", None, "r5"])  # fmt: skip

    def victims(n: int) -> list[Record]:
        return [
            Record(
                "victims",
                str(uuid.UUID(int=0x0190_0000_0000_7000_C000_0000_0000_0000 + i)),
                {
                    "accident_id": H[i],
                    "sex": ["female", "male", "unknown"][i % 3],
                    "outcome": "injured" if i % 2 else "killed",
                    "age": None if i == 1 else 20 + i,
                    "name": "Łukasz Ørsted" if i == 2 else None,
                },
                None,
                source_id=f"v{i}",
            )
            for i in range(n)
        ]

    both(pair, clock, "victims", lambda: victims(3), actor="amélie")
    both(pair, clock, "victims", lambda: victims(5), actor="amélie", reason="again")


def test_an_import_stores_the_same_rows(
    pair: tuple[Any, Any], clock: Clock, tmp_path: Path
) -> None:
    """An import (its hazards' accounts made ahead on a second thread, taken by the quick
    way): the same rows, first and again with changes."""
    from demine.services.register import ImportOptions, import_file

    def write(n: int, name: str, shift: float = 0.0) -> Path:
        feats = []
        for i in range(n):
            g = square(i)
            feats.append(
                {
                    "type": "Feature",
                    "id": H[i],
                    "properties": {
                        "hazard_type": "SHA",
                        "status": "open",
                        "name": f"Zone {i} – «北»",
                        "reported_on": "2021-07" if i % 2 else None,
                        "old_code": f"X{i}" if i % 3 == 0 else None,
                    },
                    "geometry": shapely.geometry.mapping(
                        shapely.affinity.translate(g, shift * (i % 2), 0)
                    ),
                }
            )
        p = tmp_path / name
        p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
        return p

    for path in (write(9, "a.geojson"), write(12, "b.geojson", 0.001)):
        clock.step += 1
        got = []
        for s in pair:
            rep = import_file(s, path, ImportOptions(kind="hazards", actor="amélie"))
            got.append(((rep.imported, rep.updated, rep.ids), snapshot(s)))
        assert got[0][0] == got[1][0]
        for t in TABLES:
            assert got[0][1][t] == got[1][1][t], t
