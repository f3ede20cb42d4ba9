"""The embedded backend: one OGC GeoPackage file that QGIS and GDAL open as it is.

* Each record kind is a feature table (``hazards``, ``emplacements``, ``finds``, ``eo_reports``),
  or an attributes table (``device_types``), with the R-tree spatial index extension.
* Every change is one SQLite transaction, taken with ``BEGIN IMMEDIATE`` so that two writers
  queue instead of deadlocking; a busy store is waited for, never reported as "locked".
* Every record keeps its whole history in ``demine_history``: one row a revision, holding the
  state after the change (who, when, why). A delete is a revision with no state; restore copies
  an old state into a new revision.
"""

from __future__ import annotations

import builtins
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import shapely

from demine.errors import Conflict, DemineError, NoStore, NotFound, PermissionDenied, StoreFull
from demine.files import create_private
from demine.model.kinds import KINDS, Kind, layer_kind
from demine.model.schema import FieldSpec, FieldType, Record, now_utc
from demine.store import gpkg_format as fmt
from demine.store.base import Revision, UpsertResult, is_disk_full
from demine.store.common import (
    missing_message,
    new_token_id,
    plan_load,
    token_list_query,
    token_list_rows,
    token_state,
    used_long_ago,
)
from demine.store.gpkg_format import q

BUSY_WAIT_S = 600.0  # how long a writer waits for another before giving up with a clear error
SCHEMA_VERSION = 6  # 2: risk_updates; 3: users and API tokens; 4: land release, accidents;
# 5: token ids, expiry and last use, removed users; 6: emplacements laid_earliest
BULK_ROWS = 2000  # from this many new rows, the R-tree is filled directly (see _bulk_insert)
_META_COLS = ("id", "source_id")
_TAIL_COLS = ("extra", "revision", "created_at", "updated_at", "updated_by")


def _rollback(c: sqlite3.Connection) -> None:
    """Roll back, if SQLite has not already (it may have, after a full disk or I/O error)."""
    if c.in_transaction:
        with suppress(sqlite3.OperationalError):
            c.execute("ROLLBACK")


def _is_busy(e: sqlite3.OperationalError) -> bool:
    m = str(e).lower()
    return "locked" in m or "busy" in m


class GeoPackageStore:
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
                    conn.execute(
                        "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', "
                        "?, 'read-write')",
                        (t, fmt.SCHEMA_DEFINITION),
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
                for kind in KINDS.values():
                    self._create_kind_table(conn, kind)
                conn.execute(
                    "INSERT INTO demine_settings(key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (orjson.dumps(SCHEMA_VERSION).decode(),),
                )
                for k, v in (settings or {}).items():
                    conn.execute(
                        "INSERT INTO demine_settings(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (k, orjson.dumps(v).decode()),
                    )
        finally:
            if self._conn is None:
                self._conn = conn
        self._kinds = None

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

    @staticmethod
    def _columns(kind: Kind) -> list[str]:
        return [*_META_COLS, *(f.name for f in kind.fields), *_TAIL_COLS]

    def _create_kind_table(self, conn: sqlite3.Connection, kind: Kind) -> None:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (kind.name,)
        ).fetchone()
        if exists:
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({q(kind.name)})")}
            for f in kind.fields:  # forward migration: new fields become new columns
                if f.name not in have:
                    conn.execute(f"ALTER TABLE {q(kind.name)} ADD COLUMN {q(f.name)} {f.sql_type}")
            self._describe_columns(conn, kind)
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
        ]
        t = q(kind.name)
        conn.execute(f"CREATE TABLE {t} ({', '.join(cols)})")
        conn.execute(f"CREATE INDEX {q(kind.name + '_source_id')} ON {t}(source_id)")
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

    def create_layer(self, kind: Kind) -> None:
        """Create the table of a reference layer (once)."""
        if not kind.is_layer:
            raise ValueError(f"{kind.name} is not a layer")
        with self._write() as conn:
            row = conn.execute(
                "SELECT fields, geometry_type FROM demine_layers WHERE name = ?", (kind.name,)
            ).fetchone()
            if row:
                return
            self._create_kind_table(conn, kind)
            conn.execute(
                "INSERT INTO demine_layers (name, title, geometry_type, fields, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (kind.name, kind.title, kind.geometry_type, _fields_json(kind.fields), now_utc()),
            )
        self._kinds = None

    def kinds(self) -> list[Kind]:
        if self._kinds is None:
            out = dict(KINDS)
            for name, title, gtype, fields in self.conn.execute(
                "SELECT name, title, geometry_type, fields FROM demine_layers ORDER BY fid"
            ):
                out[name] = layer_kind(name, _fields_from_json(fields), gtype, title)
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
            "SELECT value FROM demine_settings WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None or row[0] is None else orjson.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO demine_settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, orjson.dumps(value).decode()),
            )

    # --- users and tokens ------------------------------------------------------------------

    def add_user(self, name: str, role: str) -> None:
        """Add a user (or change the role of an existing one; a removed user comes back)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO demine_users (name, role, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role = excluded.role, removed_at = NULL",
                (name, role, now_utc()),
            )

    def users(self) -> builtins.list[tuple[str, str]]:
        """(name, role) of every user not removed."""
        return [
            (n, r)
            for n, r in self.conn.execute(
                "SELECT name, role FROM demine_users WHERE removed_at IS NULL ORDER BY name"
            )
        ]

    def user_rows(self) -> builtins.list[dict[str, Any]]:
        """Every user, removed ones too: name, role, created_at, removed_at."""
        return [
            {"name": n, "role": r, "created_at": c, "removed_at": x}
            for n, r, c, x in self.conn.execute(
                "SELECT name, role, created_at, removed_at FROM demine_users ORDER BY name"
            )
        ]

    def remove_user(self, name: str, *, at: str | None = None) -> int:
        """Mark a user removed (the row stays: history names them) and revoke their tokens.
        Returns the number of tokens revoked."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT removed_at FROM demine_users WHERE name = ?", (name,)
            ).fetchone()
            if row is None or row[0] is not None:
                raise NotFound(f"no user {name!r}" + (" (already removed)" if row else ""))
            conn.execute(
                "UPDATE demine_users SET removed_at = ? WHERE name = ?", (at or now_utc(), name)
            )
            return conn.execute(
                "UPDATE demine_tokens SET revoked = 1 WHERE user_name = ? AND NOT revoked",
                (name,),
            ).rowcount

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
        with self._write() as conn:
            row = conn.execute(
                "SELECT removed_at FROM demine_users WHERE name = ?", (user,)
            ).fetchone()
            if row is None or row[0] is not None:
                raise NotFound(
                    f"no user {user!r}"
                    + (" (removed)" if row else "")
                    + ": add one with 'demine user add'"
                )
            conn.execute(
                "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, token_id, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, user, label, now_utc(), tid, expires_at),
            )
        return tid

    def token_user(self, token_hash: str) -> tuple[str, str] | None:
        """(user name, role) of a live token (not revoked, not expired, its user not
        removed), or None. Notes the token's last use (at most once an hour)."""
        row = self.conn.execute(
            "SELECT u.name, u.role, t.expires_at, t.last_used_at, t.fid FROM demine_tokens t "
            "JOIN demine_users u ON u.name = t.user_name "
            "WHERE t.token_hash = ? AND NOT t.revoked AND u.removed_at IS NULL",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        now = datetime.now(UTC)
        if token_state(False, row[2], None, now) != "active":
            return None
        if used_long_ago(row[3], now):
            try:
                with self._write() as conn:
                    conn.execute(
                        "UPDATE demine_tokens SET last_used_at = ? WHERE fid = ?",
                        (now_utc(), row[4]),
                    )
            except (sqlite3.Error, DemineError):
                pass  # best effort: a busy or read-only store still answers
        return (row[0], row[1])

    def token_list(self, user: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every token (never the token nor its hash): id, user, role, label, created_at,
        expires_at, last_used_at, state (active, expired, revoked)."""
        sql, args = token_list_query(user, "?", "fid")
        return token_list_rows(self.conn.execute(sql, args).fetchall())

    def revoke_token(self, token_id: str) -> bool:
        """Revoke one token by its id; False when it was already revoked."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT revoked FROM demine_tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no token {token_id!r}: 'demine token list' shows the ids")
            if row[0]:
                return False
            conn.execute("UPDATE demine_tokens SET revoked = 1 WHERE token_id = ?", (token_id,))
            return True

    def revoke_tokens(self, user: str) -> int:
        with self._write() as conn:
            return conn.execute(
                "UPDATE demine_tokens SET revoked = 1 WHERE user_name = ? AND NOT revoked",
                (user,),
            ).rowcount

    def settings(self) -> dict[str, Any]:
        return {
            k: (None if v is None else orjson.loads(v))
            for k, v in self.conn.execute("SELECT key, value FROM demine_settings ORDER BY key")
        }

    def tokens(self) -> builtins.list[dict[str, Any]]:
        """Every token as stored (hash, user, label, created_at, revoked, id, expires_at,
        last_used_at): for copying."""
        return [
            {
                "token_hash": h,
                "user": u,
                "label": lb,
                "created_at": c,
                "revoked": bool(r),
                "token_id": i,
                "expires_at": e,
                "last_used_at": lu,
            }
            for h, u, lb, c, r, i, e, lu in self.conn.execute(
                "SELECT token_hash, user_name, label, created_at, revoked, token_id, expires_at, "
                "last_used_at FROM demine_tokens ORDER BY fid"
            )
        ]

    def load_tokens(self, tokens: Sequence[dict[str, Any]]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, revoked, "
                "token_id, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        t["token_hash"],
                        t["user"],
                        t["label"],
                        t["created_at"],
                        int(t["revoked"]),
                        t.get("token_id") or new_token_id(),
                        t.get("expires_at"),
                        t.get("last_used_at"),
                    )
                    for t in tokens
                ],
            )

    def revisions(self) -> Iterator[Revision]:
        """Every revision of every record, deleted ones included, by record and revision."""
        cur = self.conn.execute(
            "SELECT record_id, kind, revision, op, at, actor, reason, source_id, properties, "
            "extra, geom FROM demine_history ORDER BY record_id, revision"
        )
        while True:
            rows = cur.fetchmany(2000)
            if not rows:
                return
            for r in rows:
                yield self._revision(r[0], r[1:])

    def load_revisions(self, revisions: Sequence[Revision]) -> int:
        """Write whole histories as they are (times, actors, reasons, revision numbers) into
        this store, and make each record's last state current (none if it was deleted). For
        copying a store; refuses ids this store already has. One transaction."""
        groups, current = plan_load(revisions)
        with self._write() as conn:
            ids = list(groups)
            for s_ in range(0, len(ids), 900):
                chunk = ids[s_ : s_ + 900]
                row = conn.execute(
                    "SELECT record_id FROM demine_history WHERE record_id IN "
                    f"({','.join('?' * len(chunk))}) LIMIT 1",
                    chunk,
                ).fetchone()
                if row:
                    raise Conflict(f"this store already has record {row[0]}")
            hist: builtins.list[tuple[Any, ...]] = []
            for rid, revs in groups.items():
                for rev in revs:
                    st = rev.state
                    blob = None
                    if st is not None and self.kind(rev.kind).geometry_type:
                        blob = fmt.encode([st.geometry])[0]
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
                            None if st is None else orjson.dumps(st.properties).decode(),
                            None if st is None or not st.extra else orjson.dumps(st.extra).decode(),
                            blob,
                        )
                    )
            conn.executemany(self._HISTORY_INSERT, hist)
            for kname, recs in current.items():
                k = self.kind(kname)
                names = (["geom"] if k.geometry_type else []) + self._columns(k)
                blobs = fmt.encode([r.geometry for r in recs]) if k.geometry_type else []
                rows = [
                    ([blobs[i]] if k.geometry_type else []) + self._values(k, r)
                    for i, r in enumerate(recs)
                ]
                conn.executemany(
                    f"INSERT INTO {q(k.name)} ({', '.join(q(c) for c in names)}) "
                    f"VALUES ({', '.join('?' * len(names))})",
                    rows,
                )
                self._touch(conn, k, now_utc())
        return len(hist)

    # --- rows <-> records -----------------------------------------------------------------

    def _select(self, kind: Kind) -> str:
        geom = "geom" if kind.geometry_type else "NULL"
        cols = ", ".join(q(c) for c in self._columns(kind))
        return f"SELECT fid, {geom}, {cols} FROM {q(kind.name)}"

    def _row_to_record(self, kind: Kind, row: Sequence[Any], geom: Any = ...) -> Record:
        props: dict[str, Any] = {}
        for f, v in zip(kind.fields, row[4 : 4 + len(kind.fields)], strict=True):
            if v is not None:
                props[f.name] = bool(v) if f.type is FieldType.BOOLEAN else v
        extra, revision, created, updated, by = row[4 + len(kind.fields) :]
        return Record(
            kind=kind.name,
            id=row[2],
            source_id=row[3],
            properties=props,
            geometry=fmt.decode_one(row[1]) if geom is ... else geom,
            revision=revision,
            created_at=created,
            updated_at=updated,
            updated_by=by,
            extra=orjson.loads(extra) if extra else {},
        )

    def _rows_to_records(self, kind: Kind, rows: list[Any]) -> list[Record]:
        geoms = fmt.decode([r[1] for r in rows]) if kind.geometry_type else [None] * len(rows)
        return [self._row_to_record(kind, r, g) for r, g in zip(rows, geoms, strict=True)]

    @staticmethod
    def _values(kind: Kind, rec: Record) -> list[Any]:
        get = rec.properties.get
        names, bools = _row_layout(kind)
        vals: list[Any] = [rec.id, rec.source_id, *[get(n) for n in names]]
        for i in bools:
            if vals[i] is not None:
                vals[i] = int(vals[i])
        vals += [
            orjson.dumps(rec.extra).decode() if rec.extra else None,
            rec.revision,
            rec.created_at,
            rec.updated_at,
            rec.updated_by,
        ]
        return vals

    # --- reads -----------------------------------------------------------------------------

    def get(self, kind: str, record_id: str) -> Record:
        k = self.kind(kind)
        row = self.conn.execute(self._select(k) + " WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise NotFound(self._missing(record_id, k.name))
        return self._row_to_record(k, row)

    def _missing(self, record_id: str, kind: str | None = None) -> str:
        last = self.conn.execute(
            "SELECT kind, revision, op, at FROM demine_history WHERE record_id = ? "
            "ORDER BY revision DESC LIMIT 1",
            (record_id,),
        ).fetchone()
        return missing_message(record_id, kind, last)

    def locate(self, record_id: str) -> Record:
        """The current record with this id, whatever its kind."""
        row = self.conn.execute(
            "SELECT kind FROM demine_history WHERE record_id = ? ORDER BY revision DESC LIMIT 1",
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
            sql += (
                f" WHERE fid IN (SELECT id FROM {q('rtree_' + k.name + '_geom')} "
                "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)"
            )
            args += [bbox[0], bbox[2], bbox[1], bbox[3]]
        sql += " ORDER BY fid"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, offset]
        cur = self.conn.execute(sql, args)
        size = 128  # small first: a page of 100 should not decode thousands
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield from self._rows_to_records(k, rows)
            size = min(size * 4, 8192)

    def envelopes(
        self, kind: str, bbox: tuple[float, float, float, float]
    ) -> tuple[builtins.list[str], Any]:
        """Ids and lon/lat envelopes (an n × 4 array: minx, miny, maxx, maxy) of the records
        whose envelope meets ``bbox``, from the spatial index alone (no geometry decoded)."""
        import numpy as np

        k = self.kind(kind)
        if not k.geometry_type:
            return [], np.zeros((0, 4))
        rows = self.conn.execute(
            f"SELECT t.id, r.minx, r.miny, r.maxx, r.maxy FROM {q('rtree_' + k.name + '_geom')} r "
            f"JOIN {q(k.name)} t ON t.fid = r.id "
            "WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? ORDER BY r.id",
            (bbox[0], bbox[2], bbox[1], bbox[3]),
        ).fetchall()
        env = np.array([r[1:] for r in rows], dtype=float).reshape(-1, 4)
        return [r[0] for r in rows], env

    def data_version(self, kind: str) -> str:
        """Changes whenever a record of this kind changes (for caches and ETags)."""
        k = self.kind(kind)
        row = self.conn.execute(
            "SELECT last_change FROM gpkg_contents WHERE table_name = ?", (k.name,)
        ).fetchone()
        return "" if row is None else str(row[0])

    def get_many(self, kind: str, ids: Sequence[str]) -> builtins.list[Record]:
        """The records with these ids (those that exist), in fid order."""
        k = self.kind(kind)
        out: builtins.list[Record] = []
        ids = list(ids)
        for s_ in range(0, len(ids), 900):
            chunk = ids[s_ : s_ + 900]
            rows = self.conn.execute(
                self._select(k) + f" WHERE id IN ({','.join('?' * len(chunk))}) ORDER BY fid",
                chunk,
            ).fetchall()
            out += self._rows_to_records(k, rows)
        return out

    def count(self, kind: str) -> int:
        k = self.kind(kind)
        return int(self.conn.execute(f"SELECT count(*) FROM {q(k.name)}").fetchone()[0])

    def history(self, record_id: str) -> builtins.list[Revision]:
        rows = self._history_rows(self.conn, record_id)
        return [self._revision(record_id, r) for r in rows]

    @staticmethod
    def _history_rows(conn: sqlite3.Connection, record_id: str) -> builtins.list[Any]:
        rows = conn.execute(
            "SELECT kind, revision, op, at, actor, reason, source_id, properties, extra, geom "
            "FROM demine_history WHERE record_id = ? ORDER BY revision",
            (record_id,),
        ).fetchall()
        if not rows:
            raise NotFound(f"no record with id {record_id}")
        return rows

    def _revision(self, record_id: str, r: Sequence[Any]) -> Revision:
        kind, revision, op, at, actor, reason, source_id, props, extra, geom = r
        state = None
        if props is not None:
            state = Record(
                kind=kind,
                id=record_id,
                properties=orjson.loads(props),
                geometry=fmt.decode_one(geom),
                source_id=source_id,
                revision=revision,
                updated_at=at,
                updated_by=actor,
                extra=orjson.loads(extra) if extra else {},
            )
        return Revision(record_id, kind, revision, op, at, actor, reason, state)

    # --- writes ----------------------------------------------------------------------------

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
            None if deleted else orjson.dumps(rec.properties).decode(),
            None if deleted or not rec.extra else orjson.dumps(rec.extra).decode(),
            None if deleted else blob,
        )

    _HISTORY_INSERT = (
        "INSERT INTO demine_history (record_id, kind, revision, op, at, actor, reason, "
        "source_id, properties, extra, geom) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    )

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
        result = UpsertResult()
        if not records:
            return result
        cols = self._columns(k)
        names = (["geom"] if k.geometry_type else []) + cols
        insert_sql = (
            f"INSERT INTO {q(k.name)} ({', '.join(q(c) for c in names)}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        update_sql = (
            f"UPDATE {q(k.name)} SET {', '.join(q(c) + ' = ?' for c in names)} WHERE fid = ?"
        )
        at = now_utc()
        blobs = (
            fmt.encode([r.geometry for r in records]) if k.geometry_type else [None] * len(records)
        )
        bulk = bool(k.geometry_type) and len(records) >= BULK_ROWS
        with self._write() as conn:
            existing = self._match(conn, k, records)
            ins_rows: list[list[Any]] = []
            upd_rows: list[list[Any]] = []
            hist_rows: list[tuple[Any, ...]] = []
            seen: set[str] = set()
            trigger = self._drop_insert_trigger(conn, k) if bulk else None
            try:
                for i, (rec, blob) in enumerate(zip(records, blobs, strict=True)):
                    old = existing[i]
                    if old is not None:
                        fid, old_rec, old_blob = old
                        rec.id = old_rec.id
                        if rec.id in seen:
                            raise Conflict(
                                f"feature {i}: record {rec.id} appears twice in one batch"
                            )
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
                        upd_rows.append(
                            [*([blob] if k.geometry_type else []), *self._values(k, rec), fid]
                        )
                        hist_rows.append(self._history_row(rec, "update", at, actor, reason, blob))
                        result.updated.append(rec.id)
                    else:
                        if rec.id in seen:
                            raise Conflict(
                                f"feature {i}: record {rec.id} appears twice in one batch"
                            )
                        seen.add(rec.id)
                        rec.revision = 1
                        rec.created_at = rec.updated_at = at
                        rec.updated_by = actor
                        ins_rows.append(
                            [*([blob] if k.geometry_type else []), *self._values(k, rec)]
                        )
                        hist_rows.append(self._history_row(rec, "create", at, actor, reason, blob))
                        result.created.append(rec.id)
                conn.executemany(insert_sql, ins_rows)
                conn.executemany(update_sql, upd_rows)
            except sqlite3.IntegrityError as e:
                raise Conflict(f"cannot store {k.name}: {e}") from None
            if trigger is not None:
                self._index_and_restore_trigger(conn, k, ins_rows, trigger)
            self._check_foreign_ids(conn, k, [r[1 if k.geometry_type else 0] for r in ins_rows])
            conn.executemany(self._HISTORY_INSERT, hist_rows)
            self._touch(conn, k, at)
        return result

    @staticmethod
    def _drop_insert_trigger(conn: sqlite3.Connection, k: Kind) -> tuple[str, int]:
        """For a bulk insert: drop the R-tree insert trigger (which calls a SQL function per
        row) inside the caller's transaction; the index rows are then written directly from
        the blobs' envelopes and the trigger made again before the commit, so no other
        connection ever sees the table without it (they are locked out until then)."""
        trig = f"rtree_{k.name}_geom_insert"
        (ddl,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trig,)
        ).fetchone()
        last = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {q(k.name)}").fetchone()[0]
        conn.execute(f"DROP TRIGGER {q(trig)}")
        return ddl, int(last)

    @staticmethod
    def _index_and_restore_trigger(
        conn: sqlite3.Connection,
        k: Kind,
        rows: builtins.list[builtins.list[Any]],
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
        index = []
        for fid, row in zip(fids, rows, strict=True):
            env = fmt.envelope(row[0])
            if env is not None:
                index.append((fid, *env))
        conn.executemany(f"INSERT INTO {q('rtree_' + k.name + '_geom')} VALUES (?,?,?,?,?)", index)
        conn.execute(ddl)

    @staticmethod
    def _check_foreign_ids(conn: sqlite3.Connection, k: Kind, ids: builtins.list[str]) -> None:
        """Ids are unique across the store: refuse one that belongs to a record of another kind."""
        for s in range(0, len(ids), 900):
            chunk = ids[s : s + 900]
            row = conn.execute(
                "SELECT record_id, kind FROM demine_history WHERE record_id IN "
                f"({','.join('?' * len(chunk))}) AND kind != ? LIMIT 1",
                [*chunk, k.name],
            ).fetchone()
            if row:
                raise Conflict(
                    f"id {row[0]} belongs to a {row[1]} record; a {k.name} record cannot take it"
                )

    def _match(
        self, conn: sqlite3.Connection, k: Kind, records: Sequence[Record]
    ) -> builtins.list[tuple[int, Record, bytes | None] | None]:
        """For each record, the stored (fid, record, blob) it matches, or None."""
        by_id: dict[str, int] = {}
        by_source: dict[str, int] = {}
        by_key: dict[Any, int] = {}
        ids = [r.id for r in records]
        sources = [r.source_id for r in records if r.source_id is not None]
        keyname = k.natural_key
        keys = [r.properties.get(keyname) for r in records] if keyname else []
        t = q(k.name)

        def lookup(col: str, values: Sequence[Any], into: dict[Any, int]) -> None:
            vals = list(dict.fromkeys(v for v in values if v is not None))
            for s in range(0, len(vals), 900):
                chunk = vals[s : s + 900]
                for v, fid in conn.execute(
                    f"SELECT {q(col)}, fid FROM {t} WHERE {q(col)} IN "
                    f"({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    into.setdefault(v, fid)

        lookup("id", ids, by_id)
        lookup("source_id", sources, by_source)
        if keyname:
            lookup(keyname, keys, by_key)
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
        sel = self._select(k)
        for s in range(0, len(wanted), 900):
            chunk = wanted[s : s + 900]
            rows = conn.execute(
                sel + f" WHERE fid IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            for row, rec in zip(rows, self._rows_to_records(k, rows), strict=True):
                found[row[0]] = (rec, row[1])
        return [None if f is None else (f, *found[f]) for f in fids]

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
        with self._write() as conn:
            row = conn.execute(self._select(k) + " WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                raise NotFound(self._missing(record_id, k.name))
            rec = self._row_to_record(k, row)
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
            blob = fmt.encode([rec.geometry])[0] if k.geometry_type else None
            names = (["geom"] if k.geometry_type else []) + self._columns(k)
            vals = ([blob] if k.geometry_type else []) + self._values(k, rec)
            try:
                conn.execute(
                    f"UPDATE {q(k.name)} SET {', '.join(q(c) + ' = ?' for c in names)} "
                    "WHERE fid = ?",
                    [*vals, row[0]],
                )
            except sqlite3.IntegrityError as e:
                raise Conflict(f"cannot update {k.name} record {record_id}: {e}") from None
            conn.execute(
                self._HISTORY_INSERT,
                self._history_row(rec, "update", rec.updated_at, actor, reason, blob),
            )
            self._touch(conn, k, rec.updated_at)
        return rec

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
        with self._write() as conn:
            row = conn.execute(self._select(k) + " WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                raise NotFound(self._missing(record_id, k.name))
            rec = self._row_to_record(k, row, None)
            if if_revision is not None and rec.revision != if_revision:
                raise Conflict(
                    f"{k.name} record {record_id} is at revision {rec.revision}, not {if_revision}"
                )
            rec.revision += 1
            at = now_utc()
            conn.execute(f"DELETE FROM {q(k.name)} WHERE fid = ?", (row[0],))
            conn.execute(
                self._HISTORY_INSERT, self._history_row(rec, "delete", at, actor, reason, None)
            )
            self._touch(conn, k, at)
        return Revision(record_id, k.name, rec.revision, "delete", at, actor, reason, None)

    def restore(
        self, record_id: str, revision: int, *, actor: str, reason: str | None = None
    ) -> Record:
        """Make an earlier revision current again, as a new revision (op ``restore``)."""
        with self._write() as conn:
            rows = self._history_rows(conn, record_id)
            chosen = [r for r in rows if r[1] == revision]
            if not chosen:
                raise NotFound(
                    f"record {record_id} has no revision {revision}; it has 1 to {rows[-1][1]}"
                )
            old = self._revision(record_id, chosen[0])
            if old.state is None:
                raise Conflict(
                    f"revision {revision} of {record_id} is its deletion; choose an earlier one"
                )
            k = self.kind(old.kind)
            rec = old.state
            rec.revision = rows[-1][1] + 1
            at = now_utc()
            rec.updated_at, rec.updated_by = at, actor
            blob = fmt.encode([rec.geometry])[0] if k.geometry_type else None
            cur = conn.execute(
                f"SELECT fid, created_at FROM {q(k.name)} WHERE id = ?", (record_id,)
            ).fetchone()
            names = (["geom"] if k.geometry_type else []) + self._columns(k)
            if cur is None:
                first = conn.execute(
                    "SELECT at FROM demine_history WHERE record_id = ? ORDER BY revision LIMIT 1",
                    (record_id,),
                ).fetchone()
                rec.created_at = first[0]
                vals = ([blob] if k.geometry_type else []) + self._values(k, rec)
                sql = (
                    f"INSERT INTO {q(k.name)} ({', '.join(q(c) for c in names)}) "
                    f"VALUES ({', '.join('?' * len(names))})"
                )
                args: list[Any] = vals
            else:
                rec.created_at = cur[1]
                vals = ([blob] if k.geometry_type else []) + self._values(k, rec)
                sql = (
                    f"UPDATE {q(k.name)} SET {', '.join(q(c) + ' = ?' for c in names)} "
                    "WHERE fid = ?"
                )
                args = [*vals, cur[0]]
            try:
                conn.execute(sql, args)
            except sqlite3.IntegrityError as e:
                raise Conflict(f"cannot restore {record_id}: {e}") from None
            conn.execute(
                self._HISTORY_INSERT, self._history_row(rec, "restore", at, actor, reason, blob)
            )
            self._touch(conn, k, at)
        return rec

    # --- spatial ---------------------------------------------------------------------------

    def in_bbox(self, kind: str, bbox: tuple[float, float, float, float]) -> builtins.list[Record]:
        return list(self.list(kind, bbox=bbox))


STATUS_FIELDS = ("status", "closed_on")


def _guard(k: Kind, old: dict[str, Any], new: dict[str, Any], origin: str) -> None:
    """The store's rule: no risk estimate changes a hazard's status. Risk is information;
    only land release (or a person, with a reason in the history) changes status."""
    if k.name == "hazards" and origin == "risk":
        changed = [f for f in STATUS_FIELDS if old.get(f) != new.get(f)]
        if changed:
            raise PermissionDenied(
                f"a risk estimate cannot change a hazard's {', '.join(changed)}: only land "
                "release does (IMAS 07.11)"
            )


_LAYOUT: dict[int, tuple[Kind, tuple[str, ...], tuple[int, ...]]] = {}


def _row_layout(kind: Kind) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The field names of a kind, and the positions of its boolean fields in a row of
    _values (2 + the field's index)."""
    hit = _LAYOUT.get(id(kind))
    if hit is None or hit[0] is not kind:
        pos = tuple(2 + i for i, f in enumerate(kind.fields) if f.type is FieldType.BOOLEAN)
        hit = _LAYOUT[id(kind)] = (kind, kind.field_names, pos)
    return hit[1], hit[2]


def _gpkg_time(at: str) -> str:
    # gpkg_contents.last_change must be YYYY-MM-DDTHH:MM:SS.SSSZ
    if "." in at:
        return at
    return at[:-1] + ".000Z"


def _fields_json(fields: Sequence[FieldSpec]) -> str:
    return orjson.dumps(
        [{"name": f.name, "type": f.type.value, "description": f.description} for f in fields]
    ).decode()


def _fields_from_json(text: str) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(d["name"], FieldType(d["type"]), d.get("description", ""))
        for d in orjson.loads(text)
    )


_ = shapely  # geometry values are shapely objects throughout
