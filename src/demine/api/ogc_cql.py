"""CQL2 filters (OGC API - Features Part 3) over demine records.

Filters are parsed with pygeofilter (``cql2-text`` and ``cql2-json``) and evaluated here, on the
records, by a small interpreter of the syntax tree: comparisons, LIKE, IN, BETWEEN, IS NULL,
AND/OR/NOT, every spatial function (S_INTERSECTS ... S_CROSSES, with shapely) and every temporal
function (T_AFTER ... T_INTERSECTS, on date and date-time fields). A filter may only name the
properties the caller's role may read (the collection's queryables) and ``geometry``.

Work is bounded: a filter is at most ``MAX_FILTER_BYTES`` long and ``MAX_FILTER_NODES`` nodes, a
LIKE pattern at most ``MAX_LIKE_PATTERN`` characters, and LIKE is matched in linear time by
:mod:`demine.api.ogc_like` (never by a backtracking regular expression).
"""

from __future__ import annotations

from demine.api.ogc_cql_eval import (
    GEOMETRY_NAMES,
    MAX_FILTER_NODES,
    MAX_LIKE_PATTERN,
    Predicate,
    to_predicate,
)
from demine.api.ogc_cql_parse import (
    MAX_FILTER_BYTES,
    MAX_REWRITE_DEPTH,
    FilterError,
    TimeIntersects,
    parse_filter,
)
from demine.api.ogc_queryables import field_schema, queryable_fields, queryables_schema
from demine.geo.crs import CRS84
from demine.model.kinds import Kind

__all__ = [
    "GEOMETRY_NAMES",
    "MAX_FILTER_BYTES",
    "MAX_FILTER_NODES",
    "MAX_LIKE_PATTERN",
    "MAX_REWRITE_DEPTH",
    "FilterError",
    "Predicate",
    "TimeIntersects",
    "compile_filter",
    "field_schema",
    "parse_filter",
    "queryable_fields",
    "queryables_schema",
    "to_predicate",
]


def compile_filter(
    text: str, lang: str, kind: Kind, role: str, filter_crs: str = CRS84
) -> Predicate:
    """A predicate over records, or FilterError (a 400) saying what is wrong: the filter is
    parsed (ogc_cql_parse: text -> tree), then evaluated (ogc_cql_eval: tree -> predicate)."""
    return to_predicate(parse_filter(text, lang), kind, role, filter_crs)
