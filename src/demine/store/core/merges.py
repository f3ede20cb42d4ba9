"""Merges and links in the store core (issue 13, reconciling): what a merge leaves behind,
and the one transaction it runs in.

* ``demine_redirects``: ``old_id`` (unique) was merged into ``new_id`` (a record of ``kind``),
  when, by whom, why. :meth:`Merges.redirect` follows a chain (A into B, then B into C: A
  answers C). A record that is live again (restored) answers as itself: the faces look for a
  redirect only when a record is not found.
* ``demine_links``: a record linked to another of the same kind (IMSMA's "link": kept apart,
  each knowing of the other), when, by whom, why.
* :meth:`Merges.atomically`: every write inside ``body`` (records of any kind, attachments,
  redirects) is one transaction: all stored, or nothing. A write inside runs in a savepoint of
  it (see the backends' ``_transaction``).

Only storage lives here; who may merge and what a merge does are
:mod:`demine.services.intake.merge`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from demine.model.schema import now_utc
from demine.store.core.tables import Tables

T = TypeVar("T")
MAX_CHAIN = 100  # redirects followed at most (a cycle stops earlier)

# (table, description, columns): {T} is the backend's time type
MERGE_TABLES: tuple[tuple[str, str, str], ...] = (
    (
        "demine_redirects",
        "Records merged into others: the old id answers with the survivor's",
        "old_id TEXT NOT NULL UNIQUE, new_id TEXT NOT NULL, kind TEXT NOT NULL, at {T}, "
        "actor TEXT NOT NULL, reason TEXT",
    ),
    (
        "demine_links",
        "Records linked to another of the same kind (kept apart, each knowing the other)",
        "record_id TEXT NOT NULL, linked_id TEXT NOT NULL, kind TEXT NOT NULL, at {T}, "
        "actor TEXT NOT NULL, reason TEXT",
    ),
)
_REDIRECT_COLS = ("old_id", "new_id", "kind", "at", "actor", "reason")
_LINK_COLS = ("record_id", "linked_id", "kind", "at", "actor", "reason")


class Merges(Tables):
    """Redirects, links, moving attachments and the one transaction of a merge."""

    TIME_TYPE = "DATETIME"
    _atomic_depth = 0  # > 0 inside atomically(): a write runs in a savepoint of it

    def _merge_schema(self, c: Any, create: Callable[[Any, str, str, str], None]) -> None:
        """The tables of merges and links. Idempotent (every ``init`` and migration)."""
        for name, description, cols in MERGE_TABLES:
            create(c, name, description, cols.format(T=self.TIME_TYPE))

    def atomically(self, body: Callable[[], T]) -> T:
        """Run ``body`` (which writes through the store's own methods) as one transaction:
        everything it writes is stored, or nothing. Nested calls join the outer one."""
        if self._atomic_depth:
            return body()

        def run(_: Any) -> T:
            self._atomic_depth += 1
            try:
                return body()
            finally:
                self._atomic_depth -= 1

        return self._transaction("__atomic__", run)

    # --- redirects --------------------------------------------------------------------------

    def add_redirect(
        self, old_id: str, new_id: str, kind: str, *, actor: str, reason: str | None
    ) -> None:
        """Record that ``old_id`` was merged into ``new_id`` (replacing an earlier redirect of
        ``old_id``); ``new_id``, live, no longer redirects anywhere."""
        P = self.P

        def body(c: Any) -> None:
            c.execute(f"DELETE FROM demine_redirects WHERE old_id IN ({P}, {P})", (old_id, new_id))
            c.execute(
                f"INSERT INTO demine_redirects ({', '.join(_REDIRECT_COLS)}) "
                f"VALUES ({', '.join([P] * 6)})",
                (old_id, new_id, kind, now_utc(), actor, reason),
            )

        self._transaction("__merges__", body)

    def redirect(self, record_id: str) -> str | None:
        """The record ``record_id`` was merged into, following a chain to its end; None when
        it was never merged."""
        seen = {record_id}
        at, out = record_id, None
        for _ in range(MAX_CHAIN):
            row = self.conn.execute(
                f"SELECT new_id FROM demine_redirects WHERE old_id = {self.P}", (at,)
            ).fetchone()
            if row is None or row[0] in seen:
                break
            at = out = str(row[0])
            seen.add(at)
        return out

    def redirects(self) -> list[dict[str, Any]]:
        """Every redirect (for copying a store), oldest first."""
        return self._rows("demine_redirects", _REDIRECT_COLS)

    def load_redirects(self, rows: Iterable[dict[str, Any]]) -> int:
        return self._load("demine_redirects", _REDIRECT_COLS, rows)

    # --- links ------------------------------------------------------------------------------

    def add_link(
        self, record_id: str, linked_id: str, kind: str, *, actor: str, reason: str | None
    ) -> None:
        self._load(
            "demine_links",
            _LINK_COLS,
            [
                {
                    "record_id": record_id,
                    "linked_id": linked_id,
                    "kind": kind,
                    "at": now_utc(),
                    "actor": actor,
                    "reason": reason,
                }
            ],
        )

    def links(self) -> list[dict[str, Any]]:
        """Every link (for copying a store and for tests), oldest first."""
        return self._rows("demine_links", _LINK_COLS)

    def load_links(self, rows: Iterable[dict[str, Any]]) -> int:
        return self._load("demine_links", _LINK_COLS, rows)

    # --- rows -------------------------------------------------------------------------------

    def _rows(self, table: str, cols: tuple[str, ...]) -> list[dict[str, Any]]:
        out = []
        for row in self.conn.execute(
            f"SELECT {', '.join(cols)} FROM {table} ORDER BY fid"
        ).fetchall():
            d = dict(zip(cols, row, strict=True))
            d["at"] = self._time_text(d["at"])
            out.append(d)
        return out

    def _load(self, table: str, cols: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> int:
        values = [[r[c] for c in cols] for r in rows]
        if not values:
            return 0
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([self.P] * len(cols))})"
        self._transaction("__merges__", lambda c: self._executemany(c, sql, values))
        return len(values)
