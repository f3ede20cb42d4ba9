"""What the statistics read of the derived tables (issue 16, see :mod:`.derived`): the figures
of every hazard's account and of its credited pieces, as plain rows (no geometry decoded);
the records' field columns without building records; and the zonal table, how each hazard's
polygons split among the areas of a reference layer (``stats --by``), read and kept."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from demine.errors import DemineError
from demine.model.kinds import Kind
from demine.model.schema import FieldSpec, FieldType
from demine.store.core.dialect import q
from demine.store.core.tables import Tables

# the statistics' memo (see memo_read): made with the derived tables (store/core/derived.py),
# schema 13 (GeoPackage; PostGIS 12)
MEMO_TABLE = (
    "demine_derived_memo",
    "What the statistics worked out of the derived tables, by scope and key (a memo)",
    "scope TEXT NOT NULL, memo_key TEXT NOT NULL, value TEXT NOT NULL, UNIQUE (scope, memo_key)",
)

# the columns stat_rows() gives, in this order
STAT_HAZARD_COLS = (
    "hazard_id",
    "hazard_m2",
    "remaining_stat_m2",
    "bare_m2",
    "bare_stat_m2",
    "computed_at",
)
STAT_PIECE_COLS = (
    "hazard_id",
    "seq",
    "release_type",
    "released_on",
    "overlap_m2",
    "outside_m2",
    "credited_stat_m2",
    "remaining_after_stat_m2",
)


# the Python types of the values each backend's _props hands back unchanged, by field type
_TEXT = frozenset({str})
_KEPT: dict[FieldType, frozenset[type]] = {
    FieldType.TEXT: _TEXT,
    FieldType.DATE: _TEXT,
    FieldType.DATETIME: _TEXT,
    FieldType.ENUM: _TEXT,
    FieldType.ENUM_LIST: _TEXT,
    FieldType.UUID: _TEXT,
    FieldType.INTEGER: frozenset({int}),
    FieldType.REAL: frozenset({float}),
}
_NONE_TYPE = frozenset({type(None)})
_BOOL = frozenset({bool, int})


class StatFigures:
    """The figures of :func:`stat_figures`: per hazard (minx, miny, maxx, maxy,
    remaining_stat_m2, bare_m2, bare_stat_m2), per piece (credited_stat_m2,
    remaining_after_stat_m2)."""

    def __init__(self, n: int) -> None:
        self.hazard: builtins.list[tuple[float, ...]] = [()] * n
        self.pieces: builtins.list[builtins.list[tuple[float | None, ...]]] = [[]] * n


# PostGIS: a chunk of zonal rows upserted at once, their columns as arrays (zonal_write)
ZONAL_UNNEST = (
    "INSERT INTO demine_derived_zonal (layer, layer_hash, hazard_id, computed_at, what, parts) "
    "SELECT %s, %s, h, a, w, p FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
    "AS t(h, a, w, p) ON CONFLICT (layer, hazard_id, what) DO UPDATE SET "
    "layer_hash = excluded.layer_hash, computed_at = excluded.computed_at, parts = excluded.parts"
)


def stat_figures(geoms: Sequence[Any], accs: Sequence[Any]) -> StatFigures:
    """What the statistics measure of each account (services/stats/land.py): every polygon
    they count (the credited pieces, the remaining polygon, the remaining one after the last
    release of a year, and the hazard with nothing released: its area and polygon) measured
    geodesically at the centre of the hazard's bounding box, as
    :meth:`demine.services.stats.areas.Areas.split_many` measures it with one area; and that
    box. The polygon of an account with nothing released is counted with its area as
    measured (:func:`demine.geo.release.unreleased`: the import's), as
    :func:`demine.services.stats.hazards.computed_figures` counts it. Kept so that the
    statistics add figures up instead of measuring polygons."""
    import numpy as np
    import shapely

    from demine.geo.geodesy import geodesic_area
    from demine.geo.release import DENSIFY_DEG, unreleased

    out = StatFigures(len(geoms))
    if not len(geoms):
        return out
    bounds = shapely.bounds(np.asarray(builtins.list(geoms), dtype=object)).reshape(-1, 4)
    bare = unreleased([g for g, a in zip(geoms, accs, strict=True) if a.pieces])
    it = iter(bare)
    polys: builtins.list[Any] = []
    centres: builtins.list[tuple[float, float]] = []
    bare_m2: builtins.list[float] = []
    for b, a in zip(bounds, accs, strict=True):
        if not a.pieces:  # untouched: nothing measured
            bare_m2.append(a.hazard_m2)
            continue
        c = (float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2)  # as stats/land.py _centre
        bare_m2.append(next(it).hazard_m2)
        polys.append(a.remaining)
        centres.append(c)
        for p in a.pieces:
            polys += [p.credited, p.remaining_after]
            centres += [c, c]
    arr = np.empty(len(polys), dtype=object)
    arr[:] = polys
    measured = (
        geodesic_area(shapely.segmentize(arr, DENSIFY_DEG), centre=np.asarray(centres))
        if len(arr)
        else np.zeros(0)
    )
    k = 0
    for i, (b, a) in enumerate(zip(bounds.tolist(), accs, strict=True)):
        if not a.pieces:
            out.hazard[i] = (*b, a.remaining_m2, bare_m2[i], bare_m2[i])
            continue
        out.hazard[i] = (*b, float(measured[k]), bare_m2[i], bare_m2[i])
        k += 1
        ps: builtins.list[tuple[float | None, ...]] = []
        for p in a.pieces:
            after = None if p.remaining_after is None else float(measured[k + 1])
            ps.append((float(measured[k]), after))
            k += 2
        out.pieces[i] = ps
    return out


class DerivedStats(Tables):
    """Plain-row reads for the statistics (``services/stats``)."""

    def stat_rows(self, fields: Sequence[str] = ()) -> builtins.list[Any] | None:
        """The columns of every derived hazard row (:data:`STAT_HAZARD_COLS`, then the value of
        each of the hazards' ``fields`` as a record's properties hold it; in the hazards'
        order); None when the derived tables are not built."""
        c = self.conn
        built = c.execute("SELECT value FROM demine_derived_state WHERE key = 'built'").fetchone()
        if built is None or built[0] != "yes":
            return None
        k = self.kind("hazards")
        cols = ", ".join([*(f"d.{x}" for x in STAT_HAZARD_COLS), *(f"h.{q(f)}" for f in fields)])
        rows = c.execute(
            f"SELECT {cols} FROM {q('hazards')} h JOIN demine_derived_hazard d "
            "ON d.hazard_id = h.id ORDER BY h.fid"
        ).fetchall()
        n = len(STAT_HAZARD_COLS)
        columns: builtins.list[Any] = builtins.list(zip(*rows, strict=True)) or [
            () for _ in range(n + len(fields))
        ]
        for i, f in enumerate(fields, start=n):
            columns[i] = self._as_properties(k, k.field(f), columns[i])
        return columns

    def stat_pieces(self) -> dict[str, builtins.list[Any]]:
        """Every derived piece row (:data:`STAT_PIECE_COLS`) by hazard, in crediting order."""
        rows = self.conn.execute(
            f"SELECT {', '.join(STAT_PIECE_COLS)} FROM demine_derived_piece ORDER BY hazard_id, seq"
        ).fetchall()
        return {h: builtins.list(g) for h, g in groupby(rows, key=itemgetter(0))}

    def stat_boxes(self) -> dict[str, tuple[float, float, float, float] | None]:
        """Each derived hazard's bounding box (minx, miny, maxx, maxy), by id."""
        rows = self.conn.execute(
            "SELECT hazard_id, minx, miny, maxx, maxy FROM demine_derived_hazard"
        ).fetchall()
        return {r[0]: None if r[1] is None else (r[1], r[2], r[3], r[4]) for r in rows}

    def field_rows(
        self, kind: str, fields: Sequence[str], *, geometry: str = "none"
    ) -> builtins.list[tuple[Any, ...]]:
        """(id, geometry, then the value of each of ``fields``) of every record of ``kind``, in
        the order :meth:`list` gives them, each value as a record's properties hold it (None
        when not set), without building records. ``geometry``: ``none`` (None), ``present``
        (whether the record has one), ``decoded`` or ``raw`` (as stored, bytes: see
        :meth:`decode_geometries`)."""
        k = self.kind(kind)
        specs = [k.field(f) for f in fields]
        cols = "".join(", " + q(f) for f in fields)
        g = "NULL"
        if k.geometry_type and geometry == "present":
            g = "geom IS NOT NULL"
        elif k.geometry_type and geometry in ("decoded", "raw"):
            g = self.GEOM_OUT
        rows = self.conn.execute(f"SELECT id, {g}{cols} FROM {q(k.name)} ORDER BY fid").fetchall()
        if not rows:
            return []
        columns: builtins.list[Any] = builtins.list(zip(*rows, strict=True))
        if geometry == "decoded" and k.geometry_type:
            columns[1] = builtins.list(self._decode(columns[1]))
        elif geometry == "raw" and k.geometry_type:
            columns[1] = [None if v is None else bytes(v) for v in columns[1]]
        elif geometry == "present":
            columns[1] = [bool(v) for v in columns[1]]
        for n, f in enumerate(specs, start=2):
            columns[n] = self._as_properties(k, f, columns[n])
        return builtins.list(zip(*columns, strict=True))

    def decode_geometries(self, raw: Sequence[Any]) -> builtins.list[Any]:
        """The geometries of :meth:`field_rows` with ``geometry="raw"``, decoded (None kept)."""
        return builtins.list(self._decode(raw)) if len(raw) else []

    def field_counts(
        self,
        kind: str,
        fields: Sequence[str],
        present: Sequence[str] = (),
        years: Sequence[str] = (),
    ) -> builtins.list[tuple[Any, ...]]:
        """The records of ``kind`` counted by the values of ``fields`` (each as a record's
        properties hold it) and whether each of ``present`` is set: (how many, then the
        values, then the flags), in the order of each group's first record (as :meth:`list`
        gives them). The fields among ``years`` (partial dates: text in both backends) are
        counted by their first four characters, what the statistics take the year from; so
        are date-times among them (a timestamp's year in UTC in PostGIS: its text's)."""
        k = self.kind(kind)
        for f in years:
            if not (k.field(f).partial or k.field(f).type is FieldType.DATETIME):
                raise ValueError(f"{kind}.{f} is not a partial date or a date-time")
        cols = [self._year_sql(k.field(f)) if f in years else q(f) for f in fields]
        cols += [f"({q(f)} IS NOT NULL)" for f in present]
        by = ", ".join(cols)
        rows = self.conn.execute(
            f"SELECT count(*), min(fid){''.join(', ' + c for c in cols)} FROM {q(k.name)} "
            + (f"GROUP BY {by} " if by else "")
            + "ORDER BY 2"
        ).fetchall()
        rows = [r for r in rows if r[0]]  # no records: no group
        if not rows:
            return []
        columns: builtins.list[Any] = builtins.list(zip(*rows, strict=True))
        for n, f in enumerate(fields, start=2):
            columns[n] = self._as_properties(k, k.field(f), columns[n])
        for n in range(2 + len(fields), len(columns)):
            columns[n] = [bool(v) for v in columns[n]]
        return [(r[0], *r[2:]) for r in zip(*columns, strict=True)]

    def _year_sql(self, f: FieldSpec) -> str:
        """The first four characters of a partial date's or a date-time's text (see
        :meth:`field_counts`)."""
        if f.type is FieldType.DATETIME and not f.partial and self.P == "%s":  # timestamptz
            return f"to_char({q(f.name)} AT TIME ZONE 'UTC', 'YYYY')"
        return f"substr({q(f.name)}, 1, 4)"

    def _as_properties(self, kind: Kind, f: FieldSpec, values: Sequence[Any]) -> Sequence[Any]:
        """A column's values as :meth:`_props` makes them (None kept): at once when every
        value is one the backends keep as it is, else one by one."""
        kept = _KEPT.get(f.type)
        types = set(map(type, values)) - _NONE_TYPE
        if kept is not None and types <= kept:
            return values  # every value None or of a type kept
        if f.type is FieldType.BOOLEAN and types <= _BOOL:  # as both backends' _props
            return [None if v is None else bool(v) for v in values]
        one = dataclasses.replace(kind, fields=(f,))
        props = self._props
        return [None if v is None else props(one, (v,)).get(f.name) for v in values]

    def derived_remaining(
        self, hazard_ids: Sequence[str], after: Sequence[int | None] | None = None
    ) -> builtins.list[Any]:
        """The remaining polygon of each of these hazards' accounts (as
        :meth:`derived_accounts` gives it: on its precision grid), or with ``after`` (a piece's
        ``seq`` per hazard) the one kept after that piece (``remaining_after``); None where no
        polygon is kept (the caller computes it)."""
        from demine.store.core.derived_schema import on_grid, own_geom_sql

        out: builtins.list[Any] = [None] * len(hazard_ids)
        where = {h: i for i, h in enumerate(hazard_ids)}
        for chunk in self._chunks(builtins.list(hazard_ids)):
            if not chunk:
                continue
            sql, args = self._in("hazard_id", chunk)
            if after is None:  # a row with no remaining polygon: the hazard's own
                rows = self.conn.execute(
                    f"SELECT d.hazard_id, d.remaining, d.remaining_grid, "
                    f"{own_geom_sql(self.GEOM_OUT)} FROM demine_derived_hazard d "
                    f"JOIN {q('hazards')} h ON h.id = d.hazard_id WHERE d.{sql}",
                    args,
                ).fetchall()
            else:
                seq = {h: after[where[h]] for h in chunk}
                rows = [
                    (h, b, 0.0, None)
                    for h, s, b in self.conn.execute(
                        "SELECT hazard_id, seq, remaining_after FROM demine_derived_piece "
                        f"WHERE {sql} AND remaining_after IS NOT NULL",
                        args,
                    ).fetchall()
                    if s == seq[h]
                ]
            rows = [r for r in rows if r[1] is not None or r[3] is not None]
            geoms = on_grid(
                [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], self._decode
            )
            for r, g in zip(rows, geoms, strict=True):
                out[where[r[0]]] = g
        return out

    def derived_credited(self, hazard_ids: Sequence[str]) -> dict[tuple[str, int], Any]:
        """The credited polygon of every piece of these hazards' accounts (as
        :meth:`derived_accounts` gives it), by (hazard id, ``seq``): without the rest."""
        import numpy as np
        import shapely

        out: dict[tuple[str, int], Any] = {}
        for chunk in self._chunks(builtins.list(hazard_ids)):
            if not chunk:
                continue
            sql, args = self._in("hazard_id", chunk)
            rows = self.conn.execute(
                f"SELECT hazard_id, seq, credited FROM demine_derived_piece WHERE {sql}", args
            ).fetchall()
            blobs = np.empty(len(rows), dtype=object)
            blobs[:] = [None if r[2] is None else bytes(r[2]) for r in rows]
            for r, g in zip(rows, shapely.from_wkb(blobs), strict=True):
                out[(str(r[0]), int(r[1]))] = g
        return out

    def release_orphans(self) -> Sequence[Any]:
        """The ``released_on`` (as a record's properties hold it) of every release that names
        no hazard of the store or has no geometry."""
        k = self.kind("releases")
        rows = self.conn.execute(
            f"SELECT released_on FROM {q('releases')} r WHERE r.geom IS NULL "
            f"OR r.hazard_id IS NULL OR NOT EXISTS (SELECT 1 FROM {q('hazards')} h "
            "WHERE h.id = r.hazard_id) ORDER BY r.fid"
        ).fetchall()
        return self._as_properties(k, k.field("released_on"), [r[0] for r in rows])

    # --- the zonal table ------------------------------------------------------------------

    def zonal_read(self, layer: str, layer_hash: str) -> dict[tuple[str, str], str]:
        """The kept splits (JSON) of reference layer ``layer`` with content ``layer_hash``, by
        (hazard id, polygon), of the hazards whose account has not changed since."""
        rows = self.conn.execute(
            "SELECT z.hazard_id, z.what, z.parts FROM demine_derived_zonal z "
            "JOIN demine_derived_hazard d ON d.hazard_id = z.hazard_id "
            f"AND d.computed_at = z.computed_at WHERE z.layer = {self.P} "
            f"AND z.layer_hash = {self.P}",
            (layer, layer_hash),
        ).fetchall()
        return {(h, w): p for h, w, p in rows}

    def zonal_write(
        self, layer: str, layer_hash: str, rows: Sequence[tuple[str, str, str, str]]
    ) -> None:
        """Keep splits (hazard id, its account's computed_at, polygon, JSON) of ``layer`` with
        content ``layer_hash``; the rows of the layer's other contents go. A cache: a store
        that cannot be written (read only, busy) keeps nothing and says nothing. A hazard's
        rows go when its account is computed again."""
        P = self.P
        stale = f"DELETE FROM demine_derived_zonal WHERE layer = {P} AND layer_hash <> {P}"
        ins = (
            "INSERT INTO demine_derived_zonal (layer, layer_hash, hazard_id, computed_at, what, "
            f"parts) VALUES ({P}, {P}, {P}, {P}, {P}, {P}) ON CONFLICT (layer, hazard_id, what) "
            "DO UPDATE SET layer_hash = excluded.layer_hash, computed_at = excluded.computed_at, "
            "parts = excluded.parts"
        )

        def body(c: Any) -> None:
            c.execute(stale, (layer, layer_hash))
            self._zonal_insert(c, ins, layer, layer_hash, rows)

        if not rows:
            return
        quiet: tuple[type[BaseException], ...] = (*self.DRIVER_ERRORS, DemineError)
        with contextlib.suppress(*quiet):
            self._transaction("__zonal__", body)

    def _zonal_insert(
        self,
        c: Any,
        ins: str,
        layer: str,
        layer_hash: str,
        rows: Sequence[tuple[str, str, str, str]],
    ) -> None:
        """Run ``ins`` (:meth:`zonal_write`'s upsert) for each row (a backend may do it at
        once)."""
        self._executemany(c, ins, [(layer, layer_hash, *r) for r in rows])

    # --- the statistics' memo -------------------------------------------------------------

    def memo_read(self, scope: str, key: str | None = None) -> dict[str, str]:
        """The kept values (JSON) of ``scope`` by memo key: the overlaps of the groups of open
        hazards of a period (``services/stats/overlaps.py``), the splits of every hazard
        among a layer's areas (``services/stats/figures.py``); each key a hash of what the
        value is worked out of (the hazards and their accounts' ``computed_at``). With
        ``key``: only that one (when kept)."""
        sql = f"SELECT memo_key, value FROM demine_derived_memo WHERE scope = {self.P}"
        args: tuple[str, ...] = (scope,)
        if key is not None:
            sql, args = f"{sql} AND memo_key = {self.P}", (scope, key)
        rows = self.conn.execute(sql, args).fetchall()
        return {str(k): str(v) for k, v in rows}

    def memo_write(self, scope: str, rows: Sequence[tuple[str, str]], keep: Iterable[str]) -> None:
        """Keep values (memo key, JSON) of ``scope``; its rows whose key is not in ``keep``
        (nor among ``rows``) go. A cache: a store that cannot be written keeps nothing and
        says nothing."""
        P = self.P
        ins = (
            "INSERT INTO demine_derived_memo (scope, memo_key, value) "
            f"VALUES ({P}, {P}, {P}) ON CONFLICT (scope, memo_key) "
            "DO UPDATE SET value = excluded.value"
        )
        wanted = set(keep) | {k for k, _ in rows}

        def body(c: Any) -> None:
            old = c.execute(
                f"SELECT memo_key FROM demine_derived_memo WHERE scope = {P}", (scope,)
            ).fetchall()
            gone = [(scope, str(k)) for (k,) in old if str(k) not in wanted]
            self._executemany(
                c, f"DELETE FROM demine_derived_memo WHERE scope = {P} AND memo_key = {P}", gone
            )
            self._executemany(c, ins, [(scope, *r) for r in rows])

        if not rows:
            return
        quiet: tuple[type[BaseException], ...] = (*self.DRIVER_ERRORS, DemineError)
        with contextlib.suppress(*quiet):
            self._transaction("__zonal__", body)
