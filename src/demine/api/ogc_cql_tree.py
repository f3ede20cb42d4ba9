"""A CQL2 filter of a request as a CQL2-JSON tree the store can run in SQL (issue 12).

The ``cql2`` package (CQL2 1.0, a Rust parser) reads ``cql2-text`` and ``cql2-json`` into one
normalised CQL2-JSON tree; this module bounds the work first, then checks that the tree names
only what the caller's role may read (the collection's queryables, ``id`` and the geometry),
and brings every geometry in it from ``filter-crs`` to CRS84. The store compiles the tree to SQL
(:mod:`demine.store.cql_sql`).

Bounds, before the parser sees the text: at most ``MAX_FILTER_BYTES`` bytes, and brackets
nested at most ``MAX_NESTING`` deep. The second is not style: ``cql2`` 0.6's text parser
recurses once per bracket and overflows the native stack (a segmentation fault, which takes the
whole server worker down) at about 2,000 brackets, which 8 kB of text allow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

import cql2
import orjson
import shapely

from demine.api.ogc_cql import (
    GEOMETRY_NAMES,
    MAX_FILTER_BYTES,
    MAX_FILTER_NODES,
    MAX_LIKE_PATTERN,
    FilterError,
)
from demine.api.ogc_queryables import queryable_fields
from demine.geo.crs import CRS84, bbox_to_crs84, to_crs84
from demine.model.kinds import Kind

MAX_NESTING = 64  # brackets ( [ { nested in a filter's text


def nesting(text: str) -> int:
    """The deepest nesting of brackets in ``text``, outside quoted strings ('' and "")."""
    depth = deepest = 0
    quote: str | None = None
    for c in text:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")]}":
            depth -= 1
    return deepest


def filter_tree(text: str, lang: str, kind: Kind, role: str, filter_crs: str = CRS84) -> Any:
    """The CQL2-JSON tree of a ``filter`` parameter, checked; FilterError (a 400) says what is
    wrong and where."""
    if len(text.encode("utf-8")) > MAX_FILTER_BYTES:
        raise FilterError(f"the filter is longer than MAX_FILTER_BYTES = {MAX_FILTER_BYTES} bytes")
    if nesting(text) > MAX_NESTING:
        raise FilterError(
            f"the filter is nested too deeply: brackets deeper than MAX_NESTING = {MAX_NESTING}"
        )
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        tree = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as e:
        raise FilterError(f"cannot read the {lang} filter: {e}") from None
    allowed = set(queryable_fields(kind, role)) | {"id"}
    if kind.geometry_type:
        allowed |= set(GEOMETRY_NAMES)
    for nodes, node in enumerate(_walk(tree), start=1):
        if nodes > MAX_FILTER_NODES:
            raise FilterError(
                f"the filter has more than MAX_FILTER_NODES = {MAX_FILTER_NODES} conditions "
                "and values"
            )
        _check_value(node)
        if isinstance(node, Mapping) and "property" in node:
            name = str(node["property"])
            if name not in allowed:
                raise FilterError(
                    f"{name!r} is not a queryable of {kind.name} (see the collection's queryables)"
                )
    return _to_crs84(tree, filter_crs) if filter_crs != CRS84 else tree


def _walk(n: Any) -> Iterator[Any]:
    """Every condition and value of the tree (lists are containers, not counted)."""
    stack = [n]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
            continue
        yield x
        if isinstance(x, Mapping):
            for k in ("args", "interval"):
                if k in x:
                    stack.append(x[k])


def _check_value(n: Any) -> None:
    """Literals the SQL could not take, refused with the reason."""
    if isinstance(n, float) and not math.isfinite(n):
        raise FilterError("the filter has a number that is not finite")
    if not isinstance(n, Mapping):
        return
    if str(n.get("op", "")).lower() == "like":
        pattern = (n.get("args") or [None, None])[1]
        while isinstance(pattern, Mapping) and pattern.get("args"):
            pattern = pattern["args"][0]
        if isinstance(pattern, str) and len(pattern) > MAX_LIKE_PATTERN:
            raise FilterError(
                f"a LIKE pattern is longer than MAX_LIKE_PATTERN = {MAX_LIKE_PATTERN} characters"
            )
    if "date" in n:
        try:
            date.fromisoformat(str(n["date"]))
        except ValueError:
            raise FilterError(f"DATE({n['date']!r}) is not an RFC 3339 full-date") from None
    if "timestamp" in n:
        text = str(n["timestamp"])
        try:
            if len(text) < 20 or text[10] not in "Tt":
                raise ValueError(text)
            datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except (ValueError, IndexError):
            raise FilterError(f"TIMESTAMP({text!r}) is not an RFC 3339 date-time") from None


def _to_crs84(n: Any, crs: str) -> Any:
    if isinstance(n, list):
        return [_to_crs84(x, crs) for x in n]
    if not isinstance(n, Mapping):
        return n
    if "bbox" in n:
        b = [float(v) for v in n["bbox"]]
        box = (b[0], b[1], b[3], b[4]) if len(b) == 6 else (b[0], b[1], b[2], b[3])
        return {"bbox": list(bbox_to_crs84(box, crs))}
    if "coordinates" in n or n.get("type") == "GeometryCollection":
        g = to_crs84(shapely.from_geojson(orjson.dumps(n).decode()), crs)
        return orjson.loads(shapely.to_geojson(g))
    return {k: _to_crs84(v, crs) for k, v in n.items()}
