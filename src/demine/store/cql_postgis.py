"""The PostgreSQL + PostGIS side of :mod:`demine.store.cql_sql` (issue 12).

``LIKE`` is PostgreSQL's, with ``ESCAPE '\\'`` (CQL2's escape); ``CASEI`` is ``lower()`` on
both sides; ``ACCENTI`` is NFD, the marks U+0300-U+036F removed, NFC (``normalize`` and
``regexp_replace``; no extension needed), as :func:`cql_sql.strip_accents` does in Python; the
spatial relations are PostGIS's ``ST_*`` on the SRID 4326 geometry column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from demine.store.cql_sql import Column, FilterError, Params

RELATIONS = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_contains": "ST_Contains",
    "s_within": "ST_Within",
    "s_crosses": "ST_Crosses",
    "s_overlaps": "ST_Overlaps",
    "s_touches": "ST_Touches",
    "s_equals": "ST_Equals",
}


class PostgisDialect(Params):
    """psycopg's ``%s`` placeholders; no literal ``%`` is ever written into the SQL."""

    placeholder = "%s"

    def like(self, value_sql: str, pattern: str) -> str:
        return f"(({value_sql})::text LIKE {self.param(pattern)} ESCAPE '\\')"

    def casei(self, sql: str) -> str:
        return f"lower(({sql})::text)"

    def accenti(self, sql: str) -> str:
        return (
            f"normalize(regexp_replace(normalize(({sql})::text, NFD), "
            "'[\\u0300-\\u036f]', '', 'g'), NFC)"
        )

    def spatial(self, op: str, geom_sql: str, geometry: Mapping[str, Any]) -> str:
        check_geometry(geometry)
        g = self.param(json.dumps(geometry))
        return f"{RELATIONS[op]}({geom_sql}, ST_SetSRID(ST_GeomFromGeoJSON({g}), 4326))"

    def prefilter(self, table: str, tree: Any) -> tuple[str, list[Any]] | None:
        return None  # ST_* use the GiST index themselves

    def power(self, a: str, b: str) -> str:
        return f"power({a}, {b})"

    def mod(self, a: str, b: str) -> str:
        return f"mod(CAST({a} AS NUMERIC), CAST({b} AS NUMERIC))"

    def boolean(self, value: bool) -> Any:
        return value

    def date(self, text: str) -> str:
        return f"CAST({self.param(text)} AS DATE)"

    def timestamp(self, text: str) -> str:
        return f"CAST({self.param(text)} AS TIMESTAMPTZ)"

    def value(self, column: Column) -> str:
        return column.sql


def check_geometry(geometry: Mapping[str, Any]) -> None:
    """A filter geometry must be valid (the same rule as the SQLite dialect's)."""
    import shapely

    g = shapely.from_geojson(json.dumps(geometry))
    if g is None or g.is_empty or not shapely.is_valid(g):
        reason = shapely.is_valid_reason(g) if g is not None else "empty"
        raise FilterError(f"the filter's geometry is not valid: {reason}")
