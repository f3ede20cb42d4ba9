"""The embedded backend: one OGC GeoPackage file that QGIS and GDAL open as it is.

* Each record kind is a feature table (``hazards``, ``emplacements``, ``finds``, ``eo_reports``),
  or an attributes table (``device_types``), with the R-tree spatial index extension.
* Every change is one SQLite transaction, taken with ``BEGIN IMMEDIATE`` so that two writers
  queue instead of deadlocking; a busy store is waited for, never reported as "locked".
* Records, history, users and tokens are read and written by the shared core
  (:mod:`demine.store.core`); this module holds only what SQLite and the GeoPackage format do
  their own way: the file, its transactions, its schema, its R-tree spatial index.
"""

from __future__ import annotations

import builtins
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import orjson

from demine.errors import DemineError, NoStore, StoreFull
from demine.files import create_private
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType
from demine.store import gpkg_format as fmt
from demine.store.common import (
    history_guard_ddl,
    is_disk_full,
    new_token_id,
    relation_index_ddl,
)
from demine.store.core import HISTORY_COLS, RevisionedStore, fields_from_json
from demine.store.core.dialect import ORG_COL
from demine.store.gpkg_format import q
from demine.store.sqlite_many import insert_many

T = TypeVar("T")
BUSY_WAIT_S = 600.0  # how long a writer waits for another before giving up with a clear error
SCHEMA_VERSION = 14  # 2: risk_updates; 3: users and API tokens; 4: land release, accidents;
# 5: token ids, expiry and last use, removed users; 6: emplacements laid_earliest;
# 7: organisations, submissions (store/core/intake.py); attachments (the media table
# demine_attachments, see _relate_attachments); record_organisation on every record table;
# 8: submissions' client_id and conflict, resumable uploads (store/core/sync.py);
# 9: an index on every relationship field (store/common.py relation_index_ddl);
# 10: demine_history.geom_shared (a revision's geometry kept once, in its record's row);
# 11: the derived tables (store/core/derived.py); 12: their statistics figures and the
# zonal table by hazard (store/core/derived_stats.py); 13: the statistics' memo; 14: a hazard
# with nothing released is its own polygon and area (derived_schema.DEFINITION: rows redone)
BULK_ROWS = 2000  # from this many new rows, the R-tree is filled directly (see _bulk_insert)
IN_CHUNK = 900  # values bound per IN (...): below SQLite's parameter limit


def _rollback(c: sqlite3.Connection) -> None:
    """Roll back, if SQLite has not already (it may have, after a full disk or I/O error)."""
    if c.in_transaction:
        with suppress(sqlite3.OperationalError):
            c.execute("ROLLBACK")


def _is_busy(e: sqlite3.OperationalError) -> bool:
    m = str(e).lower()
    return "locked" in m or "busy" in m


class GeoPackageStore(RevisionedStore):
    """A demine store in one GeoPackage file."""

    def __init__(self, path: Path | str, *, busy_wait_s: float = BUSY_WAIT_S) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_wait_s = busy_wait_s
        self._conn: sqlite3.Connection | None = None
        self._kinds: dict[str, Kind] | None = None

    def __repr__(self) -> str:
        return f"GeoPackageStore({self.location!r})"

    # --- connection and transactions ------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        fmt.register_functions(conn)
        conn.execute("PRAGMA cache_size = -16384")  # 16 MiB page cache per connection
        conn.execute("PRAGMA mmap_size = 1073741824")  # reads through the OS page cache
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            if not self.path.exists():
                raise NoStore(
                    f"no demine store at {self.path}: run 'demine init' (or pass --db / set "
                    "DEMINE_DB)"
                )
            self._conn = self._open()
            try:
                ok = self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'demine_settings'"
                ).fetchone()
            except sqlite3.DatabaseError as e:
                raise DemineError(f"{self.path} is not a GeoPackage: {e}") from None
            if not ok:
                raise DemineError(
                    f"{self.path} is a GeoPackage but not a demine store: run 'demine init' on "
                    "a new file, or import it as a layer"
                )
            row = self._conn.execute(
                "SELECT value FROM demine_settings WHERE key = 'schema_version'"
            ).fetchone()
            version = orjson.loads(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise DemineError(
                    f"{self.path} was made by a newer demine (schema {version}; this one knows "
                    f"{SCHEMA_VERSION}): upgrade demine"
                )
            if version < SCHEMA_VERSION:  # forward migration: idempotent, in one transaction
                self.init()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> GeoPackageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction. Waits for other writers; never surfaces 'database is locked'."""
        c = conn or self.conn
        deadline = time.monotonic() + self.busy_wait_s
        delay = 0.005
        while True:
            try:
                c.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as e:
                if not _is_busy(e):
                    raise
                if time.monotonic() > deadline:
                    raise DemineError(
                        f"the store {self.path} has been busy with another writer for "
                        f"{self.busy_wait_s:.0f} s; try again later"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        try:
            yield c
        except BaseException as e:
            _rollback(c)
            if isinstance(e, sqlite3.OperationalError) and is_disk_full(e):
                raise StoreFull("the store's disk is full: nothing was written") from None
            raise
        while True:
            try:
                c.execute("COMMIT")
                return
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() > deadline:
                    _rollback(c)
                    if is_disk_full(e):
                        raise StoreFull("the store's disk is full: nothing was written") from None
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    # --- schema -----------------------------------------------------------------------------

    def init(self, *, settings: dict[str, Any] | None = None) -> None:
        """Create the file (or bring an existing demine store up to date). Idempotent."""
        new = not self.path.exists()
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            create_private(self.path)  # owner only (0600) before SQLite writes a byte
        conn = self._open() if self._conn is None else self._conn
        try:
            with self._write(conn):
                conn.execute(f"PRAGMA application_id = {fmt.APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {fmt.USER_VERSION}")
                for ddl in fmt.CORE_DDL:
                    conn.execute(ddl)
                for ddl in fmt.SCHEMA_DDL:
                    conn.execute(ddl)
                for t in ("gpkg_data_columns", "gpkg_data_column_constraints"):
                    conn.execute(  # once: UNIQUE does not hold a NULL column_name to one row
                        "INSERT INTO gpkg_extensions SELECT ?, NULL, 'gpkg_schema', ?, "
                        "'read-write' WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE "
                        "table_name = ? AND extension_name = 'gpkg_schema')",
                        (t, fmt.SCHEMA_DEFINITION, t),
                    )
                conn.executemany(
                    "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                    fmt.SRS_ROWS,
                )
                self._create_attributes_table(
                    conn,
                    "demine_settings",
                    "demine settings",
                    "key TEXT NOT NULL UNIQUE, value TEXT",
                )
                self._create_attributes_table(
                    conn,
                    "demine_layers",
                    "demine reference layers",
                    "name TEXT NOT NULL UNIQUE, title TEXT, geometry_type TEXT, fields TEXT, "
                    "created_at DATETIME",
                )
                self._create_attributes_table(
                    conn,
                    "demine_history",
                    "Every revision of every demine record",
                    "record_id TEXT NOT NULL, kind TEXT NOT NULL, revision INTEGER NOT NULL, "
                    "op TEXT NOT NULL, at DATETIME NOT NULL, actor TEXT NOT NULL, reason TEXT, "
                    "source_id TEXT, properties TEXT, extra TEXT, geom BLOB, "
                    "UNIQUE (record_id, revision)",
                )
                self._ensure_column(conn, "demine_history", "geom_shared", "BOOLEAN")
                self._create_attributes_table(
                    conn,
                    "demine_users",
                    "demine users and their roles",
                    "name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, created_at DATETIME, "
                    "removed_at DATETIME",
                )
                self._create_attributes_table(
                    conn,
                    "demine_tokens",
                    "API tokens (only their SHA-256 hashes are kept)",
                    "token_hash TEXT NOT NULL UNIQUE, user_name TEXT NOT NULL, "
                    "label TEXT, created_at DATETIME, revoked BOOLEAN NOT NULL DEFAULT 0, "
                    "token_id TEXT, expires_at DATETIME, last_used_at DATETIME",
                )
                self._migrate_tokens(conn)
                self._intake_schema(conn, self._create_attributes_table)
                self._merge_schema(conn, self._create_attributes_table)
                self._sync_schema(conn, self._create_attributes_table)
                fmt.create_attachments_table(conn)
                for kind in KINDS.values():
                    self._create_kind_table(conn, kind)
                for name, title, gtype, fields in conn.execute(
                    "SELECT name, title, geometry_type, fields FROM demine_layers ORDER BY fid"
                ).fetchall():  # the layers' tables get the columns of a new step too
                    self._create_kind_table(
                        conn, layer_kind(name, fields_from_json(fields), gtype, title)
                    )
                self._derived_schema(conn, self._create_attributes_table)
                self._set(conn, "schema_version", SCHEMA_VERSION)
                for k, v in (settings or {}).items():
                    self._set(conn, k, v)
        finally:
            if self._conn is None:
                self._conn = conn
        self._kinds = None

    def _ensure_column(self, c: Any, table: str, column: str, sqltype: str) -> None:
        if column not in {r[1] for r in c.execute(f"PRAGMA table_info({q(table)})")}:
            c.execute(f"ALTER TABLE {q(table)} ADD COLUMN {q(column)} {sqltype}")

    def _relate_attachments(self, c: sqlite3.Connection, owner_kind: str) -> None:
        fmt.relate_attachments(c, owner_kind)

    @staticmethod
    def _migrate_tokens(conn: sqlite3.Connection) -> None:
        """Schema 5: tokens get an id, an expiry and a last use; users can be removed. Tokens
        made before keep no expiry (they stay valid until revoked) and get an id, so that
        'demine token list' shows them and 'demine token revoke ID' can end them."""
        for table, col in (
            ("demine_users", "removed_at"),
            ("demine_tokens", "token_id"),
            ("demine_tokens", "expires_at"),
            ("demine_tokens", "last_used_at"),
        ):
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({q(table)})")}
            if col not in have:
                ctype = "TEXT" if col == "token_id" else "DATETIME"
                conn.execute(f"ALTER TABLE {q(table)} ADD COLUMN {col} {ctype}")
        for (fid,) in conn.execute(
            "SELECT fid FROM demine_tokens WHERE token_id IS NULL"
        ).fetchall():
            conn.execute(
                "UPDATE demine_tokens SET token_id = ? WHERE fid = ?", (new_token_id(), fid)
            )
        conn.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS demine_tokens_token_id ON demine_tokens(token_id)"
        )

    def _create_attributes_table(
        self, conn: sqlite3.Connection, name: str, description: str, cols: str
    ) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {q(name)} "
            f"(fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {cols})"
        )
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)"
            " VALUES (?, 'attributes', ?, ?)",
            (name, name, description),
        )

    def _create_kind_table(self, conn: sqlite3.Connection, kind: Kind) -> None:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (kind.name,)
        ).fetchone()
        if exists:
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({q(kind.name)})")}
            for f in kind.fields:  # forward migration: new fields become new columns
                if f.name not in have:
                    conn.execute(f"ALTER TABLE {q(kind.name)} ADD COLUMN {q(f.name)} {f.sql_type}")
            if ORG_COL not in have:  # schema 7: the organisation that made each record
                conn.execute(f"ALTER TABLE {q(kind.name)} ADD COLUMN {ORG_COL} TEXT")
                self._fill_record_organisations(conn, kind)
            self._describe_columns(conn, kind)
            # schema 9: relationship fields indexed; 10: history kept on write (triggers)
            for ddl in [*relation_index_ddl(kind), *history_guard_ddl(kind)]:
                conn.execute(ddl)
            return
        cols = ["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
        if kind.geometry_type:
            cols.append(f"geom {kind.geometry_type}")
        cols += ["id TEXT NOT NULL UNIQUE", "source_id TEXT"]
        cols += [f"{q(f.name)} {f.sql_type}" for f in kind.fields]
        cols += [
            "extra TEXT",
            "revision INTEGER NOT NULL",
            "created_at DATETIME",
            "updated_at DATETIME",
            "updated_by TEXT",
            f"{ORG_COL} TEXT",
        ]
        t = q(kind.name)
        conn.execute(f"CREATE TABLE {t} ({', '.join(cols)})")
        conn.execute(f"CREATE INDEX {q(kind.name + '_source_id')} ON {t}(source_id)")
        for ddl in [*relation_index_ddl(kind), *history_guard_ddl(kind)]:
            conn.execute(ddl)
        if kind.natural_key:
            conn.execute(
                f"CREATE UNIQUE INDEX {q(kind.name + '_' + kind.natural_key)} "
                f"ON {t}({q(kind.natural_key)})"
            )
        data_type = "features" if kind.geometry_type else "attributes"
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                kind.name,
                data_type,
                kind.title,
                kind.description,
                fmt.SRS_ID if kind.geometry_type else None,
            ),
        )
        self._describe_columns(conn, kind)
        if kind.geometry_type:
            conn.execute(
                "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                (kind.name, kind.geometry_type, fmt.SRS_ID),
            )
            conn.execute(
                "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', ?, "
                "'write-only')",
                (kind.name, fmt.RTREE_DEFINITION),
            )
            for ddl in fmt.rtree_ddl(kind.name):
                conn.execute(ddl)

    @staticmethod
    def _describe_columns(conn: sqlite3.Connection, kind: Kind) -> None:
        """GeoPackage schema extension: a title and description for every column, and the
        allowed values of each choice field, which GDAL reads as field domains and QGIS shows
        as value lists."""
        rows = [
            ("id", "Record id (UUID)"),
            ("source_id", "The id this record has in the source it was imported from"),
        ]
        rows += [(f.name, f.description or f.name) for f in kind.fields]
        rows += [
            ("extra", "Source fields demine does not know, as JSON"),
            ("revision", "Revision number (the history is in demine_history)"),
            ("created_at", "Created (UTC)"),
            ("updated_at", "Last changed (UTC)"),
            ("updated_by", "Last changed by"),
            (ORG_COL, "Organisation that made the record (its code)"),
        ]
        for col, desc in rows:
            spec = next((f for f in kind.fields if f.name == col), None)
            constraint = None
            if spec is not None and spec.type is FieldType.ENUM and spec.choices:
                constraint = f"{kind.name}_{col}"
                conn.executemany(
                    "INSERT OR IGNORE INTO gpkg_data_column_constraints (constraint_name, "
                    "constraint_type, value, description) VALUES (?, 'enum', ?, ?)",
                    [(constraint, c, c) for c in spec.choices],
                )
            conn.execute(
                "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, "
                "title, description, constraint_name) VALUES (?, ?, ?, ?, ?, ?)",
                (kind.name, col, col, desc.split(",")[0][:80], desc, constraint),
            )

    # --- dialect ----------------------------------------------------------------------------

    P = "?"
    JSON_IN = "?"
    GEOM_OUT = "geom"
    NO_GEOM = "NULL"
    HISTORY_INSERT = f"INSERT INTO demine_history ({HISTORY_COLS}) VALUES ({', '.join('?' * 12)})"
    NO_LIMIT = -1
    LAYER_ORDER = "fid"
    BY_NAME = "name"
    TOKEN_TIEBREAK = "fid"
    TOKENS_ORDER = "fid"
    DB_ERRORS = (sqlite3.IntegrityError,)
    DRIVER_ERRORS = (sqlite3.Error,)

    def _transaction(self, lock: str, body: Callable[[sqlite3.Connection], T]) -> T:
        if self._atomic_depth:  # inside atomically(): a savepoint of its one transaction
            c = self.conn
            c.execute("SAVEPOINT demine_write")
            try:
                out = body(c)
            except BaseException:
                c.execute("ROLLBACK TO demine_write")
                c.execute("RELEASE demine_write")
                raise
            c.execute("RELEASE demine_write")
            return out
        with self._write() as c:
            return body(c)

    def _executemany(self, c: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        insert_many(c, sql, rows)  # many rows: fewer statements, constants bound once

    def _encode(self, geoms: Sequence[Any]) -> builtins.list[bytes | None]:
        return fmt.encode(geoms)

    def _decode(self, blobs: Sequence[Any]) -> Any:
        return fmt.decode(blobs)

    def _wkb_keys(self, raw: Sequence[Any]) -> builtins.list[Any] | None:
        from demine.geo.release import wkb_key

        return fmt.wkb_keys(raw, wkb_key)

    def _cql_dialect(self) -> Any:
        from demine.store.cql_sqlite import SqliteDialect

        d = SqliteDialect(decode=fmt.decode_one)
        d.register(self.conn)
        return d

    def _props(self, kind: Kind, values: Sequence[Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f, v in zip(kind.fields, values, strict=True):
            if v is not None:
                if f.type is FieldType.BOOLEAN:
                    v = bool(v)
                elif f.partial and type(v) is int:
                    v = str(v)  # a year in a DATE column (NUMERIC affinity) of an older store
                props[f.name] = v
        return props

    @staticmethod
    def _field_fix(f: FieldSpec) -> Callable[[Any], Any] | None:
        return int if f.type is FieldType.BOOLEAN else None  # SQLite has no booleans

    def _placeholders(self, kind: Kind) -> tuple[builtins.list[str], builtins.list[str]]:
        names = (["geom"] if kind.geometry_type else []) + self._columns(kind)
        return names, ["?"] * len(names)

    def _in(
        self, col: str, values: Sequence[Any], sqltype: str | None = None
    ) -> tuple[str, builtins.list[Any]]:
        if len(values) > IN_CHUNK:  # one JSON array instead of thousands of parameters
            return f"{q(col)} IN (SELECT value FROM json_each(?))", [orjson.dumps(list(values))]
        return f"{q(col)} IN ({','.join('?' * len(values))})", list(values)

    def _chunks(self, values: Sequence[Any]) -> Iterator[Sequence[Any]]:
        for s in range(0, len(values), IN_CHUNK):
            yield values[s : s + IN_CHUNK]

    def _bbox_where(self, kind: Kind, bbox: tuple[float, float, float, float]) -> tuple[str, Any]:
        return (
            f"fid IN (SELECT id FROM {q('rtree_' + kind.name + '_geom')} "
            "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)",
            [bbox[0], bbox[2], bbox[1], bbox[3]],
        )

    def _before_insert(self, c: sqlite3.Connection, kind: Kind, n: int) -> Any:
        if kind.geometry_type and n >= BULK_ROWS:
            # so is the one marking the derived tables stale (its condition, run per row,
            # costs more than the row): demine keeps them up itself (_derived_after)
            stale = fmt.drop_trigger(c, f"demine_derived_stale_{kind.name}_insert")
            return self._drop_insert_trigger(c, kind), stale
        return None

    def _after_insert(
        self, c: sqlite3.Connection, kind: Kind, rows: Sequence[Sequence[Any]], token: Any
    ) -> None:
        if token is not None:
            self._index_and_restore_trigger(c, kind, rows, token[0])
            if token[1] is not None:
                c.execute(token[1])

    # --- what only a GeoPackage does ----------------------------------------------------------

    def _envelopes_sql(
        self, kind: Kind, bbox: tuple[float, float, float, float]
    ) -> tuple[str, builtins.list[Any]]:
        # from the spatial index alone (no geometry decoded)
        return (
            f"SELECT t.id, r.minx, r.miny, r.maxx, r.maxy FROM {q('rtree_' + kind.name + '_geom')} "
            f"r JOIN {q(kind.name)} t ON t.fid = r.id "
            "WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? ORDER BY r.id",
            [bbox[0], bbox[2], bbox[1], bbox[3]],
        )

    def _version_sql(self, kind: Kind) -> tuple[str, builtins.list[Any]]:
        return "SELECT last_change FROM gpkg_contents WHERE table_name = ?", [kind.name]

    def _touch(self, conn: sqlite3.Connection, kind: Kind, at: str) -> None:
        if kind.geometry_type:
            ext = conn.execute(
                f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "
                f"{q('rtree_' + kind.name + '_geom')}"
            ).fetchone()
            conn.execute(
                "UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, "
                "max_y = ? WHERE table_name = ?",
                (_gpkg_time(at), *ext, kind.name),
            )
        else:
            conn.execute(
                "UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
                (_gpkg_time(at), kind.name),
            )

    @staticmethod
    def _drop_insert_trigger(conn: sqlite3.Connection, k: Kind) -> tuple[str, int]:
        """For a bulk insert: drop the R-tree insert trigger (which calls a SQL function per
        row) inside the caller's transaction; the index rows are then written directly from
        the blobs' envelopes and the trigger made again before the commit, so no other
        connection ever sees the table without it (they are locked out until then)."""
        last = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {q(k.name)}").fetchone()[0]
        ddl = fmt.drop_trigger(conn, f"rtree_{k.name}_geom_insert")
        assert ddl is not None, "the GeoPackage R-tree trigger is missing"
        return ddl, int(last)

    @staticmethod
    def _index_and_restore_trigger(
        conn: sqlite3.Connection,
        k: Kind,
        rows: Sequence[Sequence[Any]],
        trigger: tuple[str, int],
    ) -> None:
        ddl, last = trigger
        fids = [
            r[0]
            for r in conn.execute(
                f"SELECT fid FROM {q(k.name)} WHERE fid > ? ORDER BY fid", (last,)
            )
        ]
        if len(fids) != len(rows):  # pragma: no cover - cannot happen under the write lock
            raise DemineError("bulk insert: row count mismatch")
        from demine.store import gpkg_rtree  # numpy: loaded only by a bulk insert

        ids, env = gpkg_rtree.envelopes(fids, [row[0] for row in rows])
        gpkg_rtree.fill(conn, f"rtree_{k.name}_geom", ids, env)  # packed in bulk when empty
        conn.execute(ddl)


def _gpkg_time(at: str) -> str:
    # gpkg_contents.last_change must be YYYY-MM-DDTHH:MM:SS.SSSZ
    if "." in at:
        return at
    return at[:-1] + ".000Z"
