"""Issue 12: CQL2-JSON to SQL, checked on SQLite and PostGIS against rows worked out
by hand."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator

import cql2
import pytest
import shapely

from demine.store.cql_postgis import PostgisDialect
from demine.store.cql_sql import Column, FilterError, to_sql
from demine.store.cql_sqlite import SqliteDialect, glob_pattern

PG_URL = os.environ.get("DEMINE_TEST_PG")

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


Run = Callable[[str], set[int]]


def _sqlite() -> Run:
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE t (id INTEGER, name TEXT, n REAL, b INTEGER, d TEXT, geom BLOB)")
    c.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
        [(*r[:5], None if r[5] is None else shapely.to_wkb(r[5])) for r in ROWS],
    )

    def run(text: str) -> set[int]:
        d = SqliteDialect()
        d.register(c)
        where, args = to_sql(cql2.parse_text(text).to_json(), COLUMNS, d)
        return {r[0] for r in c.execute(f"SELECT id FROM t WHERE {where}", args)}

    return run


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def ids(request: pytest.FixtureRequest) -> Iterator[Run]:
    if request.param == "sqlite":
        yield _sqlite()
        return
    if not PG_URL:
        pytest.skip("no PostgreSQL + PostGIS server: set DEMINE_TEST_PG (.ci/run starts one)")
    import psycopg

    schema = "cql_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_URL.split("?")[0], autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.t (id integer, name text, n double precision, b boolean, "
            "d date, geom geometry(Geometry, 4326))"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {schema}.t VALUES (%s, %s, %s, %s, %s, "
                "ST_SetSRID(ST_GeomFromWKB(%s), 4326))",
                [
                    (
                        *r[:3],
                        None if r[3] is None else bool(r[3]),
                        r[4],
                        None if r[5] is None else shapely.to_wkb(r[5]),
                    )
                    for r in ROWS
                ],
            )

        def run(text: str) -> set[int]:
            d = PostgisDialect()
            where, args = to_sql(cql2.parse_text(text).to_json(), COLUMNS, d)
            rows = conn.execute(f"SELECT id FROM {schema}.t WHERE {where}", args)
            return {r[0] for r in rows}

        try:
            yield run
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


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
        ("n % 2 = 1", {1, 4, 5}),
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
def test_expected_rows(ids: Run, text: str, expected: set[int]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("nope = 1", "'nope'"),
        ("S_INTERSECTS(geom, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "not valid"),
        ("S_INTERSECTS(geom, BBOX(0, 0, 1, 200))", "BBOX"),
        ("S_INTERSECTS(n, BBOX(0, 0, 1, 1))", "geometry property"),
    ],
)
def test_errors_name_the_fault(ids: Run, text: str, named: str) -> None:
    with pytest.raises(FilterError) as e:
        ids(text)
    assert named in str(e.value)


def test_glob_translation() -> None:
    assert glob_pattern("a%b_c") == "a*b?c"
    assert glob_pattern("a*b?c[d") == "a[*]b[?]c[[]d"
    assert glob_pattern("100\\%") == "100%"
    assert glob_pattern("a\\_b") == "a_b"
    with pytest.raises(FilterError):
        glob_pattern("a\\")
