"""CQL2 filters (OGC API - Features Part 3) over demine records: the names and limits the API
shares.

A request's filter is read by :mod:`demine.api.ogc_cql_tree` (the ``cql2`` package parses
``cql2-text`` and ``cql2-json`` into one CQL2-JSON tree, which is checked and bounded there)
and run in the store's SQL (:mod:`demine.store.cql_sql`, with a dialect per backend). A filter
may only name the properties the caller's role may read (the collection's queryables), ``id``
and the geometry (``geometry`` or ``geom``).

Work is bounded: a filter is at most ``MAX_FILTER_BYTES`` long, ``MAX_FILTER_NODES`` conditions
and values, brackets nested at most ``ogc_cql_tree.MAX_NESTING`` deep, a LIKE pattern at most
``MAX_LIKE_PATTERN`` characters; LIKE is the database's own (GLOB on SQLite, LIKE on
PostgreSQL), never a backtracking regular expression.
"""

from __future__ import annotations

from demine.api.ogc_queryables import field_schema, queryable_fields, queryables_schema

__all__ = [
    "GEOMETRY_NAMES",
    "MAX_FILTER_BYTES",
    "MAX_FILTER_NODES",
    "MAX_LIKE_PATTERN",
    "FilterError",
    "field_schema",
    "queryable_fields",
    "queryables_schema",
]

GEOMETRY_NAMES = ("geometry", "geom")  # what a filter may call a collection's geometry
MAX_FILTER_BYTES = 8192  # the filter's text, UTF-8
MAX_FILTER_NODES = 500  # conditions, values and list items of its syntax tree
MAX_LIKE_PATTERN = 256  # characters of one LIKE pattern


class FilterError(ValueError):
    """A filter that cannot be read or names something it may not (a 400 naming ``filter``)."""
