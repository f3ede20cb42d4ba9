"""Many rows into SQLite with less work per value (issue 16: a large import's writes).

Python's ``sqlite3`` binds each value of each row on its own, and pays a fixed cost per row
(reset, step, bookkeeping): for 100,000 hazards of 25 columns that was 1.6 s, where SQLite
itself needs 0.3 s to insert the same rows. Most of those values are the same in every row of
a large write (NULLs of fields a file does not have, the time, the actor, the revision, the
empty "released" of a new hazard).

:func:`insert_many` writes ``INSERT INTO t (cols) VALUES (?, ..., ?)`` for many rows as
statements of many rows each (``VALUES (...), (...), ...``), with every column whose value is
the same in every row (same type and equal) bound once per statement as a numbered parameter
(``?1``) that each row repeats. The values bound are the very objects of the rows, each by the
same binder as before, and the rows are inserted in their order: the stored rows, their rowids
and triggers are those of :meth:`sqlite3.Connection.executemany`. A failure (a constraint)
raises the same error; as with ``executemany``, the rows before the failing statement stay
inserted until the caller's transaction is rolled back.

Any other statement, or a few rows, goes to ``executemany`` unchanged. A statement holds at
most :data:`MAX_PARAMS` values, and never more than the SQLite build allows (999 before 3.32).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

MIN_ROWS = 64  # fewer rows: executemany, as before
MAX_PARAMS = 8000  # per statement (SQLite allows 32,766): small statements compile fast
MAX_ROWS = 256  # per statement

_SIMPLE = frozenset({type(None), int, float, str, bytes})
_INSERT = re.compile(
    r"\s*(INSERT INTO\s.+?)\s+VALUES\s*\(\s*\?(?:\s*,\s*\?)*\s*\)\s*",
    re.DOTALL | re.IGNORECASE,
)


def constant_columns(rows: Sequence[Sequence[Any]], width: int) -> list[int]:
    """The positions whose value has the same type and is equal in every row: None, or an
    int, float (to the bit: -0.0 is not 0.0; a NaN only when it is the same object), str or
    bytes."""
    out = []
    n = len(rows)
    for j, col in enumerate(zip(*rows, strict=True)):
        v = col[0]
        t = type(v)
        # equal (count: C's comparison, the same object first), then of one type
        if t not in _SIMPLE or col.count(v) != n or len(set(map(type, col))) != 1:
            continue
        if t is float and len(set(map(float.hex, col))) != 1:
            continue
        out.append(j)
    return out


def insert_many(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``conn.executemany(sql, rows)``, with the same result, in fewer, larger statements
    when ``sql`` is a plain ``INSERT ... VALUES (?, ...)`` of many rows."""
    if not isinstance(rows, (list, tuple)):  # an iterator: as it is
        conn.executemany(sql, rows)
        return
    m = _INSERT.fullmatch(sql) if len(rows) >= MIN_ROWS else None
    if m is None:
        if rows:
            conn.executemany(sql, rows)
        return
    width = sql.count("?", m.end(1))
    if set(map(len, rows)) != {width}:  # the driver's own error
        conn.executemany(sql, rows)
        return
    const = constant_columns(rows, width)
    fixed = set(const)
    var = [j for j in range(width) if j not in fixed]
    k = len(const)
    cvalues = tuple(rows[0][j] for j in const)
    # within this SQLite's limit of parameters (999 in builds before 3.32)
    most = min(MAX_PARAMS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    per = max(1, min(MAX_ROWS, (most - k) // max(1, len(var))))
    if k + per * len(var) > most:  # not one row fits (nor would it alone): the driver's error
        conn.executemany(sql, rows)
        return
    pick: Any = (
        itemgetter(*var)
        if len(var) > 1
        else (lambda r, j=var[0]: (r[j],))
        if var
        else (lambda r: ())
    )
    head = m.group(1)
    ks = tuple(const)
    n = len(rows)
    full = n - n % per
    if full:
        conn.executemany(
            _statement(head, width, ks, per),
            (
                cvalues + tuple(chain.from_iterable(map(pick, rows[i : i + per])))
                for i in range(0, full, per)
            ),
        )
    if full < n:
        conn.execute(
            _statement(head, width, ks, n - full),
            cvalues + tuple(chain.from_iterable(map(pick, rows[full:]))),
        )


@lru_cache(maxsize=64)
def _statement(head: str, width: int, const: tuple[int, ...], n: int) -> str:
    """``head VALUES (...), ...`` for ``n`` rows: the columns at ``const`` each ``?i``
    (i = 1 + their place in ``const``), the others numbered on, row by row."""
    number = {j: i + 1 for i, j in enumerate(const)}
    nxt = len(const) + 1
    tuples = []
    for _ in range(n):
        parts = []
        for j in range(width):
            if j in number:
                parts.append(f"?{number[j]}")
            else:
                parts.append(f"?{nxt}")
                nxt += 1
        tuples.append("(" + ",".join(parts) + ")")
    return f"{head} VALUES " + ",".join(tuples)
