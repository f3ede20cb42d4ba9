"""The records of the store core: reading the current records (by id, by field filter
``where=``, by bounding box; counts, envelopes, data versions) and writing them (create or
update many with :meth:`Records.upsert`, :meth:`Records.update`, :meth:`Records.delete`).

Every write is one transaction that also adds the record's revision to ``demine_history`` and
moves the kind's data version; the write rules that hold whatever the backend
(:mod:`demine.model.write_rules`) are checked here, once.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from demine.errors import Conflict, NotFound, ValidationError
from demine.model.kinds import Kind
from demine.model.schema import FieldSpec, FieldType, Record, now_utc
from demine.model.write_rules import check_change
from demine.store.base import Revision, UpsertResult, Where
from demine.store.core.dialect import META_COLS, q
from demine.store.core.tables import Tables

# demine field types -> CQL2 queryable types
CQL_TYPES = {
    "integer": "integer",
    "real": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamp",
}


class Records(Tables):
    """Reads and writes of the current records (``builtins.list`` because ``list`` is a
    method here)."""

    # --- reads ------------------------------------------------------------------------------

    def get(self, kind: str, record_id: str) -> Record:
        k = self.kind(kind)
        row = self.conn.execute(self._select(k) + f" WHERE id = {self.P}", (record_id,)).fetchone()
        if row is None:
            raise NotFound(self._missing(record_id, k.name))
        return self._rows_to_records(k, [row])[0]

    def locate(self, record_id: str) -> Record:
        """The current record with this id, whatever its kind."""
        row = self.conn.execute(
            f"SELECT kind FROM demine_history WHERE record_id = {self.P} "
            "ORDER BY revision DESC LIMIT 1",
            (record_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no record with id {record_id}")
        return self.get(row[0], record_id)

    cql_prefilter = True  # tests turn it off to compare the rows with and without it

    def _cql_where(
        self, kind: Kind, cql: Any, conds: builtins.list[str], args: builtins.list[Any]
    ) -> None:
        """Add a CQL2-JSON filter to ``conds``/``args``, in SQL."""
        if cql is None:
            return
        from demine.store.cql_sql import Column, to_sql

        columns = {
            f.name: Column(
                self._full_date_sql(f) if f.partial else q(f.name),
                CQL_TYPES.get(f.type.value, "string"),
            )
            for f in kind.fields
        }
        columns["id"] = Column("id", "string")
        if kind.geometry_type:
            columns["geom"] = columns["geometry"] = Column("geom", "geometry")
        dialect = self._cql_dialect()
        sql, a = to_sql(cql, columns, dialect)
        conds.append(sql)
        args += a
        pre = (
            dialect.prefilter(kind.name, cql) if kind.geometry_type and self.cql_prefilter else None
        )
        if pre is not None:  # e.g. the GeoPackage R-tree, for a spatial filter
            conds.append(pre[0])
            args += pre[1]

    def _full_date_sql(self, f: FieldSpec) -> str:
        """A partial date column as a filter compares it: its full dates (and date-times);
        a year, a year-month or ``unknown`` is NULL there, so a comparison with it is unknown
        (CQL2's three-valued logic): never true, never an error."""
        return f"(CASE WHEN length({q(f.name)}) >= 10 THEN {q(f.name)} END)"

    def _where(
        self, kind: Kind, where: Where | None
    ) -> tuple[builtins.list[str], builtins.list[Any]]:
        """The SQL conditions (and arguments) of a field filter: ``{field: value}`` is
        equality, a list/tuple/set of values is IN, None is IS NULL."""
        conds: builtins.list[str] = []
        args: builtins.list[Any] = []
        if not where:
            return conds, args
        # a partial date column holds text (2019, 2019-05, unknown): compared as text
        types = {f.name: FieldType.TEXT if f.partial else f.type for f in kind.fields}
        for name, value in where.items():
            if name not in types and name not in META_COLS:
                raise ValidationError(
                    f"cannot filter {kind.name} by {name!r}: it has no such field "
                    f"(fields: {', '.join([*META_COLS, *types])})"
                )
            ftype = types.get(name, FieldType.TEXT)
            if value is None:
                conds.append(f"{q(name)} IS NULL")
                continue
            values = (
                builtins.list(value)
                if isinstance(value, (builtins.list, tuple, set, frozenset))
                else [value]
            )
            values = [v for v in values if v is not None]
            if not values:
                conds.append("1 = 0")
                continue
            if any(isinstance(v, (dict, builtins.list)) for v in values):
                raise ValidationError(f"cannot filter {kind.name} by {name!r}: not a plain value")
            sql, a = self._in(name, values, ftype.value)
            conds.append(sql)
            args += a
        return conds, args

    def list(
        self,
        kind: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        where: Where | None = None,
        cql: Any = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Record]:
        k = self.kind(kind)
        conds, args = self._where(k, where)
        self._cql_where(k, cql, conds, args)
        if bbox is not None and k.geometry_type:
            sql_b, args_b = self._bbox_where(k, bbox)
            conds.insert(0, sql_b)
            args[:0] = args_b
        sql = self._select(k)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY fid"
        if limit is not None or offset:
            sql += f" LIMIT {self.P} OFFSET {self.P}"
            args += [self.NO_LIMIT if limit is None else int(limit), int(offset)]
        return self._stream(k, self.conn.execute(sql, args))

    def _stream(self, k: Kind, cur: Any) -> Iterator[Record]:
        size = 128  # small first: a page of 100 should not decode thousands
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield from self._rows_to_records(k, rows)
            size = min(size * 4, 8192)

    def in_bbox(self, kind: str, bbox: tuple[float, float, float, float]) -> builtins.list[Record]:
        return builtins.list(self.list(kind, bbox=bbox))

    def get_many(self, kind: str, ids: Sequence[str]) -> builtins.list[Record]:
        """The records with these ids (those that exist), in fid order."""
        k = self.kind(kind)
        out: builtins.list[Record] = []
        for chunk in self._chunks([str(i) for i in ids]):
            sql, args = self._in("id", chunk)
            rows = self.conn.execute(
                self._select(k) + f" WHERE {sql} ORDER BY fid", args
            ).fetchall()
            out += self._rows_to_records(k, rows)
        return out

    def envelopes(
        self, kind: str, bbox: tuple[float, float, float, float]
    ) -> tuple[builtins.list[str], Any]:
        """Ids and lon/lat envelopes (an n × 4 array: minx, miny, maxx, maxy) of the records
        whose envelope meets ``bbox``."""
        import numpy as np

        k = self.kind(kind)
        if not k.geometry_type:
            return [], np.zeros((0, 4))
        rows = self.conn.execute(*self._envelopes_sql(k, bbox)).fetchall()
        env = np.array([r[1:] for r in rows], dtype=float).reshape(-1, 4)
        return [r[0] for r in rows], env

    def data_version(self, kind: str) -> str:
        """Changes whenever a record of this kind changes (for caches and ETags)."""
        row = self.conn.execute(*self._version_sql(self.kind(kind))).fetchone()
        return "" if row is None else str(row[0])

    def count(self, kind: str, *, where: Where | None = None, cql: Any = None) -> int:
        k = self.kind(kind)
        conds, args = self._where(k, where)
        self._cql_where(k, cql, conds, args)
        sql = f"SELECT count(*) FROM {q(k.name)}"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        return int(self.conn.execute(sql, args).fetchone()[0])

    # --- writes -----------------------------------------------------------------------------

    def _check_foreign_ids(self, c: Any, k: Kind, ids: Sequence[str]) -> None:
        """Ids are unique across the store: refuse one that belongs to a record of another kind."""
        for chunk in self._chunks(ids):
            if not chunk:
                continue
            sql, args = self._in("record_id", chunk)
            row = c.execute(
                f"SELECT record_id, kind FROM demine_history WHERE {sql} AND kind <> {self.P} "
                "LIMIT 1",
                [*args, k.name],
            ).fetchone()
            if row:
                raise Conflict(
                    f"id {row[0]} belongs to a {row[1]} record; a {k.name} record cannot take it"
                )

    def _match(
        self, c: Any, k: Kind, records: Sequence[Record]
    ) -> builtins.list[tuple[int, Record, bytes | None] | None]:
        """For each record, the stored (fid, record, geometry bytes) it matches, or None."""
        t = q(k.name)
        if not c.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]:
            return [None] * len(records)  # a first import: nothing to look up
        keyname = k.natural_key
        keys = [r.properties.get(keyname) for r in records] if keyname else []

        def lookup(col: str, values: Sequence[Any]) -> dict[Any, int]:
            vals = builtins.list(dict.fromkeys(v for v in values if v is not None))
            into: dict[Any, int] = {}
            for chunk in self._chunks(vals):
                if not chunk:
                    continue
                sql, args = self._in(col, chunk)
                for v, fid in c.execute(
                    f"SELECT {q(col)}, fid FROM {t} WHERE {sql} ORDER BY fid", args
                ).fetchall():
                    into.setdefault(v, fid)
            return into

        by_id = lookup("id", [r.id for r in records])
        by_source = lookup("source_id", [r.source_id for r in records])
        by_key = lookup(keyname, keys) if keyname else {}
        fids: builtins.list[int | None] = []
        for i, r in enumerate(records):
            fid = by_id.get(r.id)
            if fid is None and r.source_id is not None:
                fid = by_source.get(r.source_id)
            if fid is None and keyname:
                fid = by_key.get(keys[i])
            fids.append(fid)
        found: dict[int, tuple[Record, bytes | None]] = {}
        for chunk in self._chunks(sorted({f for f in fids if f is not None})):
            if not chunk:
                continue
            sql, args = self._in("fid", chunk)
            rows = c.execute(self._select(k) + f" WHERE {sql}", args).fetchall()
            for row, rec in zip(rows, self._rows_to_records(k, rows), strict=True):
                found[row[0]] = (rec, None if row[1] is None else bytes(row[1]))
        return [None if f is None else (f, *found[f]) for f in fids]

    @staticmethod
    def _changes(
        k: Kind,
        records: Sequence[Record],
        blobs: Sequence[bytes | None],
        existing: Sequence[tuple[int, Record, bytes | None] | None],
        result: UpsertResult,
        at: str,
        actor: str,
        origin: str,
        made_by: Callable[[], str],
    ) -> builtins.list[tuple[int, int | None]]:
        """What an upsert changes, in the records' order: (index, the fid of the stored record
        it updates, or None: a new one), each changed record's id, revision, times and
        organisation set; ``result`` told which are created, updated and unchanged."""
        seen: set[str] = set()
        out: builtins.list[tuple[int, int | None]] = []
        for i, (rec, blob) in enumerate(zip(records, blobs, strict=True)):
            old = existing[i]
            if old is not None:
                rec.id = old[1].id
            if rec.id in seen:
                raise Conflict(f"feature {i}: record {rec.id} appears twice in one batch")
            seen.add(rec.id)
            if old is None:
                rec.revision = 1
                rec.created_at = rec.updated_at = at
                rec.record_organisation = rec.record_organisation or made_by()
                rec.updated_by = actor
                out.append((i, None))
                result.created.append(rec.id)
                continue
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
            out.append((i, fid))
            result.updated.append(rec.id)
        return out

    def upsert(
        self,
        kind: str,
        records: Sequence[Record],
        *,
        actor: str,
        reason: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        origin: str = "user",
        reasons: Sequence[str | None] | None = None,
    ) -> UpsertResult:
        """Create or update many records in one transaction.

        A record matches a stored one by id, else by source_id, else (device types) by its
        natural key. A matched record whose content is the same is left alone (no new
        revision). All or nothing: any error rolls the whole batch back. ``reasons``, one per
        record (or None), is added to ``reason`` in that record's revision (an import's
        repairs). ``progress`` is told (hazards done, hazards to do) as the hazards' derived
        land-release accounts are updated, chunk by chunk (store/core/derived.py).
        """
        k = self.kind(kind)
        if not records:
            return UpsertResult()
        insert_sql, update_sql = self._insert_sql(k), self._update_sql(k)
        blobs = (
            self._encode([r.geometry for r in records])
            if k.geometry_type
            else [None] * len(records)
        )
        given_ids = [r.id for r in records]
        tries: builtins.list[int] = []

        def body(c: Any) -> UpsertResult:
            if tries:  # a retry starts afresh
                for r, rid in zip(records, given_ids, strict=True):
                    r.id = rid
            tries.append(1)
            result = UpsertResult()
            at = now_utc()
            existing = self._match(c, k, records)
            whys = revision_reasons(reason, reasons, len(records))
            org: builtins.list[str] = []  # the actor's organisation, read once

            def made_by() -> str:
                if not org:
                    org.append(self._organisation_of(c, actor))
                return org[0]

            upd_rows: builtins.list[tuple[Any, ...]] = []
            if any(o is not None for o in existing):
                # what changes, in the records' order: (index, fid; None: a new record)
                changes = self._changes(
                    k, records, blobs, existing, result, at, actor, origin, made_by
                )
                new = [i for i, fid in changes if fid is None]
                upd = [(i, fid) for i, fid in changes if fid is not None]
                ins_rows = self._geo_rows(k, [records[i] for i in new], [blobs[i] for i in new])
                rows = self._geo_rows(k, [records[i] for i, _ in upd], [blobs[i] for i, _ in upd])
                upd_rows = [(*row, fid) for row, (_, fid) in zip(rows, upd, strict=True)]
                hist_rows = self._revision_rows(
                    [records[i] for i, _ in changes],
                    ["create" if fid is None else "update" for _, fid in changes],
                    at,
                    actor,
                    [whys[i] for i, _ in changes],
                    [blobs[i] for i, _ in changes],
                )
                new_ids = [records[i].id for i in new]
            else:  # a first import: every record is new, each read once
                check_twice(given_ids)
                ins_rows, hist_rows = self._created_rows(
                    k, records, blobs, whys, at, actor, made_by
                )
                new_ids = result.created = builtins.list(given_ids)
            before = self._derived_before(c, k.name, result.updated)
            try:
                self._executemany(c, update_sql, upd_rows)
                token = self._before_insert(c, k, len(ins_rows))
                self._executemany(c, insert_sql, ins_rows)
                self._after_insert(c, k, ins_rows, token)
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot store {k.name}: {self._db_message(e)}") from None
            self._check_foreign_ids(c, k, new_ids)
            if hist_rows:
                self._executemany(c, self.HISTORY_INSERT, hist_rows)
                self._touch(c, k, at)
            self._derived_after(c, k.name, result.created + result.updated, before, progress)
            return result

        return self._transaction(k.name, body)

    def update(
        self,
        kind: str,
        record_id: str,
        *,
        properties: dict[str, Any] | None = None,
        geometry: Any = None,
        if_revision: int | None = None,
        actor: str,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
        origin: str = "user",
    ) -> Record:
        """Replace a record's properties and/or geometry, as a new revision.

        With ``if_revision``, refuse (Conflict) when the stored revision is another one: the
        caller read an older version, and writing would lose someone else's change.
        """
        k = self.kind(kind)
        sql = self._update_sql(k)

        def body(c: Any) -> Record:
            row = c.execute(self._select(k) + f" WHERE id = {self.P}", (record_id,)).fetchone()
            if row is None:
                raise NotFound(self._missing(record_id, k.name))
            rec = self._rows_to_records(k, [row])[0]
            if if_revision is not None and rec.revision != if_revision:
                raise Conflict(
                    f"{k.name} record {record_id} is at revision {rec.revision}, not "
                    f"{if_revision}: someone changed it since you read it"
                )
            if properties is not None:
                check_change(k.name, rec.properties, properties, origin)
                rec.properties = dict(properties)
            if extra is not None:
                rec.extra = dict(extra)
            if geometry is not None:
                rec.geometry = geometry
            rec.revision += 1
            rec.updated_at, rec.updated_by = now_utc(), actor
            blob = self._encode([rec.geometry])[0] if k.geometry_type else None
            before = self._derived_before(c, k.name, [record_id])
            try:
                c.execute(sql, [*self._geo_values(k, rec, blob), row[0]])
            except self.DB_ERRORS as e:
                raise Conflict(
                    f"cannot update {k.name} record {record_id}: {self._db_message(e)}"
                ) from None
            c.execute(
                self.HISTORY_INSERT,
                self._history_row(rec, "update", rec.updated_at, actor, reason, blob, True),
            )
            self._touch(c, k, rec.updated_at)
            self._derived_after(c, k.name, [record_id], before)
            return rec

        return self._transaction(k.name, body)

    def delete(
        self,
        kind: str,
        record_id: str,
        *,
        if_revision: int | None = None,
        actor: str,
        reason: str | None = None,
    ) -> Revision:
        """Remove a record from its table, keeping its history: the delete is a revision."""
        k = self.kind(kind)
        P = self.P

        def body(c: Any) -> Revision:
            row = c.execute(
                f"SELECT fid, id, source_id, revision FROM {q(k.name)} WHERE id = {P}",
                (record_id,),
            ).fetchone()
            if row is None:
                raise NotFound(self._missing(record_id, k.name))
            fid, rid, source_id, revision = row
            if if_revision is not None and revision != if_revision:
                raise Conflict(
                    f"{k.name} record {record_id} is at revision {revision}, not {if_revision}"
                )
            rec = Record(k.name, rid, {}, None, source_id=source_id, revision=revision + 1)
            at = now_utc()
            before = self._derived_before(c, k.name, [record_id])
            c.execute(f"DELETE FROM {q(k.name)} WHERE fid = {P}", (fid,))
            c.execute(
                self.HISTORY_INSERT, self._history_row(rec, "delete", at, actor, reason, None)
            )
            self._touch(c, k, at)
            self._derived_after(c, k.name, [record_id], before)
            return Revision(record_id, k.name, rec.revision, "delete", at, actor, reason, None)

        return self._transaction(k.name, body)


def check_twice(ids: Sequence[str]) -> None:
    """Refuse a batch of new records that gives one id twice."""
    if len(set(ids)) == len(ids):
        return
    seen: set[str] = set()
    for i, rid in enumerate(ids):
        if rid in seen:
            raise Conflict(f"feature {i}: record {rid} appears twice in one batch")
        seen.add(rid)


def revision_reasons(
    reason: str | None, reasons: Sequence[str | None] | None, n: int
) -> list[str | None]:
    """The reason of each of ``n`` revisions: ``reason``, and its own one (an import's repairs)
    after it when it has one."""
    if reasons is None:
        return [reason] * n
    own = [reasons[i] for i in range(n)]
    if reason:
        return [f"{reason}; {x}" if x else reason for x in own]
    return [x or reason for x in own]
