"""What every concern of the store core shares above the dialect hooks: the kinds (and
reference layers) and settings, a kind's rows as records and back, and the history row that
each write adds (see :mod:`.records` and :mod:`.history`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from demine.errors import NotFound
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, Record, now_utc
from demine.store.common import missing_message
from demine.store.core.dialect import AUTHORITY, META_COLS, ORG_COL, TAIL_COLS, Dialect, q, to_json
from demine.store.core.rows import (
    created_rows,
    field_values,
    history_rows,
    layout,
    record_rows,
)


def fields_json(fields: Sequence[FieldSpec]) -> str:
    """A layer's fields as stored in ``demine_layers.fields``."""
    return orjson.dumps(
        [{"name": f.name, "type": f.type.value, "description": f.description} for f in fields]
    ).decode()


def fields_from_json(fields: Any) -> tuple[FieldSpec, ...]:
    """The fields of ``demine_layers.fields`` (JSON text, or already decoded)."""
    data = orjson.loads(fields) if isinstance(fields, (str, bytes)) else fields
    return tuple(FieldSpec(d["name"], FieldType(d["type"]), d.get("description", "")) for d in data)


class Tables(Dialect):
    """Kinds, settings and the row encoding, written once over the dialect hooks."""

    _kinds: dict[str, Kind] | None

    # --- kinds and settings -----------------------------------------------------------------

    def kinds(self) -> list[Kind]:
        if self._kinds is None:
            out = dict(KINDS)
            for name, title, gtype, fields in self.conn.execute(
                "SELECT name, title, geometry_type, fields FROM demine_layers "
                f"ORDER BY {self.LAYER_ORDER}"
            ).fetchall():
                out[name] = layer_kind(name, fields_from_json(fields), gtype, title)
            self._kinds = out
        return list(self._kinds.values())

    def kind(self, name: str) -> Kind:
        if name.startswith("layer:"):
            name = name[len("layer:") :]
        for k in self.kinds():
            if k.name == name:
                return k
        raise NotFound(
            f"no kind or layer named {name!r}; there are: "
            + ", ".join(k.name for k in self.kinds())
        )

    def create_layer(self, kind: Kind) -> None:
        """Create the table of a reference layer (once)."""
        if not kind.is_layer:
            raise ValueError(f"{kind.name} is not a layer")
        P = self.P

        def body(c: Any) -> None:
            if c.execute(f"SELECT 1 FROM demine_layers WHERE name = {P}", (kind.name,)).fetchone():
                return
            self._create_kind_table(c, kind)
            c.execute(
                "INSERT INTO demine_layers (name, title, geometry_type, fields, created_at) "
                f"VALUES ({P}, {P}, {P}, {self.JSON_IN}, {P})",
                (kind.name, kind.title, kind.geometry_type, fields_json(kind.fields), now_utc()),
            )

        self._transaction("__schema__", body)
        self._kinds = None

    # hooks of the derived tables (store/core/derived.py overrides them): every write of
    # records calls _derived_before before it changes them and _derived_after after, in its
    # transaction
    def _derived_before(self, c: Any, kind: str, ids: Sequence[str]) -> set[str] | None:
        return None

    def _derived_after(
        self,
        c: Any,
        kind: str,
        ids: Sequence[str],
        before: set[str] | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        return None

    def _hazards_of(self, c: Any, kind: str, ids: Sequence[str]) -> set[str]:
        return set()

    def setting(self, key: str) -> Any:
        row = self.conn.execute(
            f"SELECT value FROM demine_settings WHERE key = {self.P}", (key,)
        ).fetchone()
        return None if row is None or row[0] is None else self._from_json(row[0])

    def _set(self, c: Any, key: str, value: Any) -> None:
        c.execute(
            f"INSERT INTO demine_settings (key, value) VALUES ({self.P}, {self.JSON_IN}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    def set_setting(self, key: str, value: Any) -> None:
        self._transaction("__settings__", lambda c: self._set(c, key, value))

    def settings(self) -> dict[str, Any]:
        return {
            k: (None if v is None else self._from_json(v))
            for k, v in self.conn.execute(
                "SELECT key, value FROM demine_settings ORDER BY key"
            ).fetchall()
        }

    # --- rows <-> records -------------------------------------------------------------------

    @staticmethod
    def _columns(kind: Kind) -> list[str]:
        return [*META_COLS, *(f.name for f in kind.fields), *TAIL_COLS]

    def _select(self, kind: Kind) -> str:
        geom = self.GEOM_OUT if kind.geometry_type else self.NO_GEOM
        cols = ", ".join(q(c) for c in self._columns(kind))
        return f"SELECT fid, {geom}, {cols} FROM {q(kind.name)}"

    def _rows_to_records(self, kind: Kind, rows: Sequence[Any]) -> list[Record]:
        """Rows of :meth:`_select` as records (geometries decoded together)."""
        geoms = self._decode([r[1] for r in rows]) if kind.geometry_type else [None] * len(rows)
        n = 4 + len(kind.fields)
        tt, fj, props, name = self._time_text, self._from_json, self._props, kind.name
        out = []
        for r, g in zip(rows, geoms, strict=True):
            extra, revision, created, updated, by, org = r[n:]
            out.append(
                Record(
                    kind=name,
                    id=r[2],
                    source_id=r[3],
                    properties=props(kind, r[4:n]),
                    geometry=g,
                    revision=revision,
                    created_at=tt(created),
                    updated_at=tt(updated),
                    updated_by=by,
                    extra=fj(extra) if extra else {},
                    record_organisation=org,
                )
            )
        return out

    def _field_values(self, kind: Kind, rec: Record) -> list[Any]:
        """A record's field values as the driver binds them, in ``kind.fields`` order."""
        return field_values(rec.properties, *layout(kind, self._field_fix))

    def _values(self, kind: Kind, rec: Record) -> list[Any]:
        """A record's column values (:meth:`_columns` order) as the driver binds them."""
        return [
            rec.id,
            rec.source_id,
            *self._field_values(kind, rec),
            to_json(rec.extra) if rec.extra else None,
            rec.revision,
            rec.created_at,
            rec.updated_at,
            rec.updated_by,
            rec.record_organisation,
        ]

    def _geo_values(self, kind: Kind, rec: Record, blob: bytes | None) -> list[Any]:
        return ([blob] if kind.geometry_type else []) + self._values(kind, rec)

    def _geo_rows(
        self, kind: Kind, recs: Sequence[Record], blobs: Sequence[bytes | None]
    ) -> list[tuple[Any, ...]]:
        """The rows of many records, as :meth:`_geo_values` gives each (built in bulk)."""
        names, fixes = layout(kind, self._field_fix)
        return record_rows(recs, blobs if kind.geometry_type else None, names, fixes)

    def _created_rows(
        self,
        kind: Kind,
        recs: Sequence[Record],
        blobs: Sequence[bytes | None],
        whys: Sequence[str | None],
        at: str,
        actor: str,
        made_by: Callable[[], str],
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """New records set as created, with their rows and history rows, as :meth:`_geo_rows`
        and :meth:`_revision_rows` give them (in one pass: :func:`.rows.created_rows`)."""
        names, fixes = layout(kind, self._field_fix)
        geo = blobs if kind.geometry_type else None
        return created_rows(recs, geo, whys, names, fixes, at, actor, made_by)

    def _insert_sql(self, kind: Kind) -> str:
        names, ph = self._placeholders(kind)
        return (
            f"INSERT INTO {q(kind.name)} ({', '.join(q(n) for n in names)}) "
            f"VALUES ({', '.join(ph)})"
        )

    def _update_sql(self, kind: Kind) -> str:
        names, ph = self._placeholders(kind)
        sets = ", ".join(q(n) + " = " + p for n, p in zip(names, ph, strict=True))
        return f"UPDATE {q(kind.name)} SET {sets} WHERE fid = {self.P}"

    # --- the organisation that made a record -----------------------------------------------

    def _organisation_of(self, c: Any, actor: str) -> str:
        """The organisation of a writer (services.submitting.organisation_of, read in the
        write's transaction): the user's, or the authority for a name the store does not know
        (a local user at the command line)."""
        row = c.execute(
            f"SELECT organisation FROM demine_users WHERE name = {self.P}", (actor,)
        ).fetchone()
        return str(row[0]) if row is not None and row[0] else AUTHORITY

    def _fill_record_organisations(self, c: Any, kind: Kind) -> None:
        """Schema step (GeoPackage 7, PostGIS 6): the records made before the column get the
        organisation of the actor of their first revision, else the authority. Idempotent
        (only empty values are filled)."""
        P = self.P
        c.execute(
            f"UPDATE {q(kind.name)} SET {ORG_COL} = COALESCE((SELECT u.organisation FROM "
            "demine_history h LEFT JOIN demine_users u ON u.name = h.actor "
            f"WHERE h.record_id = {q(kind.name)}.id ORDER BY h.revision LIMIT 1), {P}) "
            f"WHERE {ORG_COL} IS NULL",
            (AUTHORITY,),
        )

    # --- the history every write adds, and what it tells of a missing record ----------------

    def _missing(self, record_id: str, kind: str | None = None) -> str:
        last = self.conn.execute(
            f"SELECT kind, revision, op, at FROM demine_history WHERE record_id = {self.P} "
            "ORDER BY revision DESC LIMIT 1",
            (record_id,),
        ).fetchone()
        if last is None:
            return missing_message(record_id, kind, None)
        at = self._time_text(last[3]) or ""
        return missing_message(record_id, kind, (last[0], last[1], last[2], at))

    def _history_row(
        self,
        rec: Record,
        op: str,
        at: str,
        actor: str,
        reason: str | None,
        blob: bytes | None,
        shared: bool = False,
    ) -> tuple[Any, ...]:
        """The ``demine_history`` row of a revision. ``shared``: the revision's geometry is
        the one its record's row holds now, so the row keeps no copy of it (copy on write:
        triggers on the record's table copy it in before the record's geometry changes or
        the record goes: :func:`demine.store.common.history_guard_ddl`)."""
        deleted = op == "delete"
        shared = shared and not deleted and blob is not None
        return (
            rec.id,
            rec.kind,
            rec.revision,
            op,
            at,
            actor,
            reason,
            rec.source_id,
            None if deleted else to_json(rec.properties),
            None if deleted or not rec.extra else to_json(rec.extra),
            None if deleted or shared else blob,
            True if shared else None,
        )

    @staticmethod
    def _revision_rows(
        recs: Sequence[Record],
        ops: Sequence[str],
        at: str,
        actor: str,
        whys: Sequence[str | None],
        blobs: Sequence[bytes | None],
    ) -> list[tuple[Any, ...]]:
        """The ``demine_history`` rows of many creates and updates, as :meth:`_history_row`
        gives each with ``shared`` (built in bulk)."""
        return history_rows(recs, ops, at, actor, whys, blobs)

    def _shared_geometries(self, c: Any, kind: str, ids: Sequence[str]) -> dict[str, Any]:
        """The current geometries (as :attr:`GEOM_OUT` selects them) of these records, by id:
        what their history rows that share it hold."""
        t = q(self.kind(kind).name)
        out: dict[str, Any] = {}
        for chunk in self._chunks(list(dict.fromkeys(ids))):
            if not chunk:
                continue
            sql, args = self._in("id", chunk)
            out.update(c.execute(f"SELECT id, {self.GEOM_OUT} FROM {t} WHERE {sql}", args))
        return out
