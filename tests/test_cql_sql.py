"""DRAFT (issue 12): CQL2-JSON to SQL, checked on SQLite against rows worked out by hand."""

from __future__ import annotations

import sqlite3

import cql2
import pytest
import shapely

from demine.store.cql_sql import Column, FilterError, to_sql
from demine.store.cql_sqlite import SqliteDialect, glob_pattern

ROWS = [
    # id, name, n, b, d, geometry
    (1, "Berlin", 1.0, 1, "2020-01-01", shapely.Point(13.4, 52.5)),
    (2, "Be.lin", 2.0, 0, "2021-06-01", shapely.Point(2.35, 48.85)),
    (3, "Zürich", None, None, None, shapely.Point(8.54, 47.37)),
    (4, "berlin", 5.0, 1, "2019-12-31", shapely.Point(179.5, 0.0)),
    (5, None, 3.0, 0, "2020-06-15", None),
]
COLUMNS = {
    "name": Column("name", "string"),
    "n": Column("n", "number"),
    "b": Column("b", "boolean"),
    "d": Column("d", "date"),
    "geom": Column("geom", "geometry"),
}


@pytest.fixture(scope="module")
def conn() -> sqlite3.Connection:
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE t (id INTEGER, name TEXT, n REAL, b INTEGER, d TEXT, geom BLOB)")
    c.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
        [(*r[:5], None if r[5] is None else shapely.to_wkb(r[5])) for r in ROWS],
    )
    return c


def ids(conn: sqlite3.Connection, text: str) -> set[int]:
    d = SqliteDialect()
    d.register(conn)
    where = to_sql(cql2.parse_text(text).to_json(), COLUMNS, d)
    return {r[0] for r in conn.execute(f"SELECT id FROM t WHERE {where}", d.params)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Basic CQL2: comparison, three-valued logic (row 3 has NULLs, row 5 a NULL name)
        ("n = 1", {1}),
        ("NOT n = 1", {2, 4, 5}),
        ("NOT (n = 1 OR n = 2)", {4, 5}),
        ("NOT (n = 1 AND b = TRUE)", {2, 4, 5}),
        ("b = TRUE", {1, 4}),
        ("b = FALSE", {2, 5}),
        ("name IS NULL", {5}),
        ("NOT name IS NULL", {1, 2, 3, 4}),
        # Advanced comparison: LIKE wildcards are % and _ only; '.' is itself
        ("name LIKE 'Be_lin'", {1, 2}),
        ("name LIKE 'Be.lin'", {2}),
        ("name LIKE 'B%'", {1, 2}),
        ("name LIKE 'Be\\.lin'", {2}),
        ("n BETWEEN 2 AND 3", {2, 5}),
        ("n IN (1, 5)", {1, 4}),
        # Case- and accent-insensitive comparison
        ("CASEI(name) LIKE CASEI('BERLIN')", {1, 4}),
        ("CASEI(name) = CASEI('berlin')", {1, 4}),
        ("ACCENTI(name) = ACCENTI('Zurich')", {3}),
        ("ACCENTI(CASEI(name)) = ACCENTI(CASEI('zurich'))", {3}),
        # Arithmetic
        ("n + 1 > 3", {4, 5}),
        ("n / 2 = 1", {2}),
        ("n div 2 = 1", {2, 5}),
        ("n ^ 2 = 25", {4}),
        ("n * 2 = n + 3", {5}),  # property-property too
        # Temporal (CQL2 1.0 names)
        ("d > DATE('2020-01-01')", {2, 5}),
        ("T_INTERSECTS(d, INTERVAL('2020-01-01', '2020-12-31'))", {1, 5}),
        ("T_BEFORE(d, DATE('2020-01-01'))", {4}),
        ("T_AFTER(d, INTERVAL('..', '2020-01-01'))", {2, 5}),
        ("T_DURING(d, INTERVAL('2020-01-01', '2021-01-01'))", {5}),
        ("T_DISJOINT(d, INTERVAL('2020-01-01', '2020-12-31'))", {2, 4}),
        ("T_EQUALS(d, DATE('2021-06-01'))", {2}),
        ("T_INTERSECTS(d, INTERVAL('2020-06-01', '..'))", {2, 5}),
        # Spatial: an antimeridian box is two boxes, not the world between them
        ("S_INTERSECTS(geom, BBOX(170, -10, -170, 10))", {4}),
        ("S_INTERSECTS(geom, BBOX(0, 40, 20, 60))", {1, 2, 3}),
        ("S_WITHIN(geom, POLYGON((0 40, 20 40, 20 60, 0 60, 0 40)))", {1, 2, 3}),
        ("S_DISJOINT(geom, BBOX(0, 40, 20, 60))", {4}),
        ("NOT S_INTERSECTS(geom, BBOX(0, 40, 20, 60))", {4}),
    ],
)
def test_expected_rows(conn: sqlite3.Connection, text: str, expected: set[int]) -> None:
    assert ids(conn, text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("nope = 1", "'nope'"),
        ("S_INTERSECTS(geom, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "not valid"),
        ("S_INTERSECTS(geom, BBOX(0, 0, 1, 200))", "BBOX"),
        ("S_INTERSECTS(n, BBOX(0, 0, 1, 1))", "geometry property"),
    ],
)
def test_errors_name_the_fault(conn: sqlite3.Connection, text: str, named: str) -> None:
    with pytest.raises(FilterError) as e:
        ids(conn, text)
    assert named in str(e.value)


def test_glob_translation() -> None:
    assert glob_pattern("a%b_c") == "a*b?c"
    assert glob_pattern("a*b?c[d") == "a[*]b[?]c[[]d"
    assert glob_pattern("100\\%") == "100%"
    assert glob_pattern("a\\_b") == "a_b"
    with pytest.raises(FilterError):
        glob_pattern("a\\")
