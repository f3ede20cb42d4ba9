"""The revisioned-store core: everything the SQL backends do alike, written once.

A backend (:mod:`demine.store.gpkg`, :mod:`demine.store.postgis`) subclasses
:class:`RevisionedStore` and supplies only what its dialect does differently:

* the connection (``conn``) and one write transaction (``_transaction``): SQLite's
  ``BEGIN IMMEDIATE`` with a busy wait, PostgreSQL's advisory lock with retries;
* the schema (``init``, ``_create_kind_table``) and how a kind's data version moves (``_touch``);
* placeholders (``P``, ``_placeholders``, ``_in``), geometry encoding (``_encode``, ``_decode``,
  ``GEOM_OUT``), value conversion (``_props``, ``_field_values``, ``_time_text``,
  ``_from_json``), ordering tie-breaks, and the driver's constraint errors;
* spatial reads that use the backend's own index (``_bbox_where``, ``envelopes``).

Every record keeps its whole history in ``demine_history`` (one row a revision: the state after
the change, who, when, why); a delete is a revision with no state; restore copies an old state
into a new revision. The write rules that hold whatever the backend (see
:mod:`demine.model.write_rules`) are checked here, once.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import orjson

from demine.errors import Conflict, DemineError, NotFound, ValidationError
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, Record, now_utc
from demine.model.write_rules import check_change
from demine.store.base import Revision, UpsertResult, Where
from demine.store.common import (
    missing_message,
    new_token_id,
    plan_load,
    token_list_query,
    token_list_rows,
    token_state,
    used_long_ago,
)

T = TypeVar("T")
META_COLS = ("id", "source_id")
TAIL_COLS = ("extra", "revision", "created_at", "updated_at", "updated_by")
HISTORY_COLS = (
    "record_id, kind, revision, op, at, actor, reason, source_id, properties, extra, geom"
)


def q(name: str) -> str:
    """A quoted SQL identifier (the same in SQLite and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def to_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def fields_json(fields: Sequence[FieldSpec]) -> str:
    """A layer's fields as stored in ``demine_layers.fields``."""
    return orjson.dumps(
        [{"name": f.name, "type": f.type.value, "description": f.description} for f in fields]
    ).decode()


def fields_from_json(fields: Any) -> tuple[FieldSpec, ...]:
    """The fields of ``demine_layers.fields`` (JSON text, or already decoded)."""
    data = orjson.loads(fields) if isinstance(fields, (str, bytes)) else fields
    return tuple(FieldSpec(d["name"], FieldType(d["type"]), d.get("description", "")) for d in data)


class RevisionedStore:
    """The shared body of a SQL store with per-record history. Not a store by itself: a
    backend fills in the dialect hooks below (each says what it must do)."""

    location: str
    _kinds: dict[str, Kind] | None

    # --- dialect: SQL text ------------------------------------------------------------------
    P: ClassVar[str]  # the driver's placeholder: ? or %s
    JSON_IN: ClassVar[str]  # the placeholder of a JSON value
    GEOM_OUT: ClassVar[str]  # how a geometry column is selected (as the bytes _decode takes)
    NO_GEOM: ClassVar[str]  # the same for a kind without geometry
    HISTORY_INSERT: ClassVar[str]  # INSERT INTO demine_history (HISTORY_COLS) VALUES (...)
    NO_LIMIT: ClassVar[Any]  # the LIMIT argument meaning "no limit"
    LAYER_ORDER: ClassVar[str]  # the demine_layers column giving creation order
    BY_NAME: ClassVar[str]  # ORDER BY text for user names (byte order)
    TOKEN_TIEBREAK: ClassVar[str]  # orders tokens created at the same time
    TOKENS_ORDER: ClassVar[str]  # the ORDER BY of tokens() (for copying)
    DB_ERRORS: ClassVar[tuple[type[BaseException], ...]]  # constraint/data errors -> Conflict
    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]]  # any error of the driver

    # --- dialect: hooks ---------------------------------------------------------------------

    @property
    def conn(self) -> Any:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def _transaction(self, lock: str, body: Callable[[Any], T]) -> T:
        """Run ``body(connection)`` in one write transaction (``lock`` names what it
        serialises; a backend may run ``body`` again after a retryable failure)."""
        raise NotImplementedError

    def _create_kind_table(self, c: Any, kind: Kind) -> None:
        raise NotImplementedError

    def _touch(self, c: Any, kind: Kind, at: str) -> None:
        """Move the kind's data version (and whatever the backend keeps with it)."""
        raise NotImplementedError

    def _encode(self, geoms: Sequence[Any]) -> builtins.list[bytes | None]:
        raise NotImplementedError

    def _decode(self, blobs: Sequence[Any]) -> Any:
        raise NotImplementedError

    def _time_text(self, value: Any) -> Any:
        """A stored time as the contract's text."""
        return value

    def _from_json(self, value: Any) -> Any:
        """A stored JSON value as Python."""
        return orjson.loads(value)

    def _props(self, kind: Kind, values: Sequence[Any]) -> dict[str, Any]:
        """The properties of a row's field columns (None left out)."""
        raise NotImplementedError

    def _field_values(self, kind: Kind, rec: Record) -> builtins.list[Any]:
        """A record's field values as the driver binds them, in ``kind.fields`` order."""
        raise NotImplementedError

    def _placeholders(self, kind: Kind) -> tuple[builtins.list[str], builtins.list[str]]:
        """Column names written (geom first, if any) and their placeholders."""
        raise NotImplementedError

    def _in(
        self, col: str, values: Sequence[Any], sqltype: str | None = None
    ) -> tuple[str, builtins.list[Any]]:
        """``col`` is one of ``values`` (at most one chunk of them): SQL and arguments.
        ``sqltype`` is the column's field type, for dialects that cast."""
        raise NotImplementedError

    def _chunks(self, values: Sequence[Any]) -> Iterator[Sequence[Any]]:
        """``values`` in pieces small enough for :meth:`_in`."""
        yield values

    def _bbox_where(self, kind: Kind, bbox: tuple[float, float, float, float]) -> tuple[str, Any]:
        """SQL (and arguments) keeping the rows whose envelope meets ``bbox``."""
        raise NotImplementedError

    def _envelopes_sql(
        self, kind: Kind, bbox: tuple[float, float, float, float]
    ) -> tuple[str, builtins.list[Any]]:
        """SQL selecting (id, minx, miny, maxx, maxy) of the non-empty geometries whose
        envelope meets ``bbox``, from the spatial index where it can."""
        raise NotImplementedError

    def _version_sql(self, kind: Kind) -> tuple[str, builtins.list[Any]]:
        """SQL selecting one value that changes whenever a record of ``kind`` changes."""
        raise NotImplementedError

    def _executemany(self, c: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            c.executemany(sql, rows)

    def _db_message(self, e: BaseException) -> str:
        return str(e)

    def _before_insert(self, c: Any, kind: Kind, n: int) -> Any:
        """Called before ``n`` new rows of ``kind`` are inserted (e.g. for a bulk load)."""
        return None

    def _after_insert(self, c: Any, kind: Kind, rows: Sequence[Sequence[Any]], token: Any) -> None:
        """Called after the rows are inserted, with what :meth:`_before_insert` returned."""

    # --- kinds and settings -----------------------------------------------------------------

    def kinds(self) -> builtins.list[Kind]:
        if self._kinds is None:
            out = dict(KINDS)
            for name, title, gtype, fields in self.conn.execute(
                "SELECT name, title, geometry_type, fields FROM demine_layers "
                f"ORDER BY {self.LAYER_ORDER}"
            ).fetchall():
                out[name] = layer_kind(name, fields_from_json(fields), gtype, title)
            self._kinds = out
        return builtins.list(self._kinds.values())

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

    # --- users and tokens -------------------------------------------------------------------

    def add_user(self, name: str, role: str) -> None:
        """Add a user (or change the role of an existing one; a removed user comes back)."""
        P = self.P
        self._transaction(
            "__users__",
            lambda c: c.execute(
                f"INSERT INTO demine_users (name, role, created_at) VALUES ({P}, {P}, {P}) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, removed_at = NULL",
                (name, role, now_utc()),
            ),
        )

    def users(self) -> builtins.list[tuple[str, str]]:
        """(name, role) of every user not removed."""
        return [
            (n, r)
            for n, r in self.conn.execute(
                f"SELECT name, role FROM demine_users WHERE removed_at IS NULL ORDER BY "
                f"{self.BY_NAME}"
            ).fetchall()
        ]

    def user_rows(self) -> builtins.list[dict[str, Any]]:
        """Every user, removed ones too: name, role, created_at, removed_at."""
        tt = self._time_text
        return [
            {"name": n, "role": r, "created_at": tt(c), "removed_at": tt(x)}
            for n, r, c, x in self.conn.execute(
                f"SELECT name, role, created_at, removed_at FROM demine_users ORDER BY "
                f"{self.BY_NAME}"
            ).fetchall()
        ]

    def _live_user(self, c: Any, name: str, removed: str, hint: str = "") -> None:
        row = c.execute(
            f"SELECT removed_at FROM demine_users WHERE name = {self.P}", (name,)
        ).fetchone()
        if row is None or row[0] is not None:
            raise NotFound(f"no user {name!r}" + (removed if row else "") + hint)

    def remove_user(self, name: str, *, at: str | None = None) -> int:
        """Mark a user removed (the row stays: history names them) and revoke their tokens.
        Returns the number of tokens revoked."""
        P = self.P

        def body(c: Any) -> int:
            self._live_user(c, name, " (already removed)")
            c.execute(
                f"UPDATE demine_users SET removed_at = {P} WHERE name = {P}",
                (at or now_utc(), name),
            )
            return int(
                c.execute(
                    f"UPDATE demine_tokens SET revoked = {P} WHERE user_name = {P} AND NOT revoked",
                    (True, name),
                ).rowcount
            )

        return self._transaction("__users__", body)

    def add_token(
        self,
        user: str,
        token_hash: str,
        label: str | None = None,
        *,
        expires_at: str | None = None,
    ) -> str:
        """Store a token's hash for ``user``; returns the token's id."""
        tid = new_token_id()
        P = self.P

        def body(c: Any) -> None:
            self._live_user(c, user, " (removed)", ": add one with 'demine user add'")
            try:
                c.execute(
                    "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, "
                    f"token_id, expires_at) VALUES ({P}, {P}, {P}, {P}, {P}, {P})",
                    (token_hash, user, label, now_utc(), tid, expires_at),
                )
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot add the token: {self._db_message(e)}") from None

        self._transaction("__users__", body)
        return tid

    def token_user(self, token_hash: str) -> tuple[str, str] | None:
        """(user name, role) of a live token (not revoked, not expired, its user not
        removed), or None. Notes the token's last use (at most once an hour)."""
        P = self.P
        row = self.conn.execute(
            "SELECT u.name, u.role, t.expires_at, t.last_used_at FROM demine_tokens t "
            "JOIN demine_users u ON u.name = t.user_name "
            f"WHERE t.token_hash = {P} AND NOT t.revoked AND u.removed_at IS NULL",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        now = datetime.now(UTC)
        if token_state(False, row[2], None, now) != "active":
            return None
        if used_long_ago(row[3], now):
            errors: tuple[type[BaseException], ...] = (*self.DRIVER_ERRORS, DemineError)
            with contextlib.suppress(*errors):  # best effort: a busy or read-only store answers
                self._transaction(
                    "__users__",
                    lambda c: c.execute(
                        f"UPDATE demine_tokens SET last_used_at = {P} WHERE token_hash = {P}",
                        (now_utc(), token_hash),
                    ),
                )
        return (row[0], row[1])

    def token_list(self, user: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every token (never the token nor its hash): id, user, role, label, created_at,
        expires_at, last_used_at, state (active, expired, revoked)."""
        sql, args = token_list_query(user, self.P, self.TOKEN_TIEBREAK)
        return token_list_rows(self.conn.execute(sql, args).fetchall(), self._time_text)

    def revoke_token(self, token_id: str) -> bool:
        """Revoke one token by its id; False when it was already revoked."""
        P = self.P

        def body(c: Any) -> bool:
            row = c.execute(
                f"SELECT revoked FROM demine_tokens WHERE token_id = {P}", (token_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no token {token_id!r}: 'demine token list' shows the ids")
            if row[0]:
                return False
            c.execute(
                f"UPDATE demine_tokens SET revoked = {P} WHERE token_id = {P}", (True, token_id)
            )
            return True

        return self._transaction("__users__", body)

    def revoke_tokens(self, user: str) -> int:
        P = self.P
        return self._transaction(
            "__users__",
            lambda c: int(
                c.execute(
                    f"UPDATE demine_tokens SET revoked = {P} WHERE user_name = {P} AND NOT revoked",
                    (True, user),
                ).rowcount
            ),
        )

    def tokens(self) -> builtins.list[dict[str, Any]]:
        """Every token as stored (hash, user, label, created_at, revoked, id, expires_at,
        last_used_at): for copying."""
        tt = self._time_text
        return [
            {
                "token_hash": h,
                "user": u,
                "label": lb,
                "created_at": tt(c),
                "revoked": bool(r),
                "token_id": i,
                "expires_at": tt(e),
                "last_used_at": tt(lu),
            }
            for h, u, lb, c, r, i, e, lu in self.conn.execute(
                "SELECT token_hash, user_name, label, created_at, revoked, token_id, expires_at, "
                f"last_used_at FROM demine_tokens ORDER BY {self.TOKENS_ORDER}"
            ).fetchall()
        ]

    def load_tokens(self, tokens: Sequence[dict[str, Any]]) -> None:
        ph = ", ".join([self.P] * 8)
        rows = [
            (
                t["token_hash"],
                t["user"],
                t["label"],
                t["created_at"],
                bool(t["revoked"]),
                t.get("token_id") or new_token_id(),
                t.get("expires_at"),
                t.get("last_used_at"),
            )
            for t in tokens
        ]
        self._transaction(
            "__users__",
            lambda c: self._executemany(
                c,
                "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, revoked, "
                f"token_id, expires_at, last_used_at) VALUES ({ph})",
                rows,
            ),
        )

    # --- rows <-> records -------------------------------------------------------------------

    @staticmethod
    def _columns(kind: Kind) -> builtins.list[str]:
        return [*META_COLS, *(f.name for f in kind.fields), *TAIL_COLS]

    def _select(self, kind: Kind) -> str:
        geom = self.GEOM_OUT if kind.geometry_type else self.NO_GEOM
        cols = ", ".join(q(c) for c in self._columns(kind))
        return f"SELECT fid, {geom}, {cols} FROM {q(kind.name)}"

    def _rows_to_records(self, kind: Kind, rows: Sequence[Any]) -> builtins.list[Record]:
        """Rows of :meth:`_select` as records (geometries decoded together)."""
        geoms = self._decode([r[1] for r in rows]) if kind.geometry_type else [None] * len(rows)
        n = 4 + len(kind.fields)
        tt, fj, props, name = self._time_text, self._from_json, self._props, kind.name
        out = []
        for r, g in zip(rows, geoms, strict=True):
            extra, revision, created, updated, by = r[n:]
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
                )
            )
        return out

    def _values(self, kind: Kind, rec: Record) -> builtins.list[Any]:
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
        ]

    def _geo_values(self, kind: Kind, rec: Record, blob: bytes | None) -> builtins.list[Any]:
        return ([blob] if kind.geometry_type else []) + self._values(kind, rec)

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

    # --- reads ------------------------------------------------------------------------------

    def get(self, kind: str, record_id: str) -> Record:
        k = self.kind(kind)
        row = self.conn.execute(self._select(k) + f" WHERE id = {self.P}", (record_id,)).fetchone()
        if row is None:
            raise NotFound(self._missing(record_id, k.name))
        return self._rows_to_records(k, [row])[0]

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

    def _where(
        self, kind: Kind, where: Where | None
    ) -> tuple[builtins.list[str], builtins.list[Any]]:
        """The SQL conditions (and arguments) of a field filter: ``{field: value}`` is
        equality, a list/tuple/set of values is IN, None is IS NULL."""
        conds: builtins.list[str] = []
        args: builtins.list[Any] = []
        if not where:
            return conds, args
        types = {f.name: f.type for f in kind.fields}
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
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Record]:
        k = self.kind(kind)
        conds, args = self._where(k, where)
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

    def count(self, kind: str, *, where: Where | None = None) -> int:
        k = self.kind(kind)
        conds, args = self._where(k, where)
        sql = f"SELECT count(*) FROM {q(k.name)}"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        return int(self.conn.execute(sql, args).fetchone()[0])

    def history(self, record_id: str) -> builtins.list[Revision]:
        rows = self._history_rows(self.conn, record_id)
        return self._revisions(record_id, rows)

    def _history_rows(self, c: Any, record_id: str) -> builtins.list[Any]:
        geom = self.GEOM_OUT
        rows = c.execute(
            "SELECT kind, revision, op, at, actor, reason, source_id, properties, extra, "
            f"{geom} FROM demine_history WHERE record_id = {self.P} ORDER BY revision",
            (record_id,),
        ).fetchall()
        if not rows:
            raise NotFound(f"no record with id {record_id}")
        return builtins.list(rows)

    def _revisions(self, record_id: str, rows: Sequence[Any]) -> builtins.list[Revision]:
        """Rows of :meth:`_history_rows` as revisions."""
        geoms = self._decode([r[9] for r in rows])
        tt, fj = self._time_text, self._from_json
        out = []
        for r, g in zip(rows, geoms, strict=True):
            kind, revision, op, at, actor, reason, source_id, props, extra, _ = r
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
            f"extra, {self.GEOM_OUT} FROM demine_history ORDER BY record_id, revision"
        )
        while True:
            rows = cur.fetchmany(2000)
            if not rows:
                return
            for r in rows:
                yield from self._revisions(r[0], [r[1:]])

    # --- writes -----------------------------------------------------------------------------

    def _history_row(
        self, rec: Record, op: str, at: str, actor: str, reason: str | None, blob: bytes | None
    ) -> tuple[Any, ...]:
        deleted = op == "delete"
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
            None if deleted else blob,
        )

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

    def upsert(
        self,
        kind: str,
        records: Sequence[Record],
        *,
        actor: str,
        reason: str | None = None,
        progress: Any = None,
        origin: str = "user",
    ) -> UpsertResult:
        """Create or update many records in one transaction.

        A record matches a stored one by id, else by source_id, else (device types) by its
        natural key. A matched record whose content is the same is left alone (no new
        revision). All or nothing: any error rolls the whole batch back.
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

        def body(c: Any) -> UpsertResult:
            for r, rid in zip(records, given_ids, strict=True):  # a retry starts afresh
                r.id = rid
            result = UpsertResult()
            at = now_utc()
            existing = self._match(c, k, records)
            ins_rows: builtins.list[builtins.list[Any]] = []
            upd_rows: builtins.list[builtins.list[Any]] = []
            hist_rows: builtins.list[tuple[Any, ...]] = []
            seen: set[str] = set()
            for i, (rec, blob) in enumerate(zip(records, blobs, strict=True)):
                old = existing[i]
                if old is not None:
                    rec.id = old[1].id
                if rec.id in seen:
                    raise Conflict(f"feature {i}: record {rec.id} appears twice in one batch")
                seen.add(rec.id)
                if old is not None:
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
                    rec.updated_at, rec.updated_by = at, actor
                    upd_rows.append([*self._geo_values(k, rec, blob), fid])
                    hist_rows.append(self._history_row(rec, "update", at, actor, reason, blob))
                    result.updated.append(rec.id)
                else:
                    rec.revision = 1
                    rec.created_at = rec.updated_at = at
                    rec.updated_by = actor
                    ins_rows.append(self._geo_values(k, rec, blob))
                    hist_rows.append(self._history_row(rec, "create", at, actor, reason, blob))
                    result.created.append(rec.id)
            try:
                self._executemany(c, update_sql, upd_rows)
                token = self._before_insert(c, k, len(ins_rows))
                self._executemany(c, insert_sql, ins_rows)
                self._after_insert(c, k, ins_rows, token)
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot store {k.name}: {self._db_message(e)}") from None
            new_ids = [r.id for r, o in zip(records, existing, strict=True) if o is None]
            self._check_foreign_ids(c, k, new_ids)
            if hist_rows:
                self._executemany(c, self.HISTORY_INSERT, hist_rows)
                self._touch(c, k, at)
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
            try:
                c.execute(sql, [*self._geo_values(k, rec, blob), row[0]])
            except self.DB_ERRORS as e:
                raise Conflict(
                    f"cannot update {k.name} record {record_id}: {self._db_message(e)}"
                ) from None
            c.execute(
                self.HISTORY_INSERT,
                self._history_row(rec, "update", rec.updated_at, actor, reason, blob),
            )
            self._touch(c, k, rec.updated_at)
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
            c.execute(f"DELETE FROM {q(k.name)} WHERE fid = {P}", (fid,))
            c.execute(
                self.HISTORY_INSERT, self._history_row(rec, "delete", at, actor, reason, None)
            )
            self._touch(c, k, at)
            return Revision(record_id, k.name, rec.revision, "delete", at, actor, reason, None)

        return self._transaction(k.name, body)

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
                f"SELECT fid, created_at FROM {q(k.name)} WHERE id = {self.P}", (record_id,)
            ).fetchone()
            if cur is None:
                rec.created_at = self._time_text(rows[0][3])
                sql, args = self._insert_sql(k), self._geo_values(k, rec, blob)
            else:
                rec.created_at = self._time_text(cur[1])
                sql, args = self._update_sql(k), [*self._geo_values(k, rec, blob), cur[0]]
            try:
                c.execute(sql, args)
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot restore {record_id}: {self._db_message(e)}") from None
            c.execute(
                self.HISTORY_INSERT, self._history_row(rec, "restore", at, actor, reason, blob)
            )
            self._touch(c, k, at)
            return rec

        return self._transaction(k.name, body)

    def load_revisions(self, revisions: Sequence[Revision]) -> int:
        """Write whole histories as they are (times, actors, reasons, revision numbers) into
        this store, and make each record's last state current (none if it was deleted). For
        copying a store; refuses ids this store already has. One transaction."""
        groups, current = plan_load(revisions)

        def body(c: Any) -> int:
            for chunk in self._chunks(builtins.list(groups)):
                if not chunk:
                    continue
                sql, args = self._in("record_id", chunk)
                row = c.execute(
                    f"SELECT record_id FROM demine_history WHERE {sql} LIMIT 1", args
                ).fetchone()
                if row:
                    raise Conflict(f"this store already has record {row[0]}")
            hist: builtins.list[tuple[Any, ...]] = []
            for rid, revs in groups.items():
                for rev in revs:
                    st = rev.state
                    blob = None
                    if st is not None and self.kind(rev.kind).geometry_type:
                        blob = self._encode([st.geometry])[0]
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
                            blob,
                        )
                    )
            self._executemany(c, self.HISTORY_INSERT, hist)
            for kname, recs in current.items():
                k = self.kind(kname)
                blobs = self._encode([r.geometry for r in recs]) if k.geometry_type else []
                rows = [
                    self._geo_values(k, r, blobs[i] if k.geometry_type else None)
                    for i, r in enumerate(recs)
                ]
                self._executemany(c, self._insert_sql(k), rows)
                self._touch(c, k, now_utc())
            return len(hist)

        return self._transaction("__copy__", body)
