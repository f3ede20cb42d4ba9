"""GeoPackage 1.3 building blocks: geometry blobs, the SQL functions the R-tree triggers call,
and the DDL of the core tables (OGC 12-128r17)."""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# numpy and shapely are loaded where geometries are encoded or decoded: a command that reads
# no geometry (``demine stats --json`` from the derived tables) never loads them

SRS_ID = 4326  # WGS 84; GeoPackage stores x = longitude, y = latitude
APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0

_HEADER = struct.Struct("<2sBBi")
_ENV = struct.Struct("<4d")
_ENV_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_FLAG_LE = 0x01
# a blob's header with an xy envelope (flags: little endian, envelope 1), OGC 12-128r17 §2.1.3
_HEAD_ENV_FIELDS = [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4")]
_FLAG_EMPTY = 0x10


def encode(geoms: Sequence[Any] | np.ndarray, srs_id: int = SRS_ID) -> list[bytes | None]:
    """Shapely geometries (None allowed) to GeoPackage binary blobs, vectorised."""
    import numpy as np
    import shapely

    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return []
    missing = shapely.is_missing(arr)
    if missing.any():  # None stays None
        out_all: list[bytes | None] = [None] * arr.size
        have = np.flatnonzero(~missing)
        for i, b in zip(have.tolist(), encode(arr[have], srs_id), strict=True):
            out_all[i] = b
        return out_all
    wkb = shapely.to_wkb(arr, byte_order=1, flavor="iso", output_dimension=2)
    bounds = shapely.bounds(arr)
    empty = shapely.is_empty(arr)
    is_point = shapely.get_type_id(arr) == 0
    # the usual blob: an 8-byte header and the xy envelope, made for all at once; the others
    # (None, empty, points: no envelope) one by one
    n = arr.size
    head_env = np.dtype([*_HEAD_ENV_FIELDS, ("env", "<f8", (4,))])
    head = np.zeros(n, dtype=head_env)
    head["magic"] = b"GP"
    head["flags"] = _FLAG_LE | (1 << 1)
    head["srs"] = srs_id
    head["env"] = bounds[:, [0, 2, 1, 3]]
    buf = head.tobytes()
    size = head_env.itemsize
    wkbs = wkb.tolist()
    out: list[bytes | None] = [buf[i * size : (i + 1) * size] + w for i, w in enumerate(wkbs)]
    pack_h = _HEADER.pack
    for i in np.flatnonzero(empty | is_point).tolist():
        w = wkbs[i]
        flags = _FLAG_LE | _FLAG_EMPTY if empty[i] else _FLAG_LE
        out[i] = pack_h(b"GP", 0, flags, srs_id) + w
    return out


def drop_trigger(conn: sqlite3.Connection, name: str) -> str | None:
    """Drop trigger ``name``; its DDL, to make it again (None: there is no such trigger)."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    conn.execute(f"DROP TRIGGER {q(name)}")
    return str(row[0])


def _wkb_offset(blob: bytes) -> int:
    if len(blob) < 8 or blob[0:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    env = (blob[3] >> 1) & 0x07
    return 8 + _ENV_SIZES[env]


def decode(blobs: Sequence[bytes | None]) -> np.ndarray:
    """GeoPackage blobs to shapely geometries (None stays None), vectorised."""
    import numpy as np
    import shapely

    wkbs = [None if b is None else bytes(b[_wkb_offset(b) :]) for b in blobs]
    if not wkbs:
        return np.empty(0, dtype=object)
    out: np.ndarray = shapely.from_wkb(np.asarray(wkbs, dtype=object))
    return out


def wkb_keys(blobs: Sequence[bytes | None], key: Any) -> list[Any]:
    """``key(wkb)`` of each blob's WKB (None for None), without decoding the geometries."""
    return [None if b is None else key(bytes(b[_wkb_offset(b) :])) for b in blobs]


def decode_one(blob: bytes | None) -> Any:
    import shapely

    if blob is None:
        return None
    return shapely.from_wkb(bytes(blob[_wkb_offset(blob) :]))


def envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or from the geometry when it has none."""
    if blob is None or len(blob) < 8:
        return None
    flags = blob[3]
    if flags & _FLAG_EMPTY:
        return None
    env = (flags >> 1) & 0x07
    if env:
        le = "<" if flags & _FLAG_LE else ">"
        minx, maxx, miny, maxy = struct.unpack_from(le + "4d", blob, 8)
        return minx, maxx, miny, maxy
    g = decode_one(blob)
    if g is None or g.is_empty:
        return None
    x0, y0, x1, y1 = g.bounds
    return x0, x1, y0, y1


def _st(i: int) -> Any:
    def f(blob: bytes | None) -> float | None:
        e = envelope(blob)
        return None if e is None else e[i]

    return f


def _st_isempty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    if len(blob) >= 8 and blob[3] & _FLAG_EMPTY:
        return 1
    return 0 if envelope(blob) is not None else 1


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions that the GeoPackage R-tree triggers call (GDAL and QGIS bring theirs)."""
    for name, i in (("ST_MinX", 0), ("ST_MaxX", 1), ("ST_MinY", 2), ("ST_MaxY", 3)):
        conn.create_function(name, 1, _st(i), deterministic=True)
    conn.create_function("ST_IsEmpty", 1, _st_isempty, deterministic=True)


CORE_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
        organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
        identifier TEXT UNIQUE, description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL,
        geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL,
        z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
        definition TEXT NOT NULL, scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
]

SCHEMA_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_data_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
        description TEXT, mime_type TEXT, constraint_name TEXT,
        CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
        CONSTRAINT gdc_tn UNIQUE (table_name, name))""",
    """CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
        constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT,
        min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN,
        description TEXT,
        CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))""",
]
SCHEMA_DEFINITION = "http://www.geopackage.org/spec/#extension_schema"

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

SRS_ROWS = [
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
]

RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def rtree_ddl(t: str, c: str = "geom", i: str = "fid") -> list[str]:
    """The R-tree spatial index extension for table t (GeoPackage 1.3, Annex F.3)."""
    r = q(f"rtree_{t}_{c}")
    T, C, I = q(t), q(c), q(i)  # noqa: E741 (the spec's own names)
    ins = f"ST_MinX(NEW.{C}), ST_MaxX(NEW.{C}), ST_MinY(NEW.{C}), ST_MaxY(NEW.{C})"
    return [
        f"CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)",
        f"""CREATE TRIGGER {q(f"rtree_{t}_{c}_insert")} AFTER INSERT ON {T}
  WHEN (new.{C} NOT NULL AND NOT ST_IsEmpty(NEW.{C}))
BEGIN INSERT OR REPLACE INTO {r} VALUES (NEW.{I}, {ins}); END""",
        f"""CREATE TRIGGER {q(f"rtree_{t}_{c}_update1")} AFTER UPDATE OF {C} ON {T}
  WHEN OLD.{I} = NEW.{I} AND (NEW.{C} NOTNULL AND NOT ST_IsEmpty(NEW.{C}))
BEGIN INSERT OR REPLACE INTO {r} VALUES (NEW.{I}, {ins}); END""",
        f"""CREATE TRIGGER {q(f"rtree_{t}_{c}_update2")} AFTER UPDATE OF {C} ON {T}
  WHEN OLD.{I} = NEW.{I} AND (NEW.{C} ISNULL OR ST_IsEmpty(NEW.{C}))
BEGIN DELETE FROM {r} WHERE id = OLD.{I}; END""",
        f"""CREATE TRIGGER {q(f"rtree_{t}_{c}_update3")} AFTER UPDATE ON {T}
  WHEN OLD.{I} != NEW.{I} AND (NEW.{C} NOTNULL AND NOT ST_IsEmpty(NEW.{C}))
BEGIN DELETE FROM {r} WHERE id = OLD.{I};
  INSERT OR REPLACE INTO {r} VALUES (NEW.{I}, {ins}); END""",
        f"""CREATE TRIGGER {q(f"rtree_{t}_{c}_update4")} AFTER UPDATE ON {T}
  WHEN OLD.{I} != NEW.{I} AND (NEW.{C} ISNULL OR ST_IsEmpty(NEW.{C}))
BEGIN DELETE FROM {r} WHERE id IN (OLD.{I}, NEW.{I}); END""",
        f"""CREATE TRIGGER {q(f"rtree_{t}_{c}_delete")} AFTER DELETE ON {T}
  WHEN old.{C} NOT NULL
BEGIN DELETE FROM {r} WHERE id = OLD.{I}; END""",
    ]


# --- Related Tables Extension (OGC 18-000): attachments as a media table ---------------------

RTE_NAME = "gpkg_related_tables"
RTE_DEFINITION = "http://docs.opengeospatial.org/is/18-000/18-000.html"
# the media table: id, data, content_type as the extension requires, then demine's columns
ATTACHMENTS_DDL = """CREATE TABLE IF NOT EXISTS demine_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, data BLOB NOT NULL,
    content_type TEXT NOT NULL, attachment_id TEXT NOT NULL UNIQUE,
    owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL, filename TEXT NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, exif_lat DOUBLE, exif_lon DOUBLE,
    exif_time TEXT, created_by TEXT NOT NULL, created_at DATETIME NOT NULL, public_data BLOB)"""
ATTACHMENTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS demine_attachments_owner "
    "ON demine_attachments (owner_kind, owner_id)"
)
RELATIONS_DDL = """CREATE TABLE IF NOT EXISTS gpkgext_relations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, base_table_name TEXT NOT NULL,
    base_primary_column TEXT NOT NULL DEFAULT 'id', related_table_name TEXT NOT NULL,
    related_primary_column TEXT NOT NULL DEFAULT 'id', relation_name TEXT NOT NULL,
    mapping_table_name TEXT NOT NULL UNIQUE)"""


def mapping_view_ddl(view: str, base_table: str, owner_kind: str) -> str:
    """The mapping of one base table to the media table, as a view (the extension allows a
    mapping table or view): always what ``demine_attachments`` says, so a deleted and restored
    record (a new ``fid``) keeps its attachments with nothing to maintain. Its first column
    is a unique integer, as a GeoPackage attributes view needs."""
    kind = "'" + owner_kind.replace("'", "''") + "'"
    return (
        f"CREATE VIEW {q(view)} AS SELECT a.id AS id, t.fid AS base_id, a.id AS related_id "
        f"FROM {q(base_table)} t JOIN demine_attachments a "
        f"ON a.owner_kind = {kind} AND a.owner_id = t.id"
    )


def create_attachments_table(c: sqlite3.Connection) -> None:
    """The media table of attachments, registered as an attributes table. Idempotent."""
    c.execute(ATTACHMENTS_DDL)
    c.execute(ATTACHMENTS_INDEX)
    c.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
        "VALUES ('demine_attachments', 'attributes', 'demine_attachments', 'Photos and "
        "documents of records and submissions (a Related Tables Extension media table)')"
    )


def relate_attachments(c: sqlite3.Connection, owner_kind: str) -> None:
    """The Related Tables Extension's relation from the owner's table to the media table
    (once per owner kind): the mapping view ``demine_<table>_attachments``, its row in
    ``gpkgext_relations``, ``gpkg_extensions`` and ``gpkg_contents``. An owner without a table
    of its own (a submission before the submissions table exists) gets none; its attachments
    are still in the media table."""
    table = "submissions" if owner_kind == "submission" else owner_kind
    view = f"demine_{table}_attachments"
    if c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (view,)).fetchone():
        return
    cols = {r[1] for r in c.execute(f"PRAGMA table_info({q(table)})")}
    if not {"fid", "id"} <= cols:
        return
    c.execute(RELATIONS_DDL)
    c.execute(mapping_view_ddl(view, table, owner_kind))
    for t in ("gpkgext_relations", view):
        c.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, ?, ?, 'read-write')",
            (t, RTE_NAME, RTE_DEFINITION),
        )
    c.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
        "VALUES (?, 'attributes', ?, ?)",
        (view, view, f"Which attachment belongs to which row of {table}"),
    )
    c.execute(
        "INSERT INTO gpkgext_relations (base_table_name, base_primary_column, "
        "related_table_name, related_primary_column, relation_name, mapping_table_name) "
        "VALUES (?, 'fid', 'demine_attachments', 'id', 'media', ?)",
        (table, view),
    )
