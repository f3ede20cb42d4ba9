"""The spatial index of a first large insert is packed in bulk (demine.store.gpkg_rtree): it
holds the very boxes SQLite's own insert would store, SQLite's ``rtreecheck`` and GDAL's
validator accept it, bbox queries answer as a brute-force envelope test, and it stays right
through later changes, demine's and plain SQL's (the GeoPackage triggers, as QGIS writes)."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from demine.errors import Conflict
from demine.ids import uuid7
from demine.model.schema import Record
from demine.store import gpkg_format as fmt
from demine.store import gpkg_rtree
from demine.store.gpkg import BULK_ROWS, GeoPackageStore
from gpkg_check import assert_gdal_valid

DDL = "CREATE VIRTUAL TABLE {} USING rtree(id, minx, maxx, miny, maxy)"
G = 256  # data coordinates are multiples of 1/G (exact in float32 up to ±180), query edges
# fall halfway between: float32 index boxes and float64 envelopes then answer alike
N = 3400  # emplacements, 1 in 10 without geometry: 3,060 indexed entries, > 51² (51 cells per
# node for a 4,096-byte page), hence a tree of depth 2 (three levels)
PROPS = {"device_type": "at-persistent", "quantity": 12, "laid_at": "2023-03-01T06:00:00Z"}


def _doubles(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4) boxes (minx, maxx, miny, maxy) of awkward doubles: negative, ±180, ±90, tiny,
    points, subnormal, beside a float32, large."""
    f32 = rng.uniform(-180, 180, n).astype(np.float32).astype(np.float64)
    pool = np.concatenate(
        [
            rng.uniform(-180, 180, n),
            f32,
            np.nextafter(f32, np.inf),
            np.nextafter(f32, -np.inf),
            rng.uniform(-1e-3, 1e-3, n),
            [-180.0, 180.0, -90.0, 90.0, 0.0, -0.0, 1e-40, -1e-40, 5e-324, -5e-324, 1e30, -1e30],
        ]
    )
    a, b = rng.choice(pool, n), rng.choice(pool, n)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    tiny = rng.random(n) < 0.2  # tiny boxes and points (min == max)
    hi[tiny] = lo[tiny] + rng.choice([0.0, 1e-12, 1e-7], int(tiny.sum()))
    c, d = rng.choice(pool, n), rng.choice(pool, n)
    return np.stack([lo, hi, np.minimum(c, d), np.maximum(c, d)], axis=1)


def _rows(boxes: np.ndarray, first_id: int = 1) -> list[tuple[Any, ...]]:
    return [(first_id + i, *map(float, b)) for i, b in enumerate(boxes)]


def _fill(
    conn: sqlite3.Connection, name: str, rows: list[tuple[Any, ...]], bulk: bool = False
) -> bool:
    ids = np.array([r[0] for r in rows], np.int64)
    env = np.array([r[1:] for r in rows], np.float64)
    return (gpkg_rtree.bulk_fill if bulk else gpkg_rtree.fill)(conn, name, ids, env)


def _check(conn: sqlite3.Connection, name: str) -> None:
    assert conn.execute("SELECT rtreecheck(?)", (name,)).fetchone()[0] == "ok"


def _depth(conn: sqlite3.Connection, name: str) -> int:
    root = conn.execute(f"SELECT data FROM {fmt.q(name + '_node')} WHERE nodeno = 1").fetchone()
    return int.from_bytes(root[0][:2], "big")


def test_bulk_boxes_are_those_of_sqlites_own_insert() -> None:
    rng = np.random.default_rng(16)
    rows = _rows(_doubles(rng, 5000))
    conn = sqlite3.connect(":memory:")
    conn.execute(DDL.format("one_by_one"))
    conn.execute(DDL.format("bulk"))
    conn.executemany("INSERT INTO one_by_one VALUES (?,?,?,?,?)", rows)
    assert _fill(conn, "bulk", rows) is True
    _check(conn, "one_by_one")
    _check(conn, "bulk")
    want = conn.execute("SELECT * FROM one_by_one ORDER BY id").fetchall()
    got = conn.execute("SELECT * FROM bulk ORDER BY id").fetchall()
    assert len(got) == len(rows)
    assert got == want  # id by id, coordinate by coordinate


def test_envelopes_read_in_bulk_are_those_of_each_blob(monkeypatch: pytest.MonkeyPatch) -> None:
    import struct

    rng = np.random.default_rng(4)
    geoms: list[Any] = [None, shapely.Point(), shapely.MultiPolygon(), shapely.LineString()]
    geoms += [shapely.Point(rng.uniform(-180, 180), rng.uniform(-90, 90)) for _ in range(50)]
    geoms += [shapely.box(x, 1, x + 0.5, 2) for x in rng.uniform(-180, 179, 50)]
    geoms += [shapely.MultiPoint([(1, 2), (3, -4)]), shapely.LineString([(179, 1), (180, 5)])]
    blobs = fmt.encode(geoms)
    le_point_z = struct.pack("<2sBBi", b"GP", 0, 1, 4326) + struct.pack("<BI3d", 1, 1001, 5, 6, 7)
    be_point = struct.pack(">2sBBi", b"GP", 0, 0, 4326) + struct.pack(">BI2d", 0, 1, -5.5, 6.25)
    nan_point = struct.pack("<2sBBi", b"GP", 0, 1, 4326) + struct.pack("<BI2d", 1, 1, *[np.nan] * 2)
    poly = shapely.to_wkb(shapely.box(3, 4, 5, 6), flavor="iso")  # no envelope in the header
    no_env = struct.pack("<2sBBi", b"GP", 0, 1, 4326) + poly
    be_env = struct.pack(">2sBBi4d", b"GP", 0, 2, 4326, 3, 5, 4, 6) + poly
    blobs += [le_point_z, be_point, nan_point, no_env, be_env]
    fids = list(range(10, 10 + len(blobs)))
    want = {f: e for f, b in zip(fids, blobs, strict=True) if (e := fmt.envelope(b)) is not None}
    one_by_one: list[bytes] = []
    monkeypatch.setattr(gpkg_rtree, "envelope", lambda b: one_by_one.append(b) or fmt.envelope(b))
    ids, env = gpkg_rtree.envelopes(fids, blobs)
    assert len(one_by_one) == 5  # the three empties, POINT EMPTY as NaN, no header envelope
    assert dict(zip(ids.tolist(), map(tuple, env.tolist()), strict=True)) == want
    assert want[fids[-5]] == (5, 5, 6, 6) and want[fids[-4]] == (-5.5, -5.5, 6.25, 6.25)
    assert fids[-3] not in want and len(want) == len(blobs) - 5  # NULL and four empties


def _brute(boxes: dict[int, tuple[float, ...]], q: tuple[float, float, float, float]) -> set[int]:
    x0, y0, x1, y1 = q
    return {i for i, (a, b, c, d) in boxes.items() if b >= x0 and a <= x1 and d >= y0 and c <= y1}


def _query(conn: sqlite3.Connection, name: str, q: tuple[float, float, float, float]) -> set[int]:
    sql = f"SELECT id FROM {fmt.q(name)} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?"
    return {r[0] for r in conn.execute(sql, (q[0], q[2], q[1], q[3]))}


def _grid_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.integers(-180 * G, 180 * G - 64, n) / G
    y = rng.integers(-90 * G, 90 * G - 64, n) / G
    w, h = rng.integers(0, 64, n) / G, rng.integers(0, 64, n) / G
    return np.stack([x, x + w, y, y + h], axis=1)


def _queries(rng: np.random.Generator, n: int) -> list[tuple[float, float, float, float]]:
    out = [(-180.0, -90.0, 180.0, 90.0), (179.5 + 0.5 / G, -90.0, 180.0, 90.0)]
    for _ in range(n):
        x, y = rng.integers(-180 * G, 170 * G) / G, rng.integers(-90 * G, 80 * G) / G
        w, h = rng.integers(1, 10 * G) / G, rng.integers(1, 10 * G) / G
        out.append((x + 0.5 / G, y + 0.5 / G, x + w + 0.5 / G, y + h + 0.5 / G))
    return out


def test_deep_tree_stays_right_through_sqlites_own_changes(tmp_path: Path) -> None:
    # 512-byte pages: 448-byte nodes of 18 cells; 6,000 entries make a tree of depth 3
    conn = sqlite3.connect(tmp_path / "small.db", isolation_level=None)
    conn.execute("PRAGMA page_size = 512")
    conn.execute(DDL.format("t"))
    rng = np.random.default_rng(7)
    boxes = _grid_boxes(rng, 6000)
    rows = _rows(boxes)
    conn.execute("BEGIN")
    assert _fill(conn, "t", rows) is True
    conn.execute("COMMIT")
    _check(conn, "t")
    assert _depth(conn, "t") == 3
    assert conn.execute("SELECT count(*) FROM t_parent").fetchone()[0] == (
        conn.execute("SELECT count(*) FROM t_node").fetchone()[0] - 1
    )
    have = {r[0]: r[1:] for r in rows}
    for q in _queries(rng, 40):
        assert _query(conn, "t", q) == _brute(have, q)
    # SQLite's own inserts (splits), updates, deletes (underfull nodes removed and reinserted)
    more = _rows(_grid_boxes(rng, 800), first_id=10_001)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?,?,?,?,?)", more)
    have.update({r[0]: r[1:] for r in more})
    moved = rng.choice(sorted(have), 500, replace=False)
    for i, b in zip(moved.tolist(), _grid_boxes(rng, 500), strict=True):
        conn.execute("UPDATE t SET minx=?, maxx=?, miny=?, maxy=? WHERE id=?", (*map(float, b), i))
        have[i] = tuple(map(float, b))
    gone = rng.choice(sorted(have), 3000, replace=False).tolist()
    conn.executemany("DELETE FROM t WHERE id = ?", [(i,) for i in gone])
    for i in gone:
        del have[i]
    conn.execute("COMMIT")
    _check(conn, "t")
    for q in _queries(rng, 40):
        assert _query(conn, "t", q) == _brute(have, q)


def test_fill_falls_back_to_one_by_one() -> None:
    conn = sqlite3.connect(":memory:")
    rows = _rows(_grid_boxes(np.random.default_rng(1), 500))
    # a tree that already has rows
    conn.execute(DDL.format("used"))
    conn.execute("INSERT INTO used VALUES (100000, 1, 2, 3, 4)")
    assert _fill(conn, "used", rows) is False
    _check(conn, "used")
    assert conn.execute("SELECT count(*) FROM used").fetchone()[0] == 501
    # integer coordinates, auxiliary columns, 3 dimensions: not the layout packed here
    conn.execute("CREATE VIRTUAL TABLE ints USING rtree_i32(id, minx, maxx, miny, maxy)")
    conn.execute("CREATE VIRTUAL TABLE aux USING rtree(id, minx, maxx, miny, maxy, +note)")
    conn.execute("CREATE VIRTUAL TABLE cube USING rtree(id, x0, x1, y0, y1, z0, z1)")
    for name in ("ints", "aux", "cube"):
        assert gpkg_rtree.node_size(conn, name) is None
    # a coordinate that is not finite: SQLite's own insert decides, as before
    conn.execute(DDL.format("nan"))
    bad = [*rows, (999_999, float("nan"), 1.0, 2.0, 3.0)]
    assert _fill(conn, "nan", bad, bulk=True) is False
    assert _fill(conn, "nan", bad) is False
    _check(conn, "nan")
    # an inverted box: the same error as the row-by-row insert gives
    conn.execute(DDL.format("inv"))
    with pytest.raises(sqlite3.IntegrityError):
        _fill(conn, "inv", [*rows, (999_999, 5.0, 1.0, 2.0, 3.0)])


def _geometry(rng: np.random.Generator, i: int) -> Any:
    """Emplacement geometries: NULL, points (also at ±180°, ±90°), polygons near the
    antimeridian, pairs across it, polygons anywhere; all on the 1/G grid."""
    x, y = int(rng.integers(-180 * G, 180 * G - 64)) / G, int(rng.integers(-89 * G, 89 * G)) / G
    w, h = int(rng.integers(1, 64)) / G, int(rng.integers(1, 64)) / G
    match i % 10:
        case 0:
            return None
        case 1 | 2:
            return shapely.Point(x, y)
        case 3:
            return shapely.Point(rng.choice([-180.0, 180.0]), rng.choice([-90.0, 90.0, y]))
        case 4:
            return shapely.box(180.0 - w, y, 180.0, y + h)
        case 5:
            return shapely.box(-180.0, y, -180.0 + w, y + h)
        case 6:
            east, west = shapely.box(180 - w, y, 180, y + h), shapely.box(-180, y, -180 + w, y + h)
            return shapely.MultiPolygon([east, west])
        case _:
            return shapely.box(x, y, x + w, y + h)


def _records(rng: np.random.Generator, n: int) -> list[Record]:
    return [Record("emplacements", uuid7(), dict(PROPS), _geometry(rng, i)) for i in range(n)]


def _envelopes(recs: dict[str, Any]) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for rid, g in recs.items():
        if g is not None and not g.is_empty:
            x0, y0, x1, y1 = g.bounds
            out[rid] = (x0, x1, y0, y1)
    return out


def _assert_queries(store: Any, geoms: dict[str, Any], rng: np.random.Generator) -> None:
    env = _envelopes(geoms)
    for q in _queries(rng, 25):
        got = {r.id for r in store.list("emplacements", bbox=q)}
        assert got == _brute(env, q), q  # type: ignore[arg-type]


def test_bulk_insert_then_changes_answer_bbox_queries(store: Any) -> None:
    rng = np.random.default_rng(2026)
    recs = _records(rng, N)
    store.upsert("emplacements", recs, actor="bulk")
    geoms = {r.id: r.geometry for r in recs}
    gpkg = isinstance(store, GeoPackageStore)
    if gpkg:
        conn = store.conn
        _check(conn, "rtree_emplacements_geom")
        assert _depth(conn, "rtree_emplacements_geom") >= 2
        indexed = conn.execute("SELECT count(*) FROM rtree_emplacements_geom_rowid").fetchone()
        assert indexed[0] == len(_envelopes(geoms)) == N - N // 10
    _assert_queries(store, geoms, rng)
    # later changes through demine: a small batch (the triggers), an update, deletes
    few = _records(rng, 30)
    store.upsert("emplacements", few, actor="t")
    geoms.update({r.id: r.geometry for r in few})
    some = rng.choice(sorted(geoms), 60, replace=False).tolist()
    for rid in some[:20]:
        g = shapely.box(10 + 1 / G, 10, 10 + 2 / G, 10 + 3 / G)
        store.update("emplacements", rid, geometry=g, actor="t")
        geoms[rid] = g
    for rid in some[20:]:
        store.delete("emplacements", rid, actor="t")
        del geoms[rid]
    if gpkg:
        _check(store.conn, "rtree_emplacements_geom")
    _assert_queries(store, geoms, rng)


def test_bulk_index_through_plain_sql_then_valid_for_gdal(gpkg_store: Any) -> None:
    store = gpkg_store
    rng = np.random.default_rng(99)
    recs = _records(rng, N)
    store.upsert("emplacements", recs, actor="bulk")
    geoms = {r.id: r.geometry for r in recs}
    # what QGIS or GDAL would do: plain SQL, the GeoPackage triggers keep the index
    sql = sqlite3.connect(store.path, isolation_level=None)
    fmt.register_functions(sql)
    cols = [r[1] for r in sql.execute("PRAGMA table_info(emplacements)")]
    rest = ", ".join(fmt.q(c) for c in cols if c not in ("fid", "id", "geom"))
    ids = sorted(geoms)
    sql.execute("BEGIN")
    for k in range(40):
        rid, g = uuid7(), shapely.Point(-179.0 + k / G, 45.0)
        sql.execute(
            f"INSERT INTO emplacements (id, geom, {rest}) SELECT ?, ?, {rest} "
            "FROM emplacements WHERE id = ?",
            (rid, fmt.encode([g])[0], ids[0]),
        )
        geoms[rid] = g
    for rid in ids[1:41]:  # moved
        g = shapely.box(-20, -20, -20 + 1 / G, -20 + 1 / G)
        sql.execute("UPDATE emplacements SET geom = ? WHERE id = ?", (fmt.encode([g])[0], rid))
        geoms[rid] = g
    for rid in ids[41:61]:  # geometry removed
        sql.execute("UPDATE emplacements SET geom = NULL WHERE id = ?", (rid,))
        geoms[rid] = None
    for rid in ids[61:1500]:  # deleted: many, so SQLite removes underfull nodes
        sql.execute("DELETE FROM emplacements WHERE id = ?", (rid,))
        del geoms[rid]
    sql.execute("COMMIT")
    _check(sql, "rtree_emplacements_geom")
    sql.close()
    _assert_queries(store, geoms, rng)
    store.close()
    assert_gdal_valid(store.path)


def _watch_fill(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each fill of an R-tree from now on: True when packed in bulk, False row by row."""
    packed: list[bool] = []
    fill = gpkg_rtree.fill

    def spy(conn: sqlite3.Connection, rtree: str, ids: Any, env: Any) -> bool:
        packed.append(fill(conn, rtree, ids, env))
        return packed[-1]

    monkeypatch.setattr(gpkg_rtree, "fill", spy)
    return packed


def test_later_bulk_insert_goes_row_by_row(
    gpkg_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = gpkg_store
    packed = _watch_fill(monkeypatch)
    rng = np.random.default_rng(5)
    first, second = _records(rng, BULK_ROWS + 10), _records(rng, BULK_ROWS + 10)
    store.upsert("emplacements", first, actor="t")
    store.upsert("emplacements", second, actor="t")
    assert packed == [True, False]  # the second finds an index with rows: SQLite inserts them
    _check(store.conn, "rtree_emplacements_geom")
    _assert_queries(store, {r.id: r.geometry for r in first + second}, rng)
    store.close()
    assert_gdal_valid(store.path)


def test_failed_bulk_insert_leaves_the_index_empty_and_usable(
    gpkg_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = gpkg_store
    packed = _watch_fill(monkeypatch)
    hazard = Record("hazards", uuid7(), {"hazard_type": "SHA", "status": "open"}, None)
    store.upsert("hazards", [hazard], actor="t")
    rng = np.random.default_rng(8)
    recs = _records(rng, BULK_ROWS + 10)
    clash = Record("emplacements", hazard.id, dict(PROPS), shapely.Point(1, 2))
    with pytest.raises(Conflict, match="belongs to a hazards record"):
        store.upsert("emplacements", [*recs, clash], actor="t")  # refused after the index fill
    assert packed == [True]
    conn = store.conn
    assert conn.execute("SELECT count(*) FROM rtree_emplacements_geom_rowid").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM rtree_emplacements_geom_node").fetchone()[0] == 1
    _check(conn, "rtree_emplacements_geom")
    store.upsert("emplacements", recs, actor="t")  # packed again, into the empty index
    assert packed == [True, True]
    _check(conn, "rtree_emplacements_geom")
    _assert_queries(store, {r.id: r.geometry for r in recs}, rng)


def test_coordinates_beyond_float32_go_row_by_row() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(DDL.format("t"))
    rows = [*_rows(_grid_boxes(np.random.default_rng(2), 300)), (999_999, 1.0, 1e39, 2.0, 3.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning either
        assert _fill(conn, "t", rows, bulk=True) is False
        assert _fill(conn, "t", rows) is False
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == len(rows)
    _check(conn, "t")
