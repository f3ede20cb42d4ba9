"""A first import written from rows made ahead, in other processes (issue 16: an import of
100,000 hazards as fast as ``ogr2ogr``; :mod:`demine.services.import_split`).

* :meth:`Prepared.prepare_created` makes, from checked records, the rows a first import of
  them writes: each record's row, its ``create`` revision, and (hazards) its derived row. It
  uses no connection, so another process can make them from a part of the file (a forked
  process, with the store object it inherited: only its encoders are used).
* :meth:`Prepared.create_prepared` writes the rows of every part in one transaction, the way
  :meth:`~.records.Records.upsert` writes a first import (the same rows, revisions, R-tree,
  data version and derived rows), or writes nothing and returns None when the kind already
  holds records (the caller then imports the usual way).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from demine.errors import Conflict
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.store.core.derived import Derived
from demine.store.core.derived_schema import DERIVED_BY_HAZARD, HAZARD_COLS
from demine.store.core.dialect import q
from demine.store.core.records import check_twice

Progress = Callable[[int, int], None]


class CreatedRows(NamedTuple):
    """The rows a first import writes for some records (:meth:`Prepared.prepare_created`)."""

    rows: list[tuple[Any, ...]]  # the kind's table (Tables._insert_sql)
    history: list[tuple[Any, ...]]  # demine_history, one "create" each
    derived: list[tuple[Any, ...]] | None  # demine_derived_hazard (None: none made)


class Prepared(Derived):
    """A first import from rows made ahead (see the module's docstring)."""

    if TYPE_CHECKING:  # in core.records

        def _check_foreign_ids(self, c: Any, k: Kind, ids: Sequence[str]) -> None: ...

    def prepare_created(
        self,
        kind: str,
        records: Sequence[Record],
        *,
        at: str,
        actor: str,
        organisation: str,
        reasons: Sequence[str | None],
        derived: bool,
        areas: Sequence[float] | None = None,
    ) -> CreatedRows:
        """The rows of these new records (each set as created: revision 1, ``at`` by
        ``actor``, ``organisation`` when it has none), as :meth:`upsert` writes a first import
        of them; with ``derived`` (hazards, the derived tables built) their derived rows,
        nothing released: from ``areas`` when given (each polygon's geodesic area before
        rounding, measured by the import that checked it:
        :func:`~.derived_bare.new_hazard_rows`). Uses no connection."""
        from demine.store.core.derived_bare import bare_hazard_rows, new_hazard_rows

        k = self.kind(kind)
        blobs = self._encode([r.geometry for r in records]) if k.geometry_type else None
        rows, hist = self._created_rows(
            k,
            records,
            [None] * len(records) if blobs is None else blobs,
            reasons,
            at,
            actor,
            lambda: organisation,
        )
        made = None
        if not (derived and k.name == "hazards" and blobs is not None and self.bare_quick):
            pass
        elif areas is not None:
            made = new_hazard_rows(
                [
                    (r.id, None if b is None else r.geometry)
                    for r, b in zip(records, blobs, strict=True)
                ],
                areas,
                at,
            )
        else:
            made = bare_hazard_rows(
                [(r.id, b) for r, b in zip(records, blobs, strict=True) if b is not None],
                {},
                at,
                self._wkb_keys,
                self._decode,
            )
        return CreatedRows(rows, hist, made)

    def create_prepared(
        self,
        kind: str,
        parts: Sequence[Any],
        *,
        at: str,
        expected: int,
        progress: Progress | None = None,
    ) -> builtins.list[str] | None:
        """Write the rows of ``parts`` (in order) in one transaction as a first import of
        their records; their ids. A part may be a function giving its rows when the earlier
        parts are written (made meanwhile in another process). None, nothing written: the
        kind holds records, the derived tables' state is not the one the rows were made for,
        or a part's function gave None (then import the usual way). ``expected``: about how
        many rows (the spatial index is filled in bulk for many); ``progress``: as
        :meth:`upsert`'s."""
        k = self.kind(kind)
        first = 1 if k.geometry_type else 0  # the id's column

        def body(c: Any) -> builtins.list[str] | None:
            if c.execute(f"SELECT EXISTS (SELECT 1 FROM {q(k.name)})").fetchone()[0] not in (
                0,
                False,
            ):
                return None
            before = self._derived_before(c, k.name, [])
            bare = before is not None and k.name == "hazards"
            if bare and not self._empty_tables(c).issuperset(
                ("releases", "activities", *DERIVED_BY_HAZARD)
            ):
                return None  # rows made ahead: only into a store with nothing to overlay
            # ids are unique across the store: looked up only if another kind has any
            others = c.execute(
                f"SELECT EXISTS (SELECT 1 FROM demine_history WHERE kind <> {self.P})", [k.name]
            ).fetchone()[0] not in (0, False)
            rows: builtins.list[tuple[Any, ...]] = []
            seen: set[str] = set()
            token = self._before_insert(c, k, expected)
            for part in parts:
                got = part() if callable(part) else part
                if got is None or (bare and got.derived is None):
                    raise _Abandoned
                ids = [str(r[first]) for r in got.rows]
                check_twice(ids)
                again = seen.intersection(ids)
                if again:
                    raise Conflict(f"record {min(again)} appears twice in one batch")
                seen.update(ids)
                try:
                    self._executemany(c, self._insert_sql(k), got.rows)
                except self.DB_ERRORS as e:
                    raise Conflict(f"cannot store {k.name}: {self._db_message(e)}") from None
                self._executemany(c, self.HISTORY_INSERT, got.history)
                if bare and got.derived:
                    self._executemany(c, self._derived_insert(), got.derived)
                if others:
                    self._check_foreign_ids(c, k, ids)
                rows += got.rows
            self._after_insert(c, k, rows, token)
            ids = [str(r[first]) for r in rows]
            if rows:
                self._touch(c, k, at)
            if bare:
                c.execute(
                    f"UPDATE demine_derived_state SET value = {self.P} WHERE key = {self.P}",
                    ("yes", "built"),
                )
                if progress is not None:
                    progress(len(ids), len(ids))
            else:
                self._derived_after(c, k.name, ids, before, progress)
            return ids

        try:
            return self._transaction(k.name, body)
        except _Abandoned:
            return None

    def _derived_insert(self) -> str:
        P = self.P
        return (
            f"INSERT INTO demine_derived_hazard ({', '.join(HAZARD_COLS)}) "
            f"VALUES ({', '.join([P] * len(HAZARD_COLS))})"
        )


class _Abandoned(Exception):
    """A part's function gave no rows: the transaction is rolled back."""
