"""The history of the store core: every record keeps its whole history in ``demine_history``
(one row a revision: the state after the change, who, when, why; a delete is a revision with
no state). Read it (:meth:`History.history`, :meth:`History.revisions`), make an old state
current again (:meth:`History.restore`, itself a new revision), or write whole histories as
they are when copying a store (:meth:`History.load_revisions`).

Copy on write: a revision whose geometry is the one its record's row holds now keeps no copy of
it (``geom`` NULL, ``geom_shared`` true), so an import writes each geometry once; triggers on
the record's table copy it into the row before that geometry changes or the record goes
(:func:`demine.store.common.history_guard_ddl`), and every reader here fills it in from the
record's row (:meth:`History._fill_shared`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from demine.errors import Conflict, NotFound
from demine.model.schema import Record, now_utc
from demine.store.base import Revision
from demine.store.common import plan_load
from demine.store.core.dialect import ORG_COL, q, to_json
from demine.store.core.tables import Tables


class History(Tables):
    """Reading the revisions of records, restoring one, and loading whole histories."""

    # --- reads ------------------------------------------------------------------------------

    def history(self, record_id: str) -> list[Revision]:
        rows = self._history_rows(self.conn, record_id)
        return self._revisions(record_id, rows)

    def _history_rows(self, c: Any, record_id: str) -> list[Any]:
        geom = self.GEOM_OUT
        rows = c.execute(
            "SELECT kind, revision, op, at, actor, reason, source_id, properties, extra, "
            f"{geom}, geom_shared FROM demine_history WHERE record_id = {self.P} "
            "ORDER BY revision",
            (record_id,),
        ).fetchall()
        if not rows:
            raise NotFound(f"no record with id {record_id}")
        return self._fill_shared(c, rows, [record_id] * len(rows), [r[0] for r in rows])

    def _fill_shared(
        self, c: Any, rows: Sequence[Any], ids: Sequence[str], kinds: Sequence[str]
    ) -> list[Any]:
        """History rows (ending with geom, geom_shared) with the geometry of a row that shares
        its record's current one read from the record's row: every reader sees a revision's
        geometry whether the row keeps a copy or not."""
        need: dict[str, list[str]] = {}
        for r, rid, kind in zip(rows, ids, kinds, strict=True):
            if r[-1] and r[-2] is None:
                need.setdefault(kind, []).append(rid)
        if not need:
            return list(rows)
        geoms: dict[str, Any] = {}
        for kind, kind_ids in need.items():
            geoms.update(self._shared_geometries(c, kind, kind_ids))
        return [
            (*r[:-2], geoms.get(rid), None) if r[-1] and r[-2] is None else r
            for r, rid in zip(rows, ids, strict=True)
        ]

    def _revisions(self, record_id: str, rows: Sequence[Any]) -> list[Revision]:
        """Rows of :meth:`_history_rows` as revisions."""
        geoms = self._decode([r[9] for r in rows])  # rows of _fill_shared
        tt, fj = self._time_text, self._from_json
        out = []
        for r, g in zip(rows, geoms, strict=True):
            kind, revision, op, at, actor, reason, source_id, props, extra = r[:9]
            at_s = tt(at) or ""
            state = None
            if props is not None:
                state = Record(
                    kind=kind,
                    id=record_id,
                    properties=dict(fj(props)),
                    geometry=g,
                    source_id=source_id,
                    revision=revision,
                    updated_at=at_s,
                    updated_by=actor,
                    extra=dict(fj(extra)) if extra else {},
                )
            out.append(Revision(record_id, kind, revision, op, at_s, actor, reason, state))
        return out

    def revisions(self) -> Iterator[Revision]:
        """Every revision of every record, deleted ones included, by record and revision."""
        cur = self.conn.execute(
            "SELECT record_id, kind, revision, op, at, actor, reason, source_id, properties, "
            f"extra, {self.GEOM_OUT}, geom_shared FROM demine_history "
            "ORDER BY record_id, revision"
        )
        while True:
            rows = cur.fetchmany(2000)
            if not rows:
                return
            rows = self._fill_shared(self.conn, rows, [r[0] for r in rows], [r[1] for r in rows])
            for r in rows:
                yield from self._revisions(r[0], [r[1:]])

    # --- writes -----------------------------------------------------------------------------

    def restore(
        self, record_id: str, revision: int, *, actor: str, reason: str | None = None
    ) -> Record:
        """Make an earlier revision current again, as a new revision (op ``restore``)."""
        k = self.kind(self._history_rows(self.conn, record_id)[0][0])

        def body(c: Any) -> Record:
            rows = self._history_rows(c, record_id)
            chosen = [r for r in rows if r[1] == revision]
            if not chosen:
                raise NotFound(
                    f"record {record_id} has no revision {revision}; it has 1 to {rows[-1][1]}"
                )
            old = self._revisions(record_id, chosen)[0]
            if old.state is None:
                raise Conflict(
                    f"revision {revision} of {record_id} is its deletion; choose an earlier one"
                )
            rec = old.state
            rec.revision = rows[-1][1] + 1
            at = now_utc()
            rec.updated_at, rec.updated_by = at, actor
            blob = self._encode([rec.geometry])[0] if k.geometry_type else None
            cur = c.execute(
                f"SELECT fid, created_at, {ORG_COL} FROM {q(k.name)} WHERE id = {self.P}",
                (record_id,),
            ).fetchone()
            if cur is None:  # a deleted record: made by its first revision's organisation
                rec.created_at = self._time_text(rows[0][3])
                rec.record_organisation = self._organisation_of(c, rows[0][4])
                sql, args = self._insert_sql(k), self._geo_values(k, rec, blob)
            else:
                rec.created_at = self._time_text(cur[1])
                rec.record_organisation = cur[2] or self._organisation_of(c, rows[0][4])
                sql, args = self._update_sql(k), [*self._geo_values(k, rec, blob), cur[0]]
            before = self._derived_before(c, k.name, [record_id])
            try:
                c.execute(sql, args)
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot restore {record_id}: {self._db_message(e)}") from None
            c.execute(
                self.HISTORY_INSERT,
                self._history_row(rec, "restore", at, actor, reason, blob, True),
            )
            self._touch(c, k, at)
            self._derived_after(c, k.name, [record_id], before)
            return rec

        return self._transaction(k.name, body)

    def load_revisions(
        self,
        revisions: Sequence[Revision],
        organisations: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Write whole histories as they are (times, actors, reasons, revision numbers) into
        this store, and make each record's last state current (none if it was deleted). For
        copying a store; refuses ids this store already has. One transaction.
        ``organisations``: the organisation that made each current record, by id (one not
        given: its first revision's actor's, as the schema step fills it). ``progress`` is
        told (hazards done, hazards to do) as their land-release accounts are computed, once
        before the first chunk and after each (see :mod:`demine.store.core.derived`)."""
        groups, current = plan_load(revisions)
        made = dict(organisations or {})

        def body(c: Any) -> int:
            for chunk in self._chunks(list(groups)):
                if not chunk:
                    continue
                sql, args = self._in("record_id", chunk)
                row = c.execute(
                    f"SELECT record_id FROM demine_history WHERE {sql} LIMIT 1", args
                ).fetchone()
                if row:
                    raise Conflict(f"this store already has record {row[0]}")
            hist: list[tuple[Any, ...]] = []
            for rid, revs in groups.items():
                for rev in revs:
                    st = rev.state
                    blob = None
                    if st is not None and self.kind(rev.kind).geometry_type:
                        blob = self._encode([st.geometry])[0]
                    # the last state of a live record is its row's: kept there only
                    shared = st is not None and blob is not None and rev is revs[-1]
                    hist.append(
                        (
                            rid,
                            rev.kind,
                            rev.revision,
                            rev.op,
                            rev.at,
                            rev.actor,
                            rev.reason,
                            None if st is None else st.source_id,
                            None if st is None else to_json(st.properties),
                            None if st is None or not st.extra else to_json(st.extra),
                            None if shared else blob,
                            True if shared else None,
                        )
                    )
            self._executemany(c, self.HISTORY_INSERT, hist)
            kept = self._derived_before(c, "hazards", [])  # None: no derived rows to keep up
            touched: set[str] = set()  # the hazards whose derived rows are made at the end
            for kname, recs in current.items():
                k = self.kind(kname)
                for r in recs:
                    r.record_organisation = made.get(r.id) or self._organisation_of(
                        c, groups[r.id][0].actor
                    )
                blobs = self._encode([r.geometry for r in recs]) if k.geometry_type else []
                rows = [
                    self._geo_values(k, r, blobs[i] if k.geometry_type else None)
                    for i, r in enumerate(recs)
                ]
                self._executemany(c, self._insert_sql(k), rows)
                self._touch(c, k, now_utc())
                if kept is not None and kname in ("hazards", "releases", "activities"):
                    touched |= self._hazards_of(c, kname, [r.id for r in recs])
            self._derived_after(c, "hazards", [], None if kept is None else touched, progress)
            return len(hist)

        return self._transaction("__copy__", body)
