"""Derived figures kept up to date on write (issue 16): each hazard's land-release account,
so that statistics and dashboards read small tables instead of overlaying every release of the
store again.

* ``demine_derived_hazard``: one row per hazard with a geometry: its area, what was released
  and what remains (areas, and the released and remaining polygons as WKB), released area by
  release type (JSON), how many releases, the latest date of its activities and releases
  (``last_activity_on``, text: partial dates compare as text) and when the row was computed;
* ``demine_derived_piece``: one row per release credited to a hazard, in crediting order
  (``seq``): what :func:`demine.geo.release.account` gives for it (credited, overlap and
  outside areas and polygons, the releases it overlaps); on the last release of each year
  but the last, what remained and what was released after it (``remaining_after``,
  ``remaining_after_m2``, ``released_after``), so an account up to the end of a year is read,
  not computed;
* the statistics' figures (schema 12): each hazard's bounding box and, measured as the
  statistics measure them (:func:`.derived_stats.stat_figures`), its remaining polygon, each
  credited piece, each year's-end remaining polygon and the hazard with nothing released; the
  polygons are the last columns of each row, so reading the figures walks no polygon's pages;
* ``demine_derived_zonal``: how ``stats --by`` split each hazard's polygons among the areas
  of a reference layer, by layer, hazard and polygon, valid for its account's ``computed_at``
  and the layer's ``layer_hash`` (see :mod:`.derived_stats` and ``services/stats/figures.py``);
  a hazard's rows go when its account is computed again;
* ``demine_derived_state``: ``built`` is ``yes`` when the rows are complete (a new store, or
  after ``demine rebuild-derived``); an older store opened by a newer demine has ``no`` until
  then, and readers (:meth:`Derived.derived_accounts` answers None) compute everything again.
  Triggers on the hazards, releases and activities tables set it to ``no`` on any change (one
  made outside demine stays so); demine's writes set it back once they have kept the rows up.

Every write of a hazard, release or activity (:meth:`Records.upsert`, ``update``, ``delete``,
``restore``, ``load_revisions``: every face writes through them) recomputes the rows of the
hazards it touches, before and after the change (a release moved to another hazard: both),
once per batch and inside the write's transaction: a failed write leaves them as they were.
Crediting is in date order, so the rows do not depend on any statistics period.

The hazards are recomputed in chunks (at most :attr:`Derived.DERIVE_CHUNK`, and what one
``IN (...)`` of the backend takes); :meth:`Derived.rebuild_derived` and a write given a
``progress`` callback (``upsert(..., progress=...)``) call it with (hazards done, hazards to
do): once with 0 before the first chunk, then after each chunk, the last call (total, total)
(a transaction the backend runs again after a retryable failure starts again from 0).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import orjson

from demine.model.schema import now_utc
from demine.store.core.derived_bare import bare_hazard_rows
from demine.store.core.derived_schema import (
    DEFINITION,
    DERIVED_BY_HAZARD,
    DERIVED_KINDS,
    EMPTY_WKB,
    HAZARD_COLS,
    LAYOUT_TABLES,
    PIECE_COLS,
    STAT_COLS,
    geom_of,
    on_grid,
    own_geom_sql,
    wkb_of,
)
from demine.store.core.derived_stats import MEMO_TABLE, stat_figures
from demine.store.core.dialect import q
from demine.store.core.tables import Tables

__all__ = ["DERIVED_KINDS", "DERIVED_TABLES", "Derived", "Progress", "on_grid", "own_geom_sql"]

# told (hazards done, hazards to do) as the derived rows are recomputed, chunk by chunk
Progress = Callable[[int, int], None]

# every derived table (table, description, columns): those of the accounts, and the
# statistics' memo (see derived_stats)
DERIVED_TABLES: tuple[tuple[str, str, str], ...] = (*LAYOUT_TABLES, MEMO_TABLE)


def _last_date(values: Iterable[Any]) -> str | None:
    dates = [str(v) for v in values if v]
    return max(dates) if dates else None


class Derived(Tables):
    """The derived tables: their schema, their upkeep on write, their rebuild and reads."""

    BLOB_TYPE = "BLOB"
    # hazards recomputed per chunk at most (a backend's IN chunk may be smaller): a national
    # rebuild reports its progress about a hundred times, and holds one chunk's polygons
    DERIVE_CHUNK = 1000
    bare_quick = True  # tests turn it off to compare the rows with and without it

    def _derived_schema(self, c: Any, create: Callable[[Any, str, str, str], None]) -> None:
        """The derived tables (GeoPackage schema 11, PostGIS 10; their statistics' columns and
        the zonal table by hazard: 12 and 11; the memo: 13 and 12; the untouched hazard's
        account as its own polygon: 14 and 13, :data:`DEFINITION`). Idempotent. Made in a
        store that has hazards or releases already (an older one), given new columns, or
        holding rows of an older definition, they are marked not built (``demine
        rebuild-derived`` makes them again)."""
        exists = self._derived_table_exists(c)
        stale = exists and any(
            not set(cols) <= self._derived_columns(c, t) for t, cols in STAT_COLS.items()
        )
        if stale:  # made before schema 12: made again (the figures are computed on rebuild)
            for t in DERIVED_BY_HAZARD:
                c.execute(f"DROP TABLE {t}")
        for name, description, cols in DERIVED_TABLES:
            create(c, name, description, cols.format(B=self.BLOB_TYPE))
        for t in ("demine_derived_piece", "demine_derived_zonal"):
            c.execute(f"CREATE INDEX IF NOT EXISTS {t}_hazard ON {t} (hazard_id)")
        self._derived_triggers(c)
        if exists:
            row = c.execute(
                f"SELECT value FROM demine_derived_state WHERE key = {self.P}", ("definition",)
            ).fetchone()
            older = row is None or row[0] != DEFINITION  # rows of another meaning
            if (stale or older) and self._derived_data(c):  # readers compute until rebuilt
                c.execute("UPDATE demine_derived_state SET value = 'no' WHERE key = 'built'")
            if older:
                c.execute(f"DELETE FROM demine_derived_state WHERE key = {self.P}", ("definition",))
                c.execute(
                    f"INSERT INTO demine_derived_state (key, value) VALUES ({self.P}, {self.P})",
                    ("definition", DEFINITION),
                )
            return
        built = "no" if self._derived_data(c) else "yes"
        c.execute(
            f"INSERT INTO demine_derived_state (key, value) VALUES ({self.P}, {self.P}), "
            f"({self.P}, {self.P})",
            ("built", built, "definition", DEFINITION),
        )

    def _derived_triggers(self, c: Any) -> None:
        """A change of a hazard, release or activity made outside demine (QGIS, SQL) marks the
        derived tables not built (readers then compute from the records, and
        ``demine rebuild-derived`` makes them again); demine's own writes mark them built
        again once they have kept them up (:meth:`_derived_after`)."""
        stale = "UPDATE demine_derived_state SET value = 'no' WHERE key = 'built'"
        if self.P == "%s":  # PostgreSQL: a statement trigger, its names qualified (an
            # outside session may have another search_path)
            sch = q(getattr(self, "schema", "public"))
            stale = stale.replace("demine_derived_state", f"{sch}.demine_derived_state")
            c.execute(
                f"CREATE OR REPLACE FUNCTION {sch}.demine_derived_stale() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN {stale} AND value = 'yes'; RETURN NULL; END $$"
            )
            for t in DERIVED_KINDS:
                name = q(f"demine_derived_stale_{t}")
                c.execute(f"DROP TRIGGER IF EXISTS {name} ON {q(t)}")
                c.execute(
                    f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {q(t)} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {sch}.demine_derived_stale()"
                )
            return
        for t in DERIVED_KINDS:
            for op in ("INSERT", "UPDATE", "DELETE"):
                c.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {q(f'demine_derived_stale_{t}_{op.lower()}')} "
                    f"AFTER {op} ON {q(t)} WHEN (SELECT value FROM demine_derived_state "
                    f"WHERE key = 'built') = 'yes' BEGIN {stale}; END"
                )

    def _wkb_keys(self, raw: Sequence[Any]) -> builtins.list[Any] | None:
        """The keys (:func:`demine.geo.release.wkb_key`) of stored geometries as selected
        (``GEOM_OUT``), without decoding them; None when the backend cannot tell them so."""
        return None

    def _derived_table_exists(self, c: Any) -> bool:
        try:
            c.execute("SAVEPOINT demine_probe")
            c.execute("SELECT 1 FROM demine_derived_state LIMIT 1").fetchall()
        except self.DRIVER_ERRORS:
            c.execute("ROLLBACK TO SAVEPOINT demine_probe")
            c.execute("RELEASE SAVEPOINT demine_probe")
            return False
        c.execute("RELEASE SAVEPOINT demine_probe")
        return True

    @staticmethod
    def _derived_data(c: Any) -> bool:
        """The store has hazards or releases (derived rows to make)."""
        return any(
            c.execute(f"SELECT count(*) FROM {q(k)}").fetchone()[0] for k in ("hazards", "releases")
        )

    @staticmethod
    def _derived_columns(c: Any, table: str) -> set[str]:
        return {d[0] for d in c.execute(f"SELECT * FROM {table} LIMIT 0").description}

    def _derived_built(self, c: Any) -> bool:
        row = c.execute(
            f"SELECT value FROM demine_derived_state WHERE key = {self.P}", ("built",)
        ).fetchone()
        return row is not None and row[0] == "yes"

    def derived_built(self) -> bool:
        """True when the derived tables are complete (readers may use them)."""
        return self._derived_built(self.conn)

    # --- upkeep on write ----------------------------------------------------------------------

    def _hazards_of(self, c: Any, kind: str, ids: Sequence[str]) -> set[str]:
        """The hazards the stored records of ``kind`` with these ids name (as they are now)."""
        if kind == "hazards":
            return {str(i) for i in ids}
        out: set[str] = set()
        for chunk in self._chunks(builtins.list(ids)):
            if not chunk:
                continue
            sql, args = self._in("id", chunk)
            for (hid,) in c.execute(
                f"SELECT hazard_id FROM {q(kind)} WHERE {sql}", args
            ).fetchall():
                if hid:
                    out.add(str(hid))
        return out

    def _derived_before(self, c: Any, kind: str, ids: Sequence[str]) -> set[str] | None:
        """Before a write of these records: the hazards they name now (None: nothing to keep
        up, the kind has no derived figures or the tables are not built)."""
        if kind not in DERIVED_KINDS:
            return None
        self._lock_derived(c)  # before the write's triggers touch demine_derived_state
        if not self._derived_built(c):
            return None
        return self._hazards_of(c, kind, ids)

    def _derived_after(
        self,
        c: Any,
        kind: str,
        ids: Sequence[str],
        before: set[str] | None,
        progress: Progress | None = None,
    ) -> None:
        """After the write (same transaction): recompute the hazards named before or now (an
        activity changes only their last activity's date), telling ``progress`` (see the
        module's docstring)."""
        if before is None:
            return
        hazards = before | self._hazards_of(c, kind, ids)
        if kind == "activities":
            self._derive_last(c, hazards, progress)
        else:
            from demine.geo.release_pool import pooled

            with pooled():  # worker processes for the accounts, if there are many
                self._derive(c, hazards, progress)
        # the tables' triggers marked them stale at the write: they are current again
        c.execute(
            f"UPDATE demine_derived_state SET value = {self.P} WHERE key = {self.P}",
            ("yes", "built"),
        )

    def _last_dates(
        self, c: Any, chunk: builtins.list[str], empty: frozenset[str] = frozenset()
    ) -> dict[str, str | None]:
        """The latest date of each hazard's activities (started, completed) and releases
        (``empty``: tables known to have no rows, not read)."""
        sql, args = self._in("hazard_id", chunk)
        dates: dict[str, builtins.list[Any]] = {}
        if "activities" not in empty:
            for hid, s, e in c.execute(
                f"SELECT hazard_id, started_on, completed_on FROM {q('activities')} WHERE {sql}",
                args,
            ).fetchall():
                dates.setdefault(str(hid), []).extend((s, e))
        if "releases" not in empty:
            for hid, on in c.execute(
                f"SELECT hazard_id, released_on FROM {q('releases')} WHERE {sql}", args
            ).fetchall():
                dates.setdefault(str(hid), []).append(on)
        return {h: _last_date(v) for h, v in dates.items()}

    def _empty_tables(self, c: Any) -> frozenset[str]:
        """Which of the tables :meth:`_derive` reads by hazard have no rows (a new store, one
        with no releases yet): a large import then looks up nothing in them, 900 ids at a
        time. Rows that :meth:`_derive` adds are for other hazards than those still to do."""
        names = ("releases", "activities", *DERIVED_BY_HAZARD)
        return frozenset(
            t
            for t in names
            if c.execute(f"SELECT EXISTS (SELECT 1 FROM {q(t)})").fetchone()[0] in (0, False)
        )

    def _derive_chunks(
        self, ids: builtins.list[str], progress: Progress | None
    ) -> Iterator[builtins.list[str]]:
        """``ids`` in chunks (:attr:`DERIVE_CHUNK`, and small enough for :meth:`_in`);
        ``progress`` is told (0, total) first and (done, total) after each chunk."""
        total, done = len(ids), 0
        if progress is not None:
            progress(0, total)
        for part in self._chunks(ids):
            for s in range(0, len(part), self.DERIVE_CHUNK):
                chunk = builtins.list(part[s : s + self.DERIVE_CHUNK])
                yield chunk
                done += len(chunk)
                if progress is not None:
                    progress(done, total)

    def _derive_last(
        self, c: Any, hazard_ids: Iterable[str], progress: Progress | None = None
    ) -> None:
        ids = sorted(set(hazard_ids))
        self._lock_derived(c)
        for chunk in self._derive_chunks(ids, progress):
            last = self._last_dates(c, chunk)
            self._executemany(
                c,
                f"UPDATE demine_derived_hazard SET last_activity_on = {self.P} "
                f"WHERE hazard_id = {self.P}",
                [(last.get(str(h)), h) for h in chunk],
            )

    def _lock_derived(self, c: Any) -> None:
        if self.P == "%s":  # PostgreSQL: one writer of derived rows at a time
            c.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (getattr(self, "schema", "") + ".__derived__",),
            )

    def _derive(self, c: Any, hazard_ids: Iterable[str], progress: Progress | None = None) -> int:
        """Recompute the derived rows of these hazards from their records, chunk by chunk,
        telling ``progress`` (see the module's docstring). Returns how many hazards have rows
        now."""
        import numpy as np
        import shapely

        from demine.geo.release import (
            Account,
            ReleaseInput,
            take_prepared,
            unreleased,
        )
        from demine.geo.release_pool import accounts_many

        ids = sorted(set(hazard_ids))
        if not ids:
            if progress is not None:
                progress(0, 0)
            return 0
        self._lock_derived(c)
        P = self.P
        hk, rk = self.kind("hazards"), self.kind("releases")
        at = now_utc()
        n = 0
        empty = self._empty_tables(c)
        ins_hazard = (
            f"INSERT INTO demine_derived_hazard ({', '.join(HAZARD_COLS)}) "
            f"VALUES ({', '.join([P] * len(HAZARD_COLS))})"
        )
        for chunk in self._derive_chunks(ids, progress):
            for t in DERIVED_BY_HAZARD:
                if t not in empty:
                    sql, args = self._in("hazard_id", chunk)
                    c.execute(f"DELETE FROM {t} WHERE {sql}", args)
            sql, args = self._in("id", chunk)
            rows = [
                (str(r[0]), r[1])
                for r in c.execute(
                    f"SELECT id, {self.GEOM_OUT} FROM {q(hk.name)} WHERE {sql} ORDER BY fid", args
                ).fetchall()
                if r[1] is not None
            ]
            sql, args = self._in("hazard_id", chunk)
            rels: dict[str, builtins.list[ReleaseInput]] = {}
            rel_rows = (
                []
                if "releases" in empty
                else c.execute(self._select(rk) + f" WHERE {sql}", args).fetchall()
            )
            for rel in self._rows_to_records(rk, rel_rows):
                if rel.geometry is not None:
                    rels.setdefault(str(rel.properties.get("hazard_id")), []).append(
                        ReleaseInput(
                            id=rel.id,
                            release_type=str(rel.properties.get("release_type")),
                            released_on=str(rel.properties.get("released_on")),
                            geometry=rel.geometry,
                        )
                    )
            last = self._last_dates(c, chunk, empty)
            if not rels and self.bare_quick:  # nothing released in the chunk: the quick way
                quick = bare_hazard_rows(rows, last, at, self._wkb_keys, self._decode)
                self._executemany(c, ins_hazard, quick)
                n += len(quick)
                continue
            # nothing released: no overlay; an import computed most of these ahead (taken by
            # their stored WKB, without decoding the geometry)
            accs: dict[str, Account] = {}
            bare = [r for r in rows if r[0] not in rels]
            keys = self._wkb_keys([r[1] for r in bare])
            if keys is not None:
                for r, a in zip(bare, take_prepared(keys), strict=True):
                    if a is not None:
                        accs[r[0]] = a
            todo = [r for r in rows if r[0] not in accs]
            geom = dict(zip([r[0] for r in todo], self._decode([r[1] for r in todo]), strict=True))
            hazards = [h for h in rows if h[0] in accs or geom[h[0]] is not None]
            bare_ids = [r[0] for r in todo if r[0] not in rels and geom[r[0]] is not None]
            accs.update(zip(bare_ids, unreleased([geom[h] for h in bare_ids]), strict=True))
            with_rels = [h for h, _ in hazards if h in rels]
            items = [(geom[h], rels[h]) for h in with_rels]
            accs.update(zip(with_rels, accounts_many(items, year_ends=True), strict=True))
            done = [accs[h] for h, _ in hazards]
            released: builtins.list[Any] = [None if a.pieces else EMPTY_WKB for a in done]
            todo_r = [i for i, a in enumerate(done) if a.pieces]
            if todo_r:
                wkbs = shapely.to_wkb(np.asarray([done[i].released for i in todo_r], dtype=object))
                for i, w in zip(todo_r, wkbs, strict=True):
                    released[i] = w
            # the statistics' figures need each hazard's polygon: one taken ahead (an
            # import's, checked: polygonal and valid) is its account's remaining polygon
            for h, _ in hazards:
                if h not in geom:
                    geom[h] = accs[h].remaining
            # a remaining polygon that is the hazard's own (nothing released) is not kept
            # again: NULL, read from the hazard (see _remaining)
            remaining: builtins.list[Any] = [
                None if a.remaining is geom[h] else a.remaining
                for a, (h, _) in zip(done, hazards, strict=True)
            ]
            # one made ahead is another object: the same polygon when identical to it
            maybe = [i for i, a in enumerate(done) if remaining[i] is not None and not a.pieces]
            if maybe:
                same = shapely.equals_identical(
                    np.asarray([remaining[i] for i in maybe], dtype=object),
                    np.asarray([geom[hazards[i][0]] for i in maybe], dtype=object),
                )
                for i, eq in zip(maybe, same.tolist(), strict=True):
                    if eq:
                        remaining[i] = None
            redo = [i for i, g in enumerate(remaining) if g is not None]
            grids = [0.0] * len(done)
            if redo:
                kept = np.asarray([remaining[i] for i in redo], dtype=object)
                for i, w, p in zip(
                    redo, shapely.to_wkb(kept), shapely.get_precision(kept), strict=True
                ):
                    remaining[i], grids[i] = bytes(w), float(p)
            stat = stat_figures([geom[h] for h, _ in hazards], done)
            h_rows: builtins.list[tuple[Any, ...]] = []
            p_rows: builtins.list[tuple[Any, ...]] = []
            for i, (hid, _) in enumerate(hazards):
                acc = done[i]
                h_rows.append(
                    (
                        hid,
                        acc.hazard_m2,
                        acc.released_m2,
                        acc.remaining_m2,
                        orjson.dumps(acc.by_type).decode(),
                        len(acc.pieces),
                        last.get(hid),
                        bytes(released[i]),
                        remaining[i],
                        grids[i],
                        at,
                        *stat.hazard[i],
                    )
                )
                for k, p in enumerate(acc.pieces):
                    p_rows.append(
                        (
                            hid,
                            k,
                            p.release_id,
                            p.release_type,
                            p.released_on,
                            p.recorded_m2,
                            p.credited_m2,
                            p.overlap_m2,
                            orjson.dumps(p.overlaps_with).decode(),
                            p.outside_m2,
                            wkb_of(p.credited),
                            wkb_of(p.outside),
                            wkb_of(p.remaining_after),
                            None if p.remaining_after is None else p.remaining_after_m2,
                            wkb_of(p.released_after),
                            *stat.pieces[i][k],
                        )
                    )
            self._executemany(c, ins_hazard, h_rows)
            self._executemany(
                c,
                f"INSERT INTO demine_derived_piece ({', '.join(PIECE_COLS)}) "
                f"VALUES ({', '.join([P] * len(PIECE_COLS))})",
                p_rows,
            )
            n += len(h_rows)
        return n

    def rebuild_derived(self, progress: Progress | None = None) -> int:
        """Recompute every derived row from the records, in one transaction, and mark the
        tables built, telling ``progress`` (hazards done, hazards to do) after each chunk.
        Returns how many hazards have rows."""

        from demine.geo import release_pool as rp

        def body(c: Any) -> int:
            for t in (*DERIVED_BY_HAZARD, "demine_derived_memo"):
                c.execute(f"DELETE FROM {t}")
            ids = [str(r[0]) for r in c.execute(f"SELECT id FROM {q('hazards')}").fetchall()]
            with rp.pooled():  # one pool of worker processes for the accounts, if many
                if len(ids) >= rp.MIN_POOL:
                    rp.warm()
                n = self._derive(c, ids, progress)
            c.execute(f"DELETE FROM demine_derived_state WHERE key = {self.P}", ("built",))
            c.execute(
                f"INSERT INTO demine_derived_state (key, value) VALUES ({self.P}, {self.P})",
                ("built", "yes"),
            )
            return n

        return int(self._transaction("__derived__", body))

    # --- reads --------------------------------------------------------------------------------

    def derived_accounts(self, hazard_ids: Sequence[str] | None = None) -> dict[str, Any] | None:
        """Every hazard's land-release account (:class:`demine.geo.release.Account`, with all
        its releases) from the derived tables, keyed by hazard id in the hazards' order; only
        ``hazard_ids`` when given. None when the tables are not built."""

        from demine.geo.release import Account, Piece

        c = self.conn
        if not self._derived_built(c):
            return None
        cond, args = "", builtins.list[Any]()
        if hazard_ids is not None:
            if not hazard_ids:
                return {}
            cond, args = self._in("hazard_id", builtins.list(hazard_ids))
            cond = " WHERE d." + cond
        pieces: dict[str, builtins.list[Piece]] = {}
        for row in c.execute(
            f"SELECT {', '.join(PIECE_COLS)} FROM demine_derived_piece d{cond} "
            "ORDER BY hazard_id, seq",
            args,
        ).fetchall():
            pieces.setdefault(row[0], []).append(
                Piece(
                    release_id=row[2],
                    release_type=row[3],
                    released_on=row[4],
                    recorded_m2=float(row[5]),
                    credited=geom_of(row[10]),
                    credited_m2=float(row[6]),
                    overlap_m2=float(row[7]),
                    overlaps_with=orjson.loads(row[8]),
                    outside=geom_of(row[11]),
                    outside_m2=float(row[9]),
                    remaining_after=geom_of(row[12]),
                    remaining_after_m2=0.0 if row[13] is None else float(row[13]),
                    released_after=geom_of(row[14]),
                )
            )
        out: dict[str, Any] = {}
        cols = ", ".join(f"d.{x}" for x in HAZARD_COLS)
        rows = c.execute(
            f"SELECT {cols}, {own_geom_sql(self.GEOM_OUT)} FROM demine_derived_hazard d "
            f"JOIN {q('hazards')} h ON h.id = d.hazard_id{cond} ORDER BY h.fid",
            args,
        ).fetchall()
        remaining = on_grid(
            [r[8] for r in rows], [r[9] for r in rows], [r[-1] for r in rows], self._decode
        )
        for row, rem in zip(rows, remaining, strict=True):
            out[row[0]] = Account(
                hazard_m2=float(row[1]),
                pieces=pieces.get(row[0], []),
                released=geom_of(row[7]),
                released_m2=float(row[2]),
                remaining=rem,
                remaining_m2=float(row[3]),
                by_type=orjson.loads(row[4]),
            )
        return out
