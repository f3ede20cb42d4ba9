"""Records' points placed in the admin areas of a reference layer (``stats --by``: EO reports,
accidents, finds), kept in the statistics' memo (``demine_derived_memo``): the index of each
record's admin polygon (:meth:`.areas.Areas.indexes_of`), under a hash of the layer's
polygons (:attr:`.areas.Areas.layer_hash`) and of every record's geometry as stored, in
order. When no point moved (nor was added or removed) and the layer is the same, the places
are read and no geometry is decoded; a record written since (here or in another program)
changes the hash, and every point is placed again (then kept)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from demine.services.stats.areas import ALL, Areas
from demine.store.base import Store

MEMO_RULE = b"demine points 1"  # the memo's rule (what its row holds): its version


def places(store: Store, kind: str, raw: Sequence[bytes | None], areas: Areas) -> list[str]:
    """The area (its name) of each geometry ``raw`` of records of ``kind`` (as
    :meth:`demine.store.base.Store.field_rows` gives them with ``geometry="raw"``), as
    :meth:`.areas.Areas.of_points` names them."""
    if areas.layer is None:
        return [ALL] * len(raw)
    h = hashlib.sha256(MEMO_RULE + b"\n" + areas.layer_hash.encode() + b"\n")
    for b in raw:
        if b is None:
            h.update(b"\xff" * 8)
        else:
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    key = h.hexdigest()
    scope = f"points {kind} {areas.layer}"
    kept = store.memo_read(scope, key).get(key)
    if kept is not None:
        indexes: list[int] = orjson.loads(kept)
    else:
        indexes = areas.indexes_of(store.decode_geometries(raw))
        store.memo_write(scope, [(key, orjson.dumps(indexes).decode())], [key])
    return [areas.name_of(i) for i in indexes]


def rows_placed(
    store: Store, kind: str, fields: tuple[str, ...], areas: Areas
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """(id, None, then the value of each of ``fields``) of every record of ``kind``
    (:meth:`demine.store.base.Store.field_rows`) and the area of each one's point
    (:func:`places`)."""
    rows = store.field_rows(kind, fields, geometry="none" if areas.layer is None else "raw")
    where = places(store, kind, [r[1] for r in rows], areas)
    return [(r[0], None, *r[2:]) for r in rows], where
