"""The server backend: PostgreSQL with PostGIS, meeting the same contract as the GeoPackage store.

* All tables live in one schema (``?demine_schema=NAME`` in the URL, default ``demine``); the
  PostGIS extension lives in ``public``.
* Every write is one transaction, serialised per kind with a transaction-scoped advisory lock,
  so two concurrent upserts by ``source_id`` cannot both create the record. Serialization
  failures and deadlocks are retried, never surfaced.
* Records, history, users and tokens are read and written by the shared core
  (:mod:`demine.store.core`); this module holds only what PostgreSQL does its own way.
* Values come back exactly as the GeoPackage store returns them (dates as ``YYYY-MM-DD``,
  date-times as :func:`demine.model.schema.format_datetime` strings, geometries as shapely).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import orjson
import psycopg
import psycopg.errors
import shapely
from psycopg.types.json import set_json_loads

from demine.errors import DemineError, NoStore, StoreFull, StoreUnavailable
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, format_datetime
from demine.store.common import history_guard_ddl, relation_index_ddl
from demine.store.core import HISTORY_COLS, RevisionedStore, fields_from_json, q
from demine.store.core.derived_stats import ZONAL_UNNEST
from demine.store.core.dialect import ORG_COL
from demine.store.redact import location_secrets, redact_location, scrub_secrets

SCHEMA_VERSION = 13  # 2: activities, releases, accidents, victims, eore_sessions;
# 3: token ids, expiry and last use, removed users; 4: emplacements laid_earliest;
# 5: partial dates (text columns, see _partial_columns); 6: organisations, submissions;
# attachments (demine_attachments); record_organisation on every record table;
# 7: submissions' client_id and conflict, resumable uploads (store/core/sync.py);
# 8: an index on every relationship field (store/common.py relation_index_ddl);
# 9: demine_history.geom_shared (a revision's geometry kept once, in its record's row);
# 10: the derived tables (store/core/derived.py); 11: their statistics figures and the
# zonal table by hazard (store/core/derived_stats.py); 12: the statistics' memo; 13: a hazard
# with nothing released is its own polygon and area in the derived tables (derived_schema.
# DEFINITION: rows of before are marked not built)
DEFAULT_SCHEMA = "demine"
RETRIES = 8
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


def _pg_type(f: FieldSpec) -> str:
    """A field's column type: a date that may be partial is text (``2019``, ``2019-05``,
    ``unknown`` or the full ISO date or date-time), checked by :func:`_partial_check`."""
    return "text" if f.partial else _PG_TYPES[f.type]


def _partial_check(table: str, f: FieldSpec) -> str:
    """The CHECK constraint of a partial date column: the shapes demine writes, nothing else
    (SIMILAR TO matches the whole value)."""
    shapes = ["[0-9]{4}", "[0-9]{4}-[0-9]{2}", "[0-9]{4}-[0-9]{2}-[0-9]{2}"]
    if f.type is FieldType.DATETIME:
        shapes.append("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z")
    if f.unknown:
        shapes.append("unknown")
    return (
        f"CONSTRAINT {q(table + '_' + f.name + '_partial')} CHECK "
        f"({q(f.name)} SIMILAR TO '{'|'.join(shapes)}')"
    )


def _partial_text(f: FieldSpec, v: Any) -> Any:
    """A full date-time in a partial date column as a timestamptz column made it: UTC, ``Z``
    (a record written past validation may hold ``+02:00``); partial values as they are."""
    if isinstance(v, datetime):
        return format_datetime(v)
    if f.type is FieldType.DATETIME and isinstance(v, str) and len(v) > 10:
        try:
            return format_datetime(datetime.fromisoformat(v.replace("Z", "+00:00")))
        except ValueError:
            return v  # the column's CHECK names it
    if isinstance(v, date):
        return v.isoformat()
    return v


_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
T = TypeVar("T")


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


class PostGISStore(RevisionedStore):
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
                "ALTER TABLE demine_history ADD COLUMN IF NOT EXISTS geom_shared boolean",
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
                # schema 6: attachments (the columns of store/core/attachments.py)
                "CREATE TABLE IF NOT EXISTS demine_attachments (id bigserial PRIMARY KEY, "
                "attachment_id text NOT NULL UNIQUE, owner_kind text NOT NULL, "
                "owner_id text NOT NULL, filename text NOT NULL, content_type text NOT NULL, "
                "size bigint NOT NULL, sha256 text NOT NULL, exif_lat double precision, "
                "exif_lon double precision, exif_time text, created_by text NOT NULL, "
                "created_at timestamptz NOT NULL, data bytea NOT NULL, public_data bytea)",
                "CREATE INDEX IF NOT EXISTS demine_attachments_owner "
                "ON demine_attachments (owner_kind, owner_id)",
            ):
                c.execute(ddl)
            self._intake_schema(c, self._create_plain_table)
            self._merge_schema(c, self._create_plain_table)
            self._sync_schema(c, self._create_plain_table)
            for kind in KINDS.values():
                self._create_kind_table(c, kind)
            for name, title, gtype, fields in c.execute(
                "SELECT name, title, geometry_type, fields FROM demine_layers ORDER BY seq"
            ).fetchall():
                self._create_kind_table(c, layer_kind(name, fields_from_json(fields), gtype, title))
            self._derived_schema(c, self._create_plain_table)
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

    @staticmethod
    def _create_plain_table(c: psycopg.Connection[Any], name: str, _: str, cols: str) -> None:
        c.execute(f"CREATE TABLE IF NOT EXISTS {q(name)} (fid bigserial PRIMARY KEY, {cols})")

    def _ensure_column(self, c: Any, table: str, column: str, sqltype: str) -> None:
        c.execute(f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(column)} {sqltype}")

    def _partial_columns(self, c: psycopg.Connection[Any], kind: Kind) -> None:
        """Schema 5: a date field that takes partial dates is a text column (ISO text, as the
        GeoPackage holds it); a store made before holds date/timestamptz: converted in place,
        each value to the text demine writes (format_datetime: seconds, or milliseconds)."""
        types = dict(
            c.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (self.schema, kind.name),
            ).fetchall()
        )
        for f in kind.fields:
            if not f.partial or types.get(f.name) in (None, "text"):
                continue
            col = q(f.name)
            if f.type is FieldType.DATE:
                using = f"to_char({col}, 'YYYY-MM-DD')"
            else:
                utc = f"({col} AT TIME ZONE 'UTC')"
                using = (
                    f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
                    f"to_char({utc}, 'MS') = '000' THEN '' ELSE '.' || to_char({utc}, 'MS') "
                    "END || 'Z'"
                )
            c.execute(f"ALTER TABLE {q(kind.name)} ALTER COLUMN {col} TYPE text USING {using}")
        checks = {
            r[0]
            for r in c.execute(
                "SELECT constraint_name FROM information_schema.table_constraints "
                "WHERE table_schema = %s AND table_name = %s AND constraint_type = 'CHECK'",
                (self.schema, kind.name),
            ).fetchall()
        }
        for f in kind.fields:
            if f.partial and f"{kind.name}_{f.name}_partial" not in checks:
                c.execute(f"ALTER TABLE {q(kind.name)} ADD {_partial_check(kind.name, f)}")

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
                    c.execute(f"ALTER TABLE {t} ADD COLUMN {q(f.name)} {_pg_type(f)}")
            self._partial_columns(c, kind)
            if ORG_COL not in have:  # schema 6: the organisation that made each record
                c.execute(f"ALTER TABLE {t} ADD COLUMN {ORG_COL} text")
                self._fill_record_organisations(c, kind)
            # schema 8: relationship fields indexed; 9: history kept on write (triggers)
            for ddl in [*relation_index_ddl(kind), *history_guard_ddl(kind, self.schema)]:
                c.execute(ddl)
            return
        cols = ["fid bigserial PRIMARY KEY"]
        if kind.geometry_type:
            cols.append(f"geom geometry({_geom_type(kind.geometry_type)}, 4326)")
        cols += ["id text NOT NULL UNIQUE", "source_id text"]
        cols += [f"{q(f.name)} {_pg_type(f)}" for f in kind.fields]
        cols += [
            "extra jsonb",
            "revision integer NOT NULL",
            "created_at timestamptz",
            "updated_at timestamptz",
            "updated_by text",
            f"{ORG_COL} text",
        ]
        c.execute(f"CREATE TABLE {t} ({', '.join(cols)})")
        self._partial_columns(c, kind)
        c.execute(f"CREATE INDEX {q(kind.name + '_source_id')} ON {t} (source_id)")
        for ddl in [*relation_index_ddl(kind), *history_guard_ddl(kind, self.schema)]:
            c.execute(ddl)
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

    # --- dialect ----------------------------------------------------------------------------

    P = "%s"
    JSON_IN = "%s::jsonb"
    TIME_TYPE = "timestamptz"
    JSON_TYPE = "jsonb"
    BLOB_TYPE = "bytea"
    GEOM_OUT = "ST_AsBinary(geom)"
    NO_GEOM = "NULL::bytea"
    HISTORY_INSERT = (
        f"INSERT INTO demine_history ({HISTORY_COLS}) VALUES (%s, %s, %s, %s, %s::timestamptz, "
        "%s, %s, %s, %s::jsonb, %s::jsonb, ST_GeomFromWKB(%s::bytea, 4326), %s)"
    )
    NO_LIMIT = None  # LIMIT NULL: no limit
    LAYER_ORDER = "seq"
    BY_NAME = 'name COLLATE "C"'
    TOKEN_TIEBREAK = "token_id"
    TOKENS_ORDER = "created_at, token_hash"
    DB_ERRORS = (psycopg.IntegrityError, psycopg.DataError)
    DRIVER_ERRORS = (psycopg.Error,)

    def _transaction(self, lock: str, body: Callable[[psycopg.Connection[Any]], T]) -> T:
        if self._atomic_depth:  # inside atomically(): a savepoint of its one transaction,
            c = self.conn  # never retried alone (the outer transaction is, as a whole)
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema + "." + lock,))
                return body(c)
        return self._tx(lock, body)

    def _encode(self, geoms: Sequence[Any]) -> builtins.list[bytes | None]:
        return _wkb(geoms)

    def _full_date_sql(self, f: FieldSpec) -> str:
        cast = "date" if f.type is FieldType.DATE else "timestamptz"
        return f"(CASE WHEN length({q(f.name)}) >= 10 THEN CAST({q(f.name)} AS {cast}) END)"

    def _cql_dialect(self) -> Any:
        from demine.store.cql_postgis import PostgisDialect

        return PostgisDialect()

    def _decode(self, blobs: Sequence[Any]) -> Any:
        return _from_wkb([None if b is None else bytes(b) for b in blobs])

    def _time_text(self, value: Any) -> Any:
        return _text_time(value)

    def _from_json(self, value: Any) -> Any:
        return value  # psycopg decodes jsonb (with orjson, see _open)

    def _props(self, kind: Kind, values: Sequence[Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f, v in zip(kind.fields, values, strict=True):
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
        return props

    @staticmethod
    def _field_fix(f: FieldSpec) -> Callable[[Any], Any] | None:
        if f.type is FieldType.BOOLEAN:
            return bool
        return partial(_partial_text, f) if f.partial else None

    def _placeholders(self, kind: Kind) -> tuple[list[str], list[str]]:
        """Column names (geom first, if any) and their SQL placeholders."""
        names = (["geom"] if kind.geometry_type else []) + self._columns(kind)
        ph = []
        specs = {f.name: f for f in kind.fields}
        for nm in names:
            if nm == "geom":
                ph.append("ST_GeomFromWKB(%s::bytea, 4326)")
            elif nm == "extra":
                ph.append("%s::jsonb")
            elif nm in ("created_at", "updated_at"):
                ph.append("%s::timestamptz")
            elif nm == "revision":
                ph.append("%s::integer")
            elif nm in specs:
                ph.append(f"%s::{_pg_type(specs[nm])}")
            else:
                ph.append("%s::text")
        return names, ph

    def _in(
        self, col: str, values: Sequence[Any], sqltype: str | None = None
    ) -> tuple[str, builtins.list[Any]]:
        cast = f"::{_PG_TYPES[FieldType(sqltype)]}[]" if sqltype else ""
        return f"{q(col)} = ANY(%s{cast})", [builtins.list(values)]

    def _bbox_where(self, kind: Kind, bbox: tuple[float, float, float, float]) -> tuple[str, Any]:
        return "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", [float(b) for b in bbox]

    def _executemany(self, c: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with c.cursor() as cur:
                cur.executemany(sql, rows)

    def _zonal_insert(self, c: Any, ins: str, layer: str, layer_hash: str, rows: Any) -> None:
        """The rows upserted in one statement (their columns as arrays; a key's last kept)."""
        last = {(r[0], r[2]): r for r in rows}  # (hazard id, what): once in one statement
        cols = [builtins.list(col) for col in zip(*last.values(), strict=True)]
        c.execute(ZONAL_UNNEST, [layer, layer_hash, *cols])

    def _db_message(self, e: BaseException) -> str:
        return _pg_message(e) if isinstance(e, psycopg.Error) else str(e)

    # --- what only PostGIS does ---------------------------------------------------------------

    def _envelopes_sql(
        self, kind: Kind, bbox: tuple[float, float, float, float]
    ) -> tuple[str, builtins.list[Any]]:
        return (
            f"SELECT id, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
            f"FROM {q(kind.name)} WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
            "AND NOT ST_IsEmpty(geom) ORDER BY fid",
            [float(b) for b in bbox],
        )

    def _version_sql(self, kind: Kind) -> tuple[str, builtins.list[Any]]:
        return "SELECT version FROM demine_versions WHERE kind = %s", [kind.name]

    def _touch(self, c: psycopg.Connection[Any], kind: Kind, at: str) -> None:
        c.execute(
            "INSERT INTO demine_versions (kind, version) VALUES (%s, 1) ON CONFLICT (kind) "
            "DO UPDATE SET version = demine_versions.version + 1",
            (kind.name,),
        )


def _geom_type(gtype: str) -> str:
    g = gtype.upper()
    return g if g in _GEOM_TYPES else "GEOMETRY"


def _pg_message(e: psycopg.Error) -> str:
    diag = e.diag
    return (diag.message_primary if diag and diag.message_primary else str(e)).strip()
