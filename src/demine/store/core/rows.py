"""The rows a write of many records binds, built in bulk (issue 16: a national import writes
100,000 records at once, and building their rows one method call at a time cost more than
SQLite's insert of them).

* :func:`field_values`: one record's field values as the driver binds them, in
  ``kind.fields`` order: the value of each property (None when missing), a backend's
  conversion (:class:`Fixes`) applied to those that are not None;
* :func:`record_rows`: the rows of :meth:`~demine.store.core.tables.Tables._insert_sql`
  (geometry first, if any; then ``id``, ``source_id``, the fields and the tail columns) of
  many records, the same values :meth:`~demine.store.core.tables.Tables._geo_values` gives one;
* :func:`history_rows`: the ``demine_history`` rows of the revisions a create or update writes
  (their geometry shared with the record's row), the same as
  :meth:`~demine.store.core.tables.Tables._history_row` gives one;
* :func:`created_rows`: a first import's records set as created and both their rows built,
  in one pass over them (what :meth:`~demine.store.core.records.Records.upsert` does when no
  record matches a stored one).

The rows are tuples (one allocation each, none over-allocated), built by comprehensions with
the per-row constants hoisted out of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from demine.model.kinds import Kind
from demine.model.schema import FieldSpec, Record

# how a backend converts a field's value (not None) for its driver, or None: as it is
FixOf = Callable[[FieldSpec], Callable[[Any], Any] | None]
# the field positions a backend converts, with their conversions
Fixes = tuple[tuple[int, Callable[[Any], Any]], ...]

_LAYOUT: dict[tuple[int, FixOf], tuple[Kind, tuple[str, ...], Fixes]] = {}


def layout(kind: Kind, fix_of: FixOf) -> tuple[tuple[str, ...], Fixes]:
    """A kind's field names, and the positions (in a row of :func:`field_values`) of the
    fields ``fix_of`` converts, with its conversions: worked out once per kind and backend."""
    key = (id(kind), fix_of)
    hit = _LAYOUT.get(key)
    if hit is None or hit[0] is not kind:
        fixes: list[tuple[int, Callable[[Any], Any]]] = []
        for i, f in enumerate(kind.fields):
            fix = fix_of(f)
            if fix is not None:
                fixes.append((i, fix))
        hit = _LAYOUT[key] = (kind, kind.field_names, tuple(fixes))
    return hit[1], hit[2]


def field_values(props: dict[str, Any], names: Sequence[str], fixes: Fixes) -> list[Any]:
    """A record's field values (``names`` order), the conversions ``fixes`` applied."""
    vals = list(map(props.get, names))
    for i, fix in fixes:
        v = vals[i]
        if v is not None:
            vals[i] = fix(v)
    return vals


def record_rows(
    recs: Sequence[Record],
    blobs: Sequence[bytes | None] | None,
    names: Sequence[str],
    fixes: Fixes,
) -> list[tuple[Any, ...]]:
    """The rows of these records as :meth:`Tables._geo_values` gives them one by one (tuples):
    their geometries' ``blobs`` first (None: the kind has no geometry column)."""
    dumps = orjson.dumps
    values: Callable[[dict[str, Any]], Iterable[Any]] = (
        (lambda p: field_values(p, names, fixes)) if fixes else (lambda p: map(p.get, names))
    )
    if blobs is None:
        return [
            (
                r.id,
                r.source_id,
                *values(r.properties),
                dumps(r.extra).decode() if r.extra else None,
                r.revision,
                r.created_at,
                r.updated_at,
                r.updated_by,
                r.record_organisation,
            )
            for r in recs
        ]
    return [
        (
            b,
            r.id,
            r.source_id,
            *values(r.properties),
            dumps(r.extra).decode() if r.extra else None,
            r.revision,
            r.created_at,
            r.updated_at,
            r.updated_by,
            r.record_organisation,
        )
        for r, b in zip(recs, blobs, strict=True)
    ]


def history_rows(
    recs: Sequence[Record],
    ops: Sequence[str],
    at: str,
    actor: str,
    whys: Sequence[str | None],
    blobs: Sequence[bytes | None],
) -> list[tuple[Any, ...]]:
    """The ``demine_history`` rows of created or updated records (``ops``: ``create`` or
    ``update``), as :meth:`Tables._history_row` gives them with ``shared``: a revision with a
    geometry shares it with its record's row (no copy: NULL, ``geom_shared`` true); one
    without has neither."""
    dumps = orjson.dumps
    return [
        (
            r.id,
            r.kind,
            r.revision,
            op,
            at,
            actor,
            why,
            r.source_id,
            None if r.properties is None else dumps(r.properties).decode(),
            dumps(r.extra).decode() if r.extra else None,
            None,
            None if b is None else True,
        )
        for r, op, why, b in zip(recs, ops, whys, blobs, strict=True)
    ]


def created_rows(
    recs: Sequence[Record],
    blobs: Sequence[bytes | None] | None,
    whys: Sequence[str | None],
    names: Sequence[str],
    fixes: Fixes,
    at: str,
    actor: str,
    made_by: Callable[[], str],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """New records (a first import's): each set as created (revision 1, ``at`` by ``actor``,
    its organisation if it has none: ``made_by()``), and its row (:func:`record_rows`) and
    history row (:func:`history_rows`, ``create``) built, in one pass: each record is read
    once (100,000 records lie all over memory; a pass over them costs more than building
    their rows)."""
    dumps = orjson.dumps
    ins: list[tuple[Any, ...]] = []
    hist: list[tuple[Any, ...]] = []
    add, add_hist = ins.append, hist.append
    geometry = blobs is not None
    bs: Sequence[bytes | None] = [None] * len(recs) if blobs is None else blobs
    for r, b, why in zip(recs, bs, whys, strict=True):
        r.revision = 1
        r.created_at = r.updated_at = at
        r.updated_by = actor
        org = r.record_organisation = r.record_organisation or made_by()
        rid, sid, props, extra = r.id, r.source_id, r.properties, r.extra
        ej = dumps(extra).decode() if extra else None
        vals = field_values(props, names, fixes) if fixes else map(props.get, names)
        if geometry:
            add((b, rid, sid, *vals, ej, 1, at, at, actor, org))
        else:
            add((rid, sid, *vals, ej, 1, at, at, actor, org))
        pj = None if props is None else dumps(props).decode()
        shared = None if b is None else True
        add_hist((rid, r.kind, 1, "create", at, actor, why, sid, pj, ej, None, shared))
    return ins, hist
