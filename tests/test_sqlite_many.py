"""store/sqlite_many.insert_many: the same rows, rowids, types and errors as executemany."""

from __future__ import annotations

import math
import random
import sqlite3

import pytest

from demine.store import sqlite_many
from demine.store.sqlite_many import constant_columns, insert_many

DDL = "CREATE TABLE t (fid INTEGER PRIMARY KEY, a, b TEXT, c REAL, d BLOB, e INTEGER, u UNIQUE)"
SQL = "INSERT INTO t (a, b, c, d, e, u) VALUES (?, ?, ?, ?, ?, ?)"


def _pair() -> tuple[sqlite3.Connection, sqlite3.Connection]:
    out = []
    for _ in range(2):
        c = sqlite3.connect(":memory:")
        c.execute(DDL)
        # a trigger sees the rows in their order
        c.execute("CREATE TABLE log (fid, a)")
        c.execute(
            "CREATE TRIGGER t_ins AFTER INSERT ON t "
            "BEGIN INSERT INTO log VALUES (new.fid, new.a); END"
        )
        out.append(c)
    return out[0], out[1]


def _dump(c: sqlite3.Connection) -> list[tuple[object, ...]]:
    rows = c.execute(
        "SELECT fid, a, typeof(a), b, typeof(b), c, typeof(c), d, typeof(d), e, typeof(e), u "
        "FROM t ORDER BY fid"
    ).fetchall()
    # floats to the bit (-0.0, NaN)
    fix = [tuple(v.hex() if isinstance(v, float) else v for v in r) for r in rows]
    return fix + c.execute("SELECT * FROM log ORDER BY rowid").fetchall()


def _messy(n: int, seed: int) -> list[tuple[object, ...]]:
    rnd = random.Random(seed)
    pool = [
        None,
        0,
        1,
        True,
        False,
        1.0,
        0.0,
        -0.0,
        math.nan,
        math.inf,
        "",
        "1",
        "ж",
        b"",
        b"\x00",
        2**62,
    ]
    rows = []
    for i in range(n):
        rows.append(
            (
                rnd.choice(pool),
                rnd.choice([None, "x", "Київ"]),
                rnd.choice([0.0, -0.0, 1.5, None]),
                rnd.choice([b"\x01\x02", None]),
                rnd.choice([1, True]),
                i,
            )
        )
    return rows


@pytest.mark.parametrize("n", [0, 1, 63, 64, 255, 256, 257, 1000, 2049])
@pytest.mark.parametrize("shape", ["messy", "constant", "one-off", "same-rows"])
def test_same_as_executemany(n: int, shape: str) -> None:
    if shape == "messy":
        rows = _messy(n, n)
    elif shape == "constant":  # every column but u the same: bound once per statement
        rows = [(None, "same", -0.0, b"\x00", 7, i) for i in range(n)]
    elif shape == "one-off":  # constant but for one row, at the end: not a constant
        rows = [(1, "same", 0.0, b"x", 7, i) for i in range(n)]
        if n:
            rows[-1] = (1.0, "same", -0.0, b"y", True, n)
    else:  # every value the same in every row (no unique column): n equal rows
        a, b = _pair()
        for c in (a, b):
            c.execute("DROP TABLE t")
            c.execute(
                "CREATE TABLE t (fid INTEGER PRIMARY KEY, a, b TEXT, c REAL, d BLOB, e INTEGER, u)"
            )
        rows = [(None, "s", 1.0, b"", 1, 5)] * n
        a.executemany(SQL, rows)
        insert_many(b, SQL, rows)
        assert _dump(a) == _dump(b)
        return
    a, b = _pair()
    a.executemany(SQL, rows)
    insert_many(b, SQL, rows)
    assert _dump(a) == _dump(b)
    assert len(_dump(b)) == 2 * n


def test_constant_columns_are_exact() -> None:
    rows = [(1, 1.0, 0.0, None, "a", b"x", math.nan)] * 3
    assert constant_columns(rows, 7) == [0, 1, 2, 3, 4, 5, 6]  # the same NaN object
    assert constant_columns([(float("nan"),), (float("nan"),)], 1) == []  # NaN equals nothing
    assert constant_columns([(1,), (True,)], 1) == []  # 1 == True, another type
    assert constant_columns([(1,), (1.0,)], 1) == []
    assert constant_columns([(0.0,), (-0.0,)], 1) == []  # equal, not the same bits
    assert constant_columns([([1],), ([1],)], 1) == []  # only simple values


def test_constraint_error_is_the_drivers() -> None:
    rows = [(None, "x", 0.0, None, 1, i % 300) for i in range(1000)]
    a, b = _pair()
    with pytest.raises(sqlite3.IntegrityError) as ea:
        a.executemany(SQL, rows)
    with pytest.raises(sqlite3.IntegrityError) as eb:
        insert_many(b, SQL, rows)
    assert str(ea.value) == str(eb.value) == "UNIQUE constraint failed: t.u"


def test_wrong_row_length_is_the_drivers() -> None:
    rows = [(None, "x", 0.0, None, 1, i) for i in range(100)] + [(1, 2)]
    a, b = _pair()
    with pytest.raises(sqlite3.ProgrammingError) as ea:
        a.executemany(SQL, rows)
    with pytest.raises(sqlite3.ProgrammingError) as eb:
        insert_many(b, SQL, rows)
    assert str(ea.value) == str(eb.value)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT OR IGNORE INTO t (a, b, c, d, e, u) VALUES (?, ?, ?, ?, ?, ?)",
        "INSERT INTO t (a, b, c, d, e, u) VALUES (?, ?, ?, ?, ?, json(?))",
        "INSERT INTO t (a, b, c, d, e, u) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ],
)
def test_other_statements_go_to_executemany(sql: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Spy(sqlite3.Connection):
        def executemany(self, s, rows):  # type: ignore[no-untyped-def, override]
            calls.append(s)
            return super().executemany(s, rows)

    c = sqlite3.connect(":memory:", factory=Spy)
    c.execute(DDL)
    rows = [(None, "x", 0.0, None, 1, str(i)) for i in range(500)]
    insert_many(c, sql, rows)
    assert calls == [sql]
    assert c.execute("SELECT count(*) FROM t").fetchone() == (500,)


def test_large_write_uses_fewer_statements() -> None:
    steps: list[str] = []
    c = sqlite3.connect(":memory:")
    c.execute(DDL)
    c.set_trace_callback(steps.append)
    rows = [(None, "x", 0.0, None, 1, i) for i in range(1000)]
    insert_many(c, SQL, rows)
    inserts = [s for s in steps if s.startswith("INSERT INTO t")]
    assert len(inserts) == -(-1000 // sqlite_many.MAX_ROWS)
    assert c.execute("SELECT count(*), min(u), max(u) FROM t").fetchone() == (1000, 0, 999)


def test_an_iterator_or_lists_of_rows() -> None:
    a, b = _pair()
    rows = [[None, "x", 0.0, None, 1, i] for i in range(300)]  # lists, as merges loads them
    a.executemany(SQL, rows)
    insert_many(b, SQL, rows)
    insert_many(b, SQL, iter([(None, "x", 0.0, None, 1, i) for i in range(300, 400)]))
    a.executemany(SQL, iter([(None, "x", 0.0, None, 1, i) for i in range(300, 400)]))
    assert _dump(a) == _dump(b)


def test_a_low_limit_of_parameters() -> None:
    """SQLite builds before 3.32 allow 999 parameters a statement: the statements fit."""
    a, b = _pair()
    b.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 20)
    rows = [(None, f"x{i}", float(i), bytes([i % 256]), i, i) for i in range(500)]
    a.executemany(SQL, rows)
    insert_many(b, SQL, rows)  # 4 values a row: 5 rows a statement
    assert _dump(a) == _dump(b)
    for limit, want in ((6, (500,)), (5, None)):  # one row a statement; a row too many
        c = sqlite3.connect(":memory:")
        c.execute(DDL)
        c.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        if want is not None:
            insert_many(c, SQL, rows)
            assert c.execute("SELECT count(*) FROM t").fetchone() == want
            continue
        with pytest.raises(sqlite3.OperationalError) as ea:
            c.executemany(SQL, rows)
        with pytest.raises(sqlite3.OperationalError) as eb:
            insert_many(c, SQL, rows)  # the driver's own error
        assert str(ea.value) == str(eb.value)
