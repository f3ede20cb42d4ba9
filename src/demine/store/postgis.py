"""The server backend: PostgreSQL with PostGIS, meeting the same contract as the GeoPackage store.

* All tables live in one schema (``?demine_schema=NAME`` in the URL, default ``demine``); the
  PostGIS extension lives in ``public``.
* Every write is one transaction, serialised per kind with a transaction-scoped advisory lock,
  so two concurrent upserts by ``source_id`` cannot both create the record. Serialization
  failures and deadlocks are retried, never surfaced.
* Values come back exactly as the GeoPackage store returns them (dates as ``YYYY-MM-DD``,
  date-times as :func:`demine.model.schema.format_datetime` strings, geometries as shapely).
"""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import orjson
import psycopg
import psycopg.errors
import shapely
from psycopg.types.json import set_json_loads

from demine.errors import Conflict, DemineError, NoStore, NotFound, StoreFull, StoreUnavailable
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, Record, format_datetime, now_utc
from demine.store.base import Revision, UpsertResult
from demine.store.common import (
    missing_message,
    new_token_id,
    plan_load,
    token_list_query,
    token_list_rows,
    token_state,
    used_long_ago,
)
from demine.store.gpkg import _fields_json, _guard
from demine.store.redact import location_secrets, redact_location, scrub_secrets

SCHEMA_VERSION = 4  # 2: activities, releases, accidents, victims, eore_sessions;
# 3: token ids, expiry and last use, removed users; 4: emplacements laid_earliest
DEFAULT_SCHEMA = "demine"
RETRIES = 8
_META_COLS = ("id", "source_id")
_TAIL_COLS = ("extra", "revision", "created_at", "updated_at", "updated_by")
_GEOM_TYPES = {
    "GEOMETRY",
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
}
_PG_TYPES: dict[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.ENUM: "text",
    FieldType.ENUM_LIST: "text",
    FieldType.UUID: "text",
    FieldType.INTEGER: "bigint",
    FieldType.REAL: "double precision",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.DATETIME: "timestamptz",
}
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
T = TypeVar("T")


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def split_url(url: str) -> tuple[str, str]:
    """(connection URL without ``demine_schema``, schema name)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schema = DEFAULT_SCHEMA
    kept = []
    for k, v in params:
        if k == "demine_schema":
            schema = v or DEFAULT_SCHEMA
        else:
            kept.append((k, v))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def _wkb(geoms: Sequence[Any]) -> builtins.list[bytes | None]:
    """Shapely geometries (None allowed) to ISO WKB (2D, little endian, as ST_AsBinary gives)."""
    if not geoms:
        return []
    arr = np.asarray(list(geoms) + [None], dtype=object)[:-1]  # keep a 1-D object array
    out = shapely.to_wkb(arr, byte_order=1, flavor="iso", output_dimension=2)
    return [None if w is None else bytes(w) for w in out]


def _from_wkb(blobs: Sequence[bytes | None]) -> Any:
    if not blobs:
        return np.empty(0, dtype=object)
    return shapely.from_wkb(np.asarray(list(blobs) + [None], dtype=object)[:-1])


def _text_time(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return format_datetime(v)
    return str(v)


def _json(v: Any) -> str | None:
    return None if v is None else orjson.dumps(v).decode()


class PostGISStore:
    """A demine store in a PostgreSQL/PostGIS database (one schema)."""

    def __init__(self, url: str) -> None:
        self.location = url  # the real URL (to open the store again): never show it
        self.shown = redact_location(url)  # the URL as it may be shown: password masked
        self._secrets = location_secrets(url)
        try:
            self.url, self.schema = split_url(url)
        except ValueError as e:  # e.g. "Invalid IPv6 URL"
            raise DemineError(f"bad store URL {self.shown}: {self._why(e)}") from None
        self._conn: psycopg.Connection[Any] | None = None
        self._kinds: dict[str, Kind] | None = None
        self._checked = False

    # --- connection and transactions ------------------------------------------------------

    def _open(self) -> psycopg.Connection[Any]:
        try:
            # autocommit on the session: reads hold no transaction open between calls; every
            # write is one explicit transaction (BEGIN ... COMMIT) through _tx.
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as e:
            # the driver's text may echo the connection string: only a scrubbed first line
            raise StoreUnavailable(
                f"cannot connect to the demine store at {self.shown}: {self._why(e)}"
            ) from None
        except psycopg.Error as e:  # a malformed URL (unknown option, bad port...)
            raise DemineError(f"bad store URL {self.shown}: {self._why(e)}") from None
        set_json_loads(orjson.loads, conn)
        conn.execute(f"SET search_path TO {q(self.schema)}, public")
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def _why(self, e: BaseException) -> str:
        """A driver error's first line, every password masked."""
        first = (str(e).strip().splitlines() or ["unknown error"])[0]
        return scrub_secrets(first, self._secrets)

    def __repr__(self) -> str:
        return f"PostGISStore({self.shown!r})"

    def _raw(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._open()
            self._checked = False
        return self._conn

    @property
    def conn(self) -> psycopg.Connection[Any]:
        conn = self._raw()
        if not self._checked:
            ok = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name = 'demine_schema'",
                (self.schema,),
            ).fetchone()
            if not ok:
                raise NoStore(
                    f"no demine store at {self.shown} (schema {self.schema}): run "
                    "'demine init' (or pass --db / set DEMINE_DB)"
                )
            row = conn.execute("SELECT max(version) FROM demine_schema").fetchone()
            version = (row[0] if row else 0) or 0
            if version > SCHEMA_VERSION:
                raise DemineError(
                    f"{self.shown} was made by a newer demine (schema {version}; this one "
                    f"knows {SCHEMA_VERSION}): upgrade demine"
                )
            self._checked = True
            if version < SCHEMA_VERSION:
                self.init()
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> PostGISStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(
        self,
        lock: str,
        body: Callable[[psycopg.Connection[Any]], T],
        conn: psycopg.Connection[Any] | None = None,
    ) -> T:
        """Run ``body`` in one transaction holding the advisory lock ``<schema>.<lock>``;
        retried on serialization failures and deadlocks."""
        c = conn or self.conn
        delay = 0.01
        for attempt in range(RETRIES):
            try:
                with c.transaction():
                    c.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema + "." + lock,)
                    )
                    return body(c)
            except _RETRYABLE:
                if attempt == RETRIES - 1:
                    raise DemineError(
                        f"the store {self.shown} stayed busy with other writers; try again"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except psycopg.errors.DiskFull:  # SQLSTATE 53100: the transaction is rolled back
                raise StoreFull("the store's disk is full: nothing was written") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # --- schema -----------------------------------------------------------------------------

    def init(self, *, settings: dict[str, Any] | None = None) -> None:
        """Create the schema and tables (or bring them up to date). Idempotent."""
        conn = self._raw()
        has = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if not has:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
            except psycopg.Error as e:
                raise DemineError(
                    f"PostGIS is not installed in {self.shown} and could not be: {self._why(e)}"
                ) from None

        def body(c: psycopg.Connection[Any]) -> None:
            c.execute(f"CREATE SCHEMA IF NOT EXISTS {q(self.schema)}")
            for ddl in (
                "CREATE TABLE IF NOT EXISTS demine_schema (version integer NOT NULL)",
                "CREATE TABLE IF NOT EXISTS demine_settings (key text PRIMARY KEY, value jsonb)",
                "CREATE TABLE IF NOT EXISTS demine_layers (name text PRIMARY KEY, title text, "
                "geometry_type text, fields jsonb, created_at timestamptz, "
                "seq bigserial)",
                "CREATE TABLE IF NOT EXISTS demine_history (hid bigserial PRIMARY KEY, "
                "record_id text NOT NULL, kind text NOT NULL, revision integer NOT NULL, "
                "op text NOT NULL, at timestamptz NOT NULL, actor text NOT NULL, reason text, "
                "source_id text, properties jsonb, extra jsonb, geom geometry(Geometry, 4326), "
                "UNIQUE (record_id, revision))",
                "CREATE TABLE IF NOT EXISTS demine_users (name text PRIMARY KEY, "
                "role text NOT NULL, created_at timestamptz)",
                "CREATE TABLE IF NOT EXISTS demine_tokens (token_hash text PRIMARY KEY, "
                "user_name text NOT NULL, label text, created_at timestamptz, "
                "revoked boolean NOT NULL DEFAULT false)",
                "CREATE TABLE IF NOT EXISTS demine_versions (kind text PRIMARY KEY, "
                "version bigint NOT NULL)",
                # schema 3: tokens get an id, an expiry and a last use; users can be removed.
                # Tokens made before keep no expiry (valid until revoked) and get an id.
                "ALTER TABLE demine_users ADD COLUMN IF NOT EXISTS removed_at timestamptz",
                "ALTER TABLE demine_tokens ADD COLUMN IF NOT EXISTS token_id text",
                "ALTER TABLE demine_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz",
                "ALTER TABLE demine_tokens ADD COLUMN IF NOT EXISTS last_used_at timestamptz",
                "UPDATE demine_tokens SET token_id = 'tk_' || substr(md5(random()::text || "
                "token_hash), 1, 12) WHERE token_id IS NULL",
                "CREATE UNIQUE INDEX IF NOT EXISTS demine_tokens_token_id "
                "ON demine_tokens (token_id)",
            ):
                c.execute(ddl)
            for kind in KINDS.values():
                self._create_kind_table(c, kind)
            for name, title, gtype, fields in c.execute(
                "SELECT name, title, geometry_type, fields FROM demine_layers ORDER BY seq"
            ).fetchall():
                self._create_kind_table(c, layer_kind(name, _specs(fields), gtype, title))
            row = c.execute("SELECT max(version) FROM demine_schema").fetchone()
            if row is None or row[0] is None:
                c.execute("INSERT INTO demine_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            elif row[0] < SCHEMA_VERSION:  # future migrations go here, one version at a time
                c.execute("UPDATE demine_schema SET version = %s", (SCHEMA_VERSION,))
            for k, v in (settings or {}).items():
                self._set(c, k, v)

        # the schema may not exist yet: search_path names it, so unqualified names resolve
        # once it is created inside the transaction
        self._tx("__schema__", body, conn)
        self._checked = True
        self._kinds = None

    def _create_kind_table(self, c: psycopg.Connection[Any], kind: Kind) -> None:
        t = q(kind.name)
        have = {
            r[0]
            for r in c.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (self.schema, kind.name),
            ).fetchall()
        }
        if have:
            for f in kind.fields:  # forward migration: new fields become new columns
                if f.name not in have:
                    c.execute(f"ALTER TABLE {t} ADD COLUMN {q(f.name)} {_PG_TYPES[f.type]}")
            return
        cols = ["fid bigserial PRIMARY KEY"]
        if kind.geometry_type:
            cols.append(f"geom geometry({_geom_type(kind.geometry_type)}, 4326)")
        cols += ["id text NOT NULL UNIQUE", "source_id text"]
        cols += [f"{q(f.name)} {_PG_TYPES[f.type]}" for f in kind.fields]
        cols += [
            "extra jsonb",
            "revision integer NOT NULL",
            "created_at timestamptz",
            "updated_at timestamptz",
            "updated_by text",
        ]
        c.execute(f"CREATE TABLE {t} ({', '.join(cols)})")
        c.execute(f"CREATE INDEX {q(kind.name + '_source_id')} ON {t} (source_id)")
        if kind.geometry_type:
            c.execute(f"CREATE INDEX {q(kind.name + '_geom')} ON {t} USING gist (geom)")
        if kind.natural_key:
            c.execute(
                f"CREATE UNIQUE INDEX {q(kind.name + '_' + kind.natural_key)} "
                f"ON {t} ({q(kind.natural_key)})"
            )
        c.execute(
            "INSERT INTO demine_versions (kind, version) VALUES (%s, 0) ON CONFLICT DO NOTHING",
            (kind.name,),
        )

    def create_layer(self, kind: Kind) -> None:
        """Create the table of a reference layer (once)."""
        if not kind.is_layer:
            raise ValueError(f"{kind.name} is not a layer")

        def body(c: psycopg.Connection[Any]) -> None:
            if c.execute("SELECT 1 FROM demine_layers WHERE name = %s", (kind.name,)).fetchone():
                return
            self._create_kind_table(c, kind)
            c.execute(
                "INSERT INTO demine_layers (name, title, geometry_type, fields, created_at) "
                "VALUES (%s, %s, %s, %s::jsonb, %s)",
                (kind.name, kind.title, kind.geometry_type, _fields_json(kind.fields), now_utc()),
            )

        self._tx("__schema__", body)
        self._kinds = None

    def kinds(self) -> list[Kind]:
        if self._kinds is None:
            out = dict(KINDS)
            for name, title, gtype, fields in self.conn.execute(
                "SELECT name, title, geometry_type, fields FROM demine_layers ORDER BY seq"
            ).fetchall():
                out[name] = layer_kind(name, _specs(fields), gtype, title)
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

    def setting(self, key: str) -> Any:
        row = self.conn.execute(
            "SELECT value FROM demine_settings WHERE key = %s", (key,)
        ).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _set(c: psycopg.Connection[Any], key: str, value: Any) -> None:
        c.execute(
            "INSERT INTO demine_settings (key, value) VALUES (%s, %s::jsonb) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    def set_setting(self, key: str, value: Any) -> None:
        self._tx("__settings__", lambda c: self._set(c, key, value))

    # --- users and tokens ------------------------------------------------------------------

    def add_user(self, name: str, role: str) -> None:
        """Add a user (or change the role of an existing one; a removed user comes back)."""
        self._tx(
            "__users__",
            lambda c: c.execute(
                "INSERT INTO demine_users (name, role, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, removed_at = NULL",
                (name, role, now_utc()),
            ),
        )

    def users(self) -> builtins.list[tuple[str, str]]:
        """(name, role) of every user not removed."""
        return [
            (n, r)
            for n, r in self.conn.execute(
                "SELECT name, role FROM demine_users WHERE removed_at IS NULL "
                'ORDER BY name COLLATE "C"'
            ).fetchall()
        ]

    def user_rows(self) -> builtins.list[dict[str, Any]]:
        """Every user, removed ones too: name, role, created_at, removed_at."""
        return [
            {"name": n, "role": r, "created_at": _text_time(c), "removed_at": _text_time(x)}
            for n, r, c, x in self.conn.execute(
                "SELECT name, role, created_at, removed_at FROM demine_users "
                'ORDER BY name COLLATE "C"'
            ).fetchall()
        ]

    def remove_user(self, name: str, *, at: str | None = None) -> int:
        """Mark a user removed (the row stays: history names them) and revoke their tokens.
        Returns the number of tokens revoked."""

        def body(c: psycopg.Connection[Any]) -> int:
            row = c.execute(
                "SELECT removed_at FROM demine_users WHERE name = %s", (name,)
            ).fetchone()
            if row is None or row[0] is not None:
                raise NotFound(f"no user {name!r}" + (" (already removed)" if row else ""))
            c.execute(
                "UPDATE demine_users SET removed_at = %s WHERE name = %s", (at or now_utc(), name)
            )
            return c.execute(
                "UPDATE demine_tokens SET revoked = true WHERE user_name = %s AND NOT revoked",
                (name,),
            ).rowcount

        return self._tx("__users__", body)

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

        def body(c: psycopg.Connection[Any]) -> None:
            row = c.execute(
                "SELECT removed_at FROM demine_users WHERE name = %s", (user,)
            ).fetchone()
            if row is None or row[0] is not None:
                raise NotFound(
                    f"no user {user!r}"
                    + (" (removed)" if row else "")
                    + ": add one with 'demine user add'"
                )
            try:
                c.execute(
                    "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, "
                    "token_id, expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    (token_hash, user, label, now_utc(), tid, expires_at),
                )
            except psycopg.IntegrityError as e:
                raise Conflict(f"cannot add the token: {e}") from None

        self._tx("__users__", body)
        return tid

    def token_user(self, token_hash: str) -> tuple[str, str] | None:
        """(user name, role) of a live token (not revoked, not expired, its user not
        removed), or None. Notes the token's last use (at most once an hour)."""
        row = self.conn.execute(
            "SELECT u.name, u.role, t.expires_at, t.last_used_at FROM demine_tokens t "
            "JOIN demine_users u ON u.name = t.user_name "
            "WHERE t.token_hash = %s AND NOT t.revoked AND u.removed_at IS NULL",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        now = datetime.now(UTC)
        if token_state(False, row[2], None, now) != "active":
            return None
        if used_long_ago(row[3], now):
            # best effort: a busy or read-only store still answers
            with contextlib.suppress(psycopg.Error, DemineError):
                self._tx(
                    "__users__",
                    lambda c: c.execute(
                        "UPDATE demine_tokens SET last_used_at = %s WHERE token_hash = %s",
                        (now_utc(), token_hash),
                    ),
                )
        return (row[0], row[1])

    def token_list(self, user: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every token (never the token nor its hash): id, user, role, label, created_at,
        expires_at, last_used_at, state (active, expired, revoked)."""
        sql, args = token_list_query(user, "%s", "token_id")
        return token_list_rows(self.conn.execute(sql, args).fetchall(), _text_time)

    def revoke_token(self, token_id: str) -> bool:
        """Revoke one token by its id; False when it was already revoked."""

        def body(c: psycopg.Connection[Any]) -> bool:
            row = c.execute(
                "SELECT revoked FROM demine_tokens WHERE token_id = %s", (token_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no token {token_id!r}: 'demine token list' shows the ids")
            if row[0]:
                return False
            c.execute("UPDATE demine_tokens SET revoked = true WHERE token_id = %s", (token_id,))
            return True

        return self._tx("__users__", body)

    def revoke_tokens(self, user: str) -> int:
        return self._tx(
            "__users__",
            lambda c: (
                c.execute(
                    "UPDATE demine_tokens SET revoked = true WHERE user_name = %s AND NOT revoked",
                    (user,),
                ).rowcount
            ),
        )

    # --- rows <-> records -----------------------------------------------------------------

    @staticmethod
    def _columns(kind: Kind) -> list[str]:
        return [*_META_COLS, *(f.name for f in kind.fields), *_TAIL_COLS]

    def _select(self, kind: Kind) -> str:
        geom = "ST_AsBinary(geom)" if kind.geometry_type else "NULL::bytea"
        cols = ", ".join(q(c) for c in self._columns(kind))
        return f"SELECT fid, {geom}, {cols} FROM {q(kind.name)}"

    def _row_to_record(self, kind: Kind, row: Sequence[Any], geom: Any) -> Record:
        props: dict[str, Any] = {}
        n = len(kind.fields)
        for f, v in zip(kind.fields, row[4 : 4 + n], strict=True):
            if v is None:
                continue
            t = f.type
            if t is FieldType.DATE:
                v = v.isoformat() if isinstance(v, date) else str(v)
            elif t is FieldType.DATETIME:
                v = _text_time(v)
            elif t is FieldType.BOOLEAN:
                v = bool(v)
            elif t is FieldType.INTEGER:
                v = int(v)
            elif t is FieldType.REAL:
                v = float(v)
            props[f.name] = v
        extra, revision, created, updated, by = row[4 + n :]
        return Record(
            kind=kind.name,
            id=row[2],
            source_id=row[3],
            properties=props,
            geometry=geom,
            revision=revision,
            created_at=_text_time(created),
            updated_at=_text_time(updated),
            updated_by=by,
            extra=dict(extra) if extra else {},
        )

    def _rows_to_records(self, kind: Kind, rows: Sequence[Any]) -> builtins.list[Record]:
        if kind.geometry_type:
            geoms = _from_wkb([None if r[1] is None else bytes(r[1]) for r in rows])
        else:
            geoms = [None] * len(rows)
        return [self._row_to_record(kind, r, g) for r, g in zip(rows, geoms, strict=True)]

    @staticmethod
    def _values(kind: Kind, rec: Record) -> list[Any]:
        get = rec.properties.get
        vals: list[Any] = [rec.id, rec.source_id]
        for f in kind.fields:
            v = get(f.name)
            if v is not None and f.type is FieldType.BOOLEAN:
                v = bool(v)
            vals.append(v)
        vals += [
            _json(rec.extra) if rec.extra else None,
            rec.revision,
            rec.created_at,
            rec.updated_at,
            rec.updated_by,
        ]
        return vals

    def _placeholders(self, kind: Kind) -> tuple[list[str], list[str]]:
        """Column names (geom first, if any) and their SQL placeholders."""
        names = (["geom"] if kind.geometry_type else []) + self._columns(kind)
        ph = []
        types = {f.name: f.type for f in kind.fields}
        for nm in names:
            if nm == "geom":
                ph.append("ST_GeomFromWKB(%s::bytea, 4326)")
            elif nm == "extra":
                ph.append("%s::jsonb")
            elif nm in ("created_at", "updated_at"):
                ph.append("%s::timestamptz")
            elif nm == "revision":
                ph.append("%s::integer")
            elif nm in types:
                ph.append(f"%s::{_PG_TYPES[types[nm]]}")
            else:
                ph.append("%s::text")
        return names, ph

    # --- reads -----------------------------------------------------------------------------

    def get(self, kind: str, record_id: str) -> Record:
        k = self.kind(kind)
        row = self.conn.execute(self._select(k) + " WHERE id = %s", (record_id,)).fetchone()
        if row is None:
            raise NotFound(self._missing(record_id, k.name))
        return self._rows_to_records(k, [row])[0]

    def _missing(self, record_id: str, kind: str | None = None) -> str:
        last = self.conn.execute(
            "SELECT kind, revision, op, at FROM demine_history WHERE record_id = %s "
            "ORDER BY revision DESC LIMIT 1",
            (record_id,),
        ).fetchone()
        if last is None:
            return missing_message(record_id, kind, None)
        return missing_message(
            record_id, kind, (last[0], last[1], last[2], _text_time(last[3]) or "")
        )

    def locate(self, record_id: str) -> Record:
        """The current record with this id, whatever its kind."""
        row = self.conn.execute(
            "SELECT kind FROM demine_history WHERE record_id = %s ORDER BY revision DESC LIMIT 1",
            (record_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no record with id {record_id}")
        return self.get(row[0], record_id)

    def list(
        self,
        kind: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Record]:
        k = self.kind(kind)
        sql = self._select(k)
        args: list[Any] = []
        if bbox is not None and k.geometry_type:
            sql += " WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
            args += [float(b) for b in bbox]
        sql += " ORDER BY fid"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(int(limit))
        if offset:
            sql += " OFFSET %s"
            args.append(int(offset))
        cur = self.conn.execute(sql, args)
        size = 128  # small first: a page of 100 should not decode thousands
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield from self._rows_to_records(k, rows)
            size = min(size * 4, 8192)

    def in_bbox(self, kind: str, bbox: tuple[float, float, float, float]) -> builtins.list[Record]:
        return list(self.list(kind, bbox=bbox))

    def envelopes(
        self, kind: str, bbox: tuple[float, float, float, float]
    ) -> tuple[builtins.list[str], Any]:
        """Ids and lon/lat envelopes (an n × 4 array: minx, miny, maxx, maxy) of the records
        whose envelope meets ``bbox``."""
        k = self.kind(kind)
        if not k.geometry_type:
            return [], np.zeros((0, 4))
        rows = self.conn.execute(
            f"SELECT id, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
            f"FROM {q(k.name)} WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
            "AND NOT ST_IsEmpty(geom) ORDER BY fid",
            [float(b) for b in bbox],
        ).fetchall()
        env = np.array([r[1:] for r in rows], dtype=float).reshape(-1, 4)
        return [r[0] for r in rows], env

    def data_version(self, kind: str) -> str:
        """Changes whenever a record of this kind changes (for caches and ETags)."""
        k = self.kind(kind)
        row = self.conn.execute(
            "SELECT version FROM demine_versions WHERE kind = %s", (k.name,)
        ).fetchone()
        return "" if row is None else str(row[0])

    def get_many(self, kind: str, ids: Sequence[str]) -> builtins.list[Record]:
        """The records with these ids (those that exist), in fid order."""
        k = self.kind(kind)
        ids = [str(i) for i in ids]
        if not ids:
            return []
        rows = self.conn.execute(
            self._select(k) + " WHERE id = ANY(%s) ORDER BY fid", (ids,)
        ).fetchall()
        return self._rows_to_records(k, rows)

    def count(self, kind: str) -> int:
        k = self.kind(kind)
        return int(self.conn.execute(f"SELECT count(*) FROM {q(k.name)}").fetchone()[0])  # type: ignore[index]

    def history(self, record_id: str) -> builtins.list[Revision]:
        rows = self._history_rows(self.conn, record_id)
        return self._revisions(record_id, rows)

    @staticmethod
    def _history_rows(c: psycopg.Connection[Any], record_id: str) -> builtins.list[Any]:
        rows = c.execute(
            "SELECT kind, revision, op, at, actor, reason, source_id, properties, extra, "
            "ST_AsBinary(geom) FROM demine_history WHERE record_id = %s ORDER BY revision",
            (record_id,),
        ).fetchall()
        if not rows:
            raise NotFound(f"no record with id {record_id}")
        return rows

    @staticmethod
    def _revisions(record_id: str, rows: Sequence[Any]) -> builtins.list[Revision]:
        geoms = _from_wkb([None if r[9] is None else bytes(r[9]) for r in rows])
        out = []
        for r, g in zip(rows, geoms, strict=True):
            kind, revision, op, at, actor, reason, source_id, props, extra, _ = r
            at_s = _text_time(at)
            state = None
            if props is not None:
                state = Record(
                    kind=kind,
                    id=record_id,
                    properties=dict(props),
                    geometry=g,
                    source_id=source_id,
                    revision=revision,
                    updated_at=at_s,
                    updated_by=actor,
                    extra=dict(extra) if extra else {},
                )
            out.append(Revision(record_id, kind, revision, op, at_s or "", actor, reason, state))
        return out

    # --- copying whole stores --------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.conn.execute(
                "SELECT key, value FROM demine_settings ORDER BY key"
            ).fetchall()
        }

    def tokens(self) -> builtins.list[dict[str, Any]]:
        """Every token as stored (hash, user, label, created_at, revoked, id, expires_at,
        last_used_at): for copying."""
        return [
            {
                "token_hash": h,
                "user": u,
                "label": lb,
                "created_at": _text_time(c),
                "revoked": bool(r),
                "token_id": i,
                "expires_at": _text_time(e),
                "last_used_at": _text_time(lu),
            }
            for h, u, lb, c, r, i, e, lu in self.conn.execute(
                "SELECT token_hash, user_name, label, created_at, revoked, token_id, expires_at, "
                "last_used_at FROM demine_tokens ORDER BY created_at, token_hash"
            ).fetchall()
        ]

    def load_tokens(self, tokens: Sequence[dict[str, Any]]) -> None:
        def body(c: psycopg.Connection[Any]) -> None:
            for t in tokens:
                c.execute(
                    "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, "
                    "revoked, token_id, expires_at, last_used_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        t["token_hash"],
                        t["user"],
                        t["label"],
                        t["created_at"],
                        t["revoked"],
                        t.get("token_id") or new_token_id(),
                        t.get("expires_at"),
                        t.get("last_used_at"),
                    ),
                )

        self._tx("__users__", body)

    def revisions(self) -> Iterator[Revision]:
        """Every revision of every record, deleted ones included, by record and revision."""
        rows = self.conn.execute(
            "SELECT record_id, kind, revision, op, at, actor, reason, source_id, properties, "
            "extra, ST_AsBinary(geom) FROM demine_history ORDER BY record_id, revision"
        ).fetchall()
        for r in rows:
            yield from self._revisions(r[0], [r[1:]])

    def load_revisions(self, revisions: Sequence[Revision]) -> int:
        """Write whole histories as they are into this store and make each record's last
        state current (none if deleted). For copying a store; one transaction."""
        groups, current = plan_load(revisions)

        def body(c: psycopg.Connection[Any]) -> int:
            ids = list(groups)
            row = c.execute(
                "SELECT record_id FROM demine_history WHERE record_id = ANY(%s) LIMIT 1", (ids,)
            ).fetchone()
            if row:
                raise Conflict(f"this store already has record {row[0]}")
            hist: list[tuple[Any, ...]] = []
            for rid, revs in groups.items():
                for rev in revs:
                    st = rev.state
                    blob = None
                    if st is not None and self.kind(rev.kind).geometry_type:
                        blob = _wkb([st.geometry])[0]
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
                            None if st is None else _json(st.properties),
                            None if st is None or not st.extra else _json(st.extra),
                            blob,
                        )
                    )
            with c.cursor() as cur:
                cur.executemany(self._HISTORY_INSERT, hist)
                for kname, recs in current.items():
                    k = self.kind(kname)
                    names, ph = self._placeholders(k)
                    blobs = _wkb([r.geometry for r in recs]) if k.geometry_type else []
                    rows = [
                        ([blobs[i]] if k.geometry_type else []) + self._values(k, r)
                        for i, r in enumerate(recs)
                    ]
                    cur.executemany(
                        f"INSERT INTO {q(k.name)} ({', '.join(q(n) for n in names)}) "
                        f"VALUES ({', '.join(ph)})",
                        rows,
                    )
                    self._touch(c, k)
            return len(hist)

        return self._tx("__copy__", body)

    # --- writes ----------------------------------------------------------------------------

    @staticmethod
    def _history_row(
        rec: Record, op: str, at: str, actor: str, reason: str | None, blob: bytes | None
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
            None if deleted else _json(rec.properties),
            None if deleted or not rec.extra else _json(rec.extra),
            None if deleted else blob,
        )

    _HISTORY_INSERT = (
        "INSERT INTO demine_history (record_id, kind, revision, op, at, actor, reason, "
        "source_id, properties, extra, geom) VALUES (%s, %s, %s, %s, %s::timestamptz, %s, %s, "
        "%s, %s::jsonb, %s::jsonb, ST_GeomFromWKB(%s::bytea, 4326))"
    )

    @staticmethod
    def _touch(c: psycopg.Connection[Any], kind: Kind) -> None:
        c.execute(
            "INSERT INTO demine_versions (kind, version) VALUES (%s, 1) ON CONFLICT (kind) "
            "DO UPDATE SET version = demine_versions.version + 1",
            (kind.name,),
        )

    @staticmethod
    def _check_foreign_ids(c: psycopg.Connection[Any], k: Kind, ids: builtins.list[str]) -> None:
        """Ids are unique across the store: refuse one that belongs to a record of another kind."""
        if not ids:
            return
        row = c.execute(
            "SELECT record_id, kind FROM demine_history WHERE record_id = ANY(%s) "
            "AND kind <> %s LIMIT 1",
            (ids, k.name),
        ).fetchone()
        if row:
            raise Conflict(
                f"id {row[0]} belongs to a {row[1]} record; a {k.name} record cannot take it"
            )

    def _match(
        self, c: psycopg.Connection[Any], k: Kind, records: Sequence[Record]
    ) -> builtins.list[tuple[int, Record, bytes | None] | None]:
        """For each record, the stored (fid, record, wkb) it matches, or None."""
        t = q(k.name)
        keyname = k.natural_key
        keys = [r.properties.get(keyname) for r in records] if keyname else []

        def lookup(col: str, values: Sequence[Any]) -> dict[Any, int]:
            vals = list(dict.fromkeys(v for v in values if v is not None))
            into: dict[Any, int] = {}
            if vals:
                for v, fid in c.execute(
                    f"SELECT {q(col)}, fid FROM {t} WHERE {q(col)} = ANY(%s) ORDER BY fid",
                    (vals,),
                ).fetchall():
                    into.setdefault(v, fid)
            return into

        by_id = lookup("id", [r.id for r in records])
        by_source = lookup("source_id", [r.source_id for r in records])
        by_key = lookup(keyname, keys) if keyname else {}
        fids: list[int | None] = []
        for i, r in enumerate(records):
            fid = by_id.get(r.id)
            if fid is None and r.source_id is not None:
                fid = by_source.get(r.source_id)
            if fid is None and keyname:
                fid = by_key.get(keys[i])
            fids.append(fid)
        wanted = sorted({f for f in fids if f is not None})
        found: dict[int, tuple[Record, bytes | None]] = {}
        if wanted:
            rows = c.execute(self._select(k) + " WHERE fid = ANY(%s)", (wanted,)).fetchall()
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
        names, ph = self._placeholders(k)
        insert_sql = (
            f"INSERT INTO {q(k.name)} ({', '.join(q(n) for n in names)}) VALUES ({', '.join(ph)})"
        )
        update_sql = (
            f"UPDATE {q(k.name)} SET "
            f"{', '.join(q(n) + ' = ' + p for n, p in zip(names, ph, strict=True))} "
            "WHERE fid = %s"
        )
        blobs = _wkb([r.geometry for r in records]) if k.geometry_type else [None] * len(records)
        given_ids = [r.id for r in records]

        def body(c: psycopg.Connection[Any]) -> UpsertResult:
            for r, rid in zip(records, given_ids, strict=True):  # a retry starts afresh
                r.id = rid
            result = UpsertResult()
            at = now_utc()
            existing = self._match(c, k, records)
            ins_rows: list[list[Any]] = []
            upd_rows: list[list[Any]] = []
            hist_rows: list[tuple[Any, ...]] = []
            seen: set[str] = set()
            for i, (rec, blob) in enumerate(zip(records, blobs, strict=True)):
                old = existing[i]
                geo = [blob] if k.geometry_type else []
                if old is not None:
                    fid, old_rec, old_blob = old
                    rec.id = old_rec.id
                    if rec.id in seen:
                        raise Conflict(f"feature {i}: record {rec.id} appears twice in one batch")
                    seen.add(rec.id)
                    if (
                        old_rec.properties == rec.properties
                        and old_blob == blob
                        and old_rec.source_id == rec.source_id
                        and old_rec.extra == rec.extra
                    ):
                        result.unchanged.append(rec.id)
                        continue
                    _guard(k, old_rec.properties, rec.properties, origin)
                    rec.revision = old_rec.revision + 1
                    rec.created_at = old_rec.created_at
                    rec.updated_at, rec.updated_by = at, actor
                    upd_rows.append([*geo, *self._values(k, rec), fid])
                    hist_rows.append(self._history_row(rec, "update", at, actor, reason, blob))
                    result.updated.append(rec.id)
                else:
                    if rec.id in seen:
                        raise Conflict(f"feature {i}: record {rec.id} appears twice in one batch")
                    seen.add(rec.id)
                    rec.revision = 1
                    rec.created_at = rec.updated_at = at
                    rec.updated_by = actor
                    ins_rows.append([*geo, *self._values(k, rec)])
                    hist_rows.append(self._history_row(rec, "create", at, actor, reason, blob))
                    result.created.append(rec.id)
            try:
                with c.cursor() as cur:
                    if upd_rows:
                        cur.executemany(update_sql, upd_rows)
                    if ins_rows:
                        cur.executemany(insert_sql, ins_rows)
            except psycopg.IntegrityError as e:
                raise Conflict(f"cannot store {k.name}: {_pg_message(e)}") from None
            except psycopg.DataError as e:
                raise Conflict(f"cannot store {k.name}: {_pg_message(e)}") from None
            new_ids = [r.id for r, o in zip(records, existing, strict=True) if o is None]
            self._check_foreign_ids(c, k, new_ids)
            with c.cursor() as cur:
                cur.executemany(self._HISTORY_INSERT, hist_rows)
            if hist_rows:
                self._touch(c, k)
            return result

        return self._tx(k.name, body)

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

        With ``if_revision``, refuse (Conflict) when the stored revision is another one.
        """
        k = self.kind(kind)
        names, ph = self._placeholders(k)
        sql = (
            f"UPDATE {q(k.name)} SET "
            f"{', '.join(q(n) + ' = ' + p for n, p in zip(names, ph, strict=True))} "
            "WHERE fid = %s"
        )

        def body(c: psycopg.Connection[Any]) -> Record:
            row = c.execute(self._select(k) + " WHERE id = %s", (record_id,)).fetchone()
            if row is None:
                raise NotFound(self._missing(record_id, k.name))
            rec = self._rows_to_records(k, [row])[0]
            if if_revision is not None and rec.revision != if_revision:
                raise Conflict(
                    f"{k.name} record {record_id} is at revision {rec.revision}, not "
                    f"{if_revision}: someone changed it since you read it"
                )
            if properties is not None:
                _guard(k, rec.properties, properties, origin)
                rec.properties = dict(properties)
            if extra is not None:
                rec.extra = dict(extra)
            if geometry is not None:
                rec.geometry = geometry
            rec.revision += 1
            rec.updated_at, rec.updated_by = now_utc(), actor
            blob = _wkb([rec.geometry])[0] if k.geometry_type else None
            vals = ([blob] if k.geometry_type else []) + self._values(k, rec)
            try:
                c.execute(sql, [*vals, row[0]])
            except (psycopg.IntegrityError, psycopg.DataError) as e:
                raise Conflict(
                    f"cannot update {k.name} record {record_id}: {_pg_message(e)}"
                ) from None
            c.execute(
                self._HISTORY_INSERT,
                self._history_row(rec, "update", rec.updated_at, actor, reason, blob),
            )
            self._touch(c, k)
            return rec

        return self._tx(k.name, body)

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

        def body(c: psycopg.Connection[Any]) -> Revision:
            row = c.execute(
                f"SELECT fid, id, source_id, revision FROM {q(k.name)} WHERE id = %s",
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
            c.execute(f"DELETE FROM {q(k.name)} WHERE fid = %s", (fid,))
            c.execute(
                self._HISTORY_INSERT, self._history_row(rec, "delete", at, actor, reason, None)
            )
            self._touch(c, k)
            return Revision(record_id, k.name, rec.revision, "delete", at, actor, reason, None)

        return self._tx(k.name, body)

    def restore(
        self, record_id: str, revision: int, *, actor: str, reason: str | None = None
    ) -> Record:
        """Make an earlier revision current again, as a new revision (op ``restore``)."""
        first = self._history_rows(self.conn, record_id)
        k = self.kind(first[0][0])
        names, ph = self._placeholders(k)

        def body(c: psycopg.Connection[Any]) -> Record:
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
            blob = _wkb([rec.geometry])[0] if k.geometry_type else None
            cur = c.execute(
                f"SELECT fid, created_at FROM {q(k.name)} WHERE id = %s", (record_id,)
            ).fetchone()
            if cur is None:
                rec.created_at = _text_time(rows[0][3])
                vals = ([blob] if k.geometry_type else []) + self._values(k, rec)
                sql = (
                    f"INSERT INTO {q(k.name)} ({', '.join(q(n) for n in names)}) "
                    f"VALUES ({', '.join(ph)})"
                )
                args: list[Any] = vals
            else:
                rec.created_at = _text_time(cur[1])
                vals = ([blob] if k.geometry_type else []) + self._values(k, rec)
                sql = (
                    f"UPDATE {q(k.name)} SET "
                    f"{', '.join(q(n) + ' = ' + p for n, p in zip(names, ph, strict=True))} "
                    "WHERE fid = %s"
                )
                args = [*vals, cur[0]]
            try:
                c.execute(sql, args)
            except (psycopg.IntegrityError, psycopg.DataError) as e:
                raise Conflict(f"cannot restore {record_id}: {_pg_message(e)}") from None
            c.execute(
                self._HISTORY_INSERT, self._history_row(rec, "restore", at, actor, reason, blob)
            )
            self._touch(c, k)
            return rec

        return self._tx(k.name, body)


def _geom_type(gtype: str) -> str:
    g = gtype.upper()
    return g if g in _GEOM_TYPES else "GEOMETRY"


def _specs(fields: Any) -> tuple[FieldSpec, ...]:
    data = orjson.loads(fields) if isinstance(fields, (str, bytes)) else fields
    return tuple(FieldSpec(d["name"], FieldType(d["type"]), d.get("description", "")) for d in data)


def _pg_message(e: psycopg.Error) -> str:
    diag = e.diag
    return (diag.message_primary if diag and diag.message_primary else str(e)).strip()
