"""Filling a GeoPackage R-tree spatial index with many rows at once.

SQLite's R-tree module inserts one entry at a time (about 11 µs each: a walk down the tree,
splits, reinsertions). When the index is still empty (a new store, or the first import of a
kind), :func:`fill` instead packs all the envelopes into a tree with sort-tile-recursive (STR)
packing in numpy and writes the R-tree's three shadow tables directly, inside the caller's
transaction, as GDAL does for ``ogr2ogr -f GPKG`` (its ``sqlite_rtree_bulk_load.c``). The tree
is an ordinary SQLite R-tree: later inserts, updates and deletes (demine's, or through the
GeoPackage triggers by QGIS or GDAL) maintain it as usual, and ``rtreecheck()`` accepts it.

The format written (SQLite's ``ext/rtree/rtree.c``, 2 dimensions, 32-bit float coordinates):

* ``<name>_node(nodeno INTEGER PRIMARY KEY, data)``: one blob per node, all of the size of the
  empty root that ``CREATE VIRTUAL TABLE`` made (nodeno 1); the blob is a 2-byte big-endian
  depth (the tree's height, read from the root only; 0 elsewhere), a 2-byte big-endian cell
  count, then the cells: an 8-byte big-endian integer (the rowid in a leaf, the child's node
  number above) and minx, maxx, miny, maxy as 4-byte big-endian floats; zeros after them.
* ``<name>_rowid(rowid INTEGER PRIMARY KEY, nodeno)``: the leaf of each entry.
* ``<name>_parent(nodeno INTEGER PRIMARY KEY, parentnode)``: the parent of each node but the root.

Coordinates are rounded to 32-bit floats the way SQLite's own insert does (``rtreeValueDown``
for the minimums, ``rtreeValueUp`` for the maximums), so a bulk-filled index holds exactly the
boxes the row-by-row insert would have stored. Whenever anything is not as expected (the index
holds rows, a shadow table has other columns, a coordinate is not finite), :func:`fill` falls
back to the row-by-row insert.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from demine.store.gpkg_format import envelope, q

BULK_MIN = 64  # below this many entries the row-by-row insert is as quick
_RNDTOWARDS = 1.0 - 1.0 / 8388608.0  # SQLite rtree.c: round towards zero
_RNDAWAY = 1.0 + 1.0 / 8388608.0  # round away from zero
_COORDS = ("minx", "maxx", "miny", "maxy")
_CELL = np.dtype([("id", ">i8"), *((c, ">f4") for c in _COORDS)])  # 24 bytes, big-endian
_HEAD = np.dtype([("depth", ">u2"), ("count", ">u2")])
_PEEK = 40  # bytes of a blob read for its envelope: header (8) and 4 doubles
_FLAG_EMPTY = 0x10  # GeoPackage header flags: an empty geometry
_POINT_TYPES = (1, 1001, 2001, 3001)  # ISO WKB Point, Point Z, Point M, Point ZM
_PAIRS_PER_INSERT = 2000  # rows per INSERT statement of the shadow tables
_MAX_DEPTH = 40  # SQLite's RTREE_MAX_DEPTH
_USING_RTREE = re.compile(r"using\s+rtree\s*\(", re.IGNORECASE)
_SHADOW_COLUMNS = {
    "_node": ["nodeno", "data"],
    "_rowid": ["rowid", "nodeno"],
    "_parent": ["nodeno", "parentnode"],
}


def fill(conn: sqlite3.Connection, rtree: str, ids: np.ndarray, env: np.ndarray) -> bool:
    """Add entries ``ids`` (int64) with envelopes ``env`` (n × (minx, maxx, miny, maxy),
    float64) to the R-tree table ``rtree``: packed in bulk when the tree is empty (True),
    else inserted one by one by SQLite (False)."""
    if len(ids) >= BULK_MIN and bulk_fill(conn, rtree, ids, env):
        return True
    rows = zip(ids.tolist(), *np.asarray(env, np.float64).reshape(-1, 4).T.tolist(), strict=True)
    conn.executemany(f"INSERT INTO {q(rtree)} VALUES (?,?,?,?,?)", rows)
    return False


def envelopes(fids: Sequence[int], blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """The R-tree entries of GeoPackage geometry blobs: their fids (int64) and envelopes
    (n × (minx, maxx, miny, maxy), float64), those of NULL and empty geometries left out (as
    by the GeoPackage insert trigger). Read in bulk from the blobs' headers, or from a point's
    WKB (a point has no envelope in its header); a blob of any other layout goes through
    :func:`gpkg_format.envelope`, one by one."""
    n = len(blobs)
    size = np.fromiter((0 if b is None else len(b) for b in blobs), np.int64, n)
    h = np.array([b"" if b is None else b[:_PEEK] for b in blobs], f"S{_PEEK}")
    h = h.view(np.uint8).reshape(n, _PEEK)
    flags = h[:, 3]
    gp = (h[:, 0] == 0x47) & (h[:, 1] == 0x50) & ((flags & _FLAG_EMPTY) == 0)
    kind = (flags >> 1) & 7
    box = gp & (kind >= 1) & (kind <= 4) & (size >= 40)  # minx, maxx, miny, maxy in the header
    env = _numbers(h[:, 8:40], "f8", (flags & 1) == 1)
    wkb_le = h[:, 8] == 1  # the WKB's byte order (0 big-endian, 1 little-endian)
    wkb_type = _numbers(h[:, 9:13], "u4", wkb_le)[:, 0]
    xy = _numbers(h[:, 13:29], "f8", wkb_le)
    point = gp & (kind == 0) & (h[:, 8] <= 1) & np.isin(wkb_type, _POINT_TYPES) & (size >= 29)
    point &= ~np.isnan(xy).any(axis=1)  # POINT EMPTY (NaN coordinates) is left to envelope()
    env[point] = xy[point][:, [0, 0, 1, 1]]
    keep = box | point
    for i in np.flatnonzero(~keep & (size > 0)).tolist():  # neither NULL nor read above
        e = envelope(blobs[i])
        if e is not None:
            keep[i], env[i] = True, e
    return np.asarray(fids, np.int64)[keep], env[keep]


def _numbers(raw: np.ndarray, code: str, little: np.ndarray) -> np.ndarray:
    """Rows of bytes as numbers of type ``code``, little- or big-endian row by row."""
    raw = np.ascontiguousarray(raw)
    return np.where(little[:, None], raw.view("<" + code), raw.view(">" + code))


def round_down(d: np.ndarray) -> np.ndarray:
    """float64 → float32 no greater than d, as SQLite's ``rtreeValueDown`` (beyond float32's
    range: ±inf, which :func:`pack` refuses)."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = d.astype(np.float32)
        over = f.astype(np.float64) > d
        if over.any():
            dd = d[over]
            f[over] = (dd * np.where(dd < 0, _RNDAWAY, _RNDTOWARDS)).astype(np.float32)
    return f


def round_up(d: np.ndarray) -> np.ndarray:
    """float64 → float32 no less than d, as SQLite's ``rtreeValueUp``."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = d.astype(np.float32)
        under = f.astype(np.float64) < d
        if under.any():
            dd = d[under]
            f[under] = (dd * np.where(dd < 0, _RNDTOWARDS, _RNDAWAY)).astype(np.float32)
    return f


def node_size(conn: sqlite3.Connection, rtree: str) -> int | None:
    """The node size of an EMPTY 2-D R-tree laid out as this module expects, else None."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (rtree,)
    ).fetchone()
    if row is None or not row[0] or not _USING_RTREE.search(row[0]):
        return None  # not the float R-tree module (rtree_i32, or none)
    if len(conn.execute(f"PRAGMA table_info({q(rtree)})").fetchall()) != 5:
        return None  # not 2 dimensions, or auxiliary columns
    for suffix, cols in _SHADOW_COLUMNS.items():
        got = [r[1] for r in conn.execute(f"PRAGMA table_info({q(rtree + suffix)})")]
        if got != cols:
            return None
    if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {q(rtree + '_rowid')})").fetchone()[0]:
        return None
    if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {q(rtree + '_parent')})").fetchone()[0]:
        return None
    nodes = conn.execute(f"SELECT nodeno, data FROM {q(rtree + '_node')} LIMIT 2").fetchall()
    if len(nodes) != 1 or nodes[0][0] != 1 or not isinstance(nodes[0][1], bytes):
        return None
    root = nodes[0][1]
    if len(root) < 4 + 4 * _CELL.itemsize or root.count(0) != len(root):
        return None
    return len(root)


def bulk_fill(conn: sqlite3.Connection, rtree: str, ids: np.ndarray, env: np.ndarray) -> bool:
    """Write the packed tree of entries ``ids`` with envelopes ``env`` into the shadow
    tables of the EMPTY R-tree ``rtree``; False (nothing written) when the tree or the data
    do not allow it."""
    size = node_size(conn, rtree)
    if size is None:
        return False
    packed = pack(
        np.asarray(ids, np.int64), np.asarray(env, np.float64), (size - 4) // _CELL.itemsize
    )
    if packed is None:
        return False
    nodes, parents, rowids = packed
    blobs = [blob.ljust(size, b"\0") for blob in nodes]
    conn.execute(f"UPDATE {q(rtree + '_node')} SET data = ? WHERE nodeno = 1", (blobs[0],))
    _insert_pairs(conn, rtree + "_node", [x for i, b in enumerate(blobs[1:], 2) for x in (i, b)])
    _insert_pairs(conn, rtree + "_parent", parents)
    _insert_pairs(conn, rtree + "_rowid", rowids)
    return True


def pack(
    ids: np.ndarray, env: np.ndarray, max_cells: int
) -> tuple[list[bytes], list[int], list[int]] | None:
    """STR packing of entries ``ids`` with envelopes ``env`` (n × (minx, maxx, miny, maxy),
    float64) into nodes of at most ``max_cells`` cells.

    Returns the node blobs (unpadded; node number i + 1 for blob i, the root first), the
    (node, parent) pairs and the (rowid, leaf node) pairs in rowid order, each pair as two
    consecutive items of a flat list. None when a coordinate is not finite (in float32), a
    box is inverted, an id repeats, or the tree would be too deep.
    """
    n = len(ids)
    if n == 0 or max_cells < 4:
        return None
    by_id = np.argsort(ids, kind="stable")  # the rowid table is filled in key order
    if (np.diff(ids[by_id]) == 0).any():
        return None
    lo_x, hi_x = round_down(env[:, 0]), round_up(env[:, 1])
    lo_y, hi_y = round_down(env[:, 2]), round_up(env[:, 3])
    box = np.stack([lo_x, hi_x, lo_y, hi_y], axis=1)
    if not np.isfinite(box).all() or (lo_x > hi_x).any() or (lo_y > hi_y).any():
        return None
    # levels bottom-up: for each, the order of its entries and where each node's cells start
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    boxes = [box]  # boxes[i]: the boxes of the entries of level i (the leaves' entries first)
    while True:
        b = boxes[-1]
        order, starts = _tiles(b, max_cells)
        levels.append((order, starts))
        if len(starts) == 1:
            break
        sb = b[order].astype(np.float64)
        boxes.append(
            np.stack(
                [
                    np.minimum.reduceat(sb[:, 0], starts),
                    np.maximum.reduceat(sb[:, 1], starts),
                    np.minimum.reduceat(sb[:, 2], starts),
                    np.maximum.reduceat(sb[:, 3], starts),
                ],
                axis=1,
            ).astype(np.float32)
        )
        if len(levels) > _MAX_DEPTH:  # pragma: no cover - would need 4**40 entries
            return None
    depth = len(levels) - 1
    # node numbers top-down: the root is 1, then each level's nodes in order
    counts = [len(starts) for _, starts in levels]
    first = [0] * len(levels)
    nxt = 1
    for i in range(depth, -1, -1):
        first[i] = nxt
        nxt += counts[i]
    blobs: list[bytes] = [b""] * (nxt - 1)
    child_parent: list[np.ndarray] = []
    leaf_of = np.empty(n, np.int64)
    for i, (order, starts) in enumerate(levels):
        cells = np.empty(len(order), _CELL)
        if i == 0:
            cells["id"] = ids[order]
        else:
            cells["id"] = first[i - 1] + order  # the children: nodes of the level below
        for j, col in enumerate(_COORDS):
            cells[col] = boxes[i][order, j]
        raw = cells.tobytes()
        ends = [*starts[1:].tolist(), len(order)]
        node_of = np.repeat(np.arange(first[i], first[i] + counts[i]), np.subtract(ends, starts))
        if i == 0:
            leaf_of[order] = node_of
        else:
            child_parent.append(np.stack([first[i - 1] + order, node_of], axis=1))
        head = np.zeros(counts[i], _HEAD)
        head["count"] = np.subtract(ends, starts)
        if i == depth:
            head["depth"] = depth
        hb = head.tobytes()
        size = _CELL.itemsize
        for k, (s, e) in enumerate(zip(starts.tolist(), ends, strict=True)):
            blobs[first[i] - 1 + k] = hb[4 * k : 4 * k + 4] + raw[s * size : e * size]
    rowids = np.stack([ids[by_id], leaf_of[by_id]], axis=1).ravel().tolist()
    parents = np.concatenate(child_parent) if child_parent else np.empty((0, 2), np.int64)
    parents = parents[np.argsort(parents[:, 0])]
    return blobs, parents.ravel().tolist(), rowids


def _insert_pairs(conn: sqlite3.Connection, table: str, flat: list[Any]) -> None:
    """INSERT the pairs (flat[0], flat[1]), (flat[2], flat[3]), ... into a two-column table,
    many rows per statement (several times quicker than one per row)."""
    per = max(1, min(_PAIRS_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 2))
    rows = len(flat) // 2
    full = rows - rows % per
    if full:
        sql = f"INSERT INTO {q(table)} VALUES " + ",".join(["(?,?)"] * per)
        conn.executemany(sql, (flat[i : i + 2 * per] for i in range(0, 2 * full, 2 * per)))
    if rows > full:
        sql = f"INSERT INTO {q(table)} VALUES " + ",".join(["(?,?)"] * (rows - full))
        conn.execute(sql, flat[2 * full :])


def _tiles(box: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """One level of sort-tile-recursive packing: the entries' order and where each node's
    cells start in it. ceil(n / m) nodes of nearly equal size (at least half full), in
    vertical slices by x centre, each slice by y centre."""
    n = len(box)
    p = -(-n // m)  # nodes
    sizes = np.full(p, n // p, np.int64)
    sizes[: n % p] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    s = int(np.ceil(np.sqrt(p)))  # slices
    per_slice = np.array([len(a) for a in np.array_split(np.arange(p), s)])
    slice_bounds = bounds[np.concatenate([[0], np.cumsum(per_slice)])]
    b = box.astype(np.float64)
    cx, cy = b[:, 0] + b[:, 1], b[:, 2] + b[:, 3]
    rank = np.empty(n, np.int64)
    rank[np.argsort(cx, kind="stable")] = np.arange(n)
    slice_id = np.searchsorted(slice_bounds, rank, side="right") - 1
    order = np.lexsort((cy, slice_id))
    return order, bounds[:-1]
