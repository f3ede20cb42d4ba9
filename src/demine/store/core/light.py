"""Light reads for whole-store rankings (``demine prioritize`` on a national store): some text
fields of a kind's records without their geometries, the points of a point kind without their
properties, and each hazard's remaining polygon from the derived tables without its release
pieces. Each gives what the full reads (:meth:`Records.list`, :meth:`Derived.derived_accounts`)
give for the same thing, at a fraction of the decoding."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from demine.errors import ValidationError
from demine.model.schema import FieldType
from demine.store.core.derived import Derived, on_grid, own_geom_sql
from demine.store.core.dialect import META_COLS, q

if TYPE_CHECKING:
    from demine.store.base import Where


_TEXT = (FieldType.TEXT, FieldType.ENUM, FieldType.UUID)  # stored and read as they are


class LightReads(Derived):
    """The light reads (see the module docstring)."""

    if TYPE_CHECKING:

        def _where(
            self, kind: Any, where: Where | None
        ) -> tuple[builtins.list[str], builtins.list[Any]]: ...

    def text_fields(
        self, kind: str, fields: builtins.list[str], *, where: Where | None = None
    ) -> builtins.list[tuple[Any, ...]]:
        """(id, *values) of the records of ``kind`` (``where`` as for ``list``), in fid order:
        the values of these text, enum or uuid fields as their records' properties hold them
        (None when unset). No geometry is read."""
        k = self.kind(kind)
        text = {f.name for f in k.fields if f.type in _TEXT and not f.partial}
        for f in fields:
            if f not in text and f not in META_COLS:
                raise ValidationError(f"{kind}.{f} is not a text field (text, enum or uuid)")
        conds, args = self._where(k, where)
        cols = ", ".join(["id", *(q(f) for f in fields)])
        sql = f"SELECT {cols} FROM {q(k.name)}"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        return [tuple(r) for r in self.conn.execute(sql + " ORDER BY fid", args).fetchall()]

    def geometries_only(self, kind: str) -> Any:
        """The geometries of the records of ``kind`` (None for none), in fid order, as a
        shapely array; no properties are read."""
        import numpy as np

        k = self.kind(kind)
        if not k.geometry_type:
            return np.empty(0, dtype=object)
        rows = self.conn.execute(f"SELECT {self.GEOM_OUT} FROM {q(k.name)} ORDER BY fid").fetchall()
        out = np.empty(len(rows), dtype=object)
        if rows:
            out[:] = builtins.list(self._decode([r[0] for r in rows]))
        return out

    def geometries_of(self, kind: str, ids: Sequence[str]) -> builtins.list[tuple[str, Any]]:
        """(id, geometry) of the records of ``kind`` with these ids (those that exist), in fid
        order, as :meth:`Records.get_many` gives them; no properties are read."""
        k = self.kind(kind)
        out: builtins.list[tuple[str, Any]] = []
        if not k.geometry_type:
            return out
        for chunk in self._chunks([str(i) for i in ids]):
            sql, args = self._in("id", chunk)
            rows = self.conn.execute(
                f"SELECT id, {self.GEOM_OUT} FROM {q(k.name)} WHERE {sql} ORDER BY fid", args
            ).fetchall()
            out += zip([str(r[0]) for r in rows], self._decode([r[1] for r in rows]), strict=True)
        return out

    def remaining_polygons(self) -> dict[str, Any] | None:
        """Every hazard's remaining polygon from the derived tables (what
        :meth:`derived_accounts` gives as ``remaining``, on its precision grid), keyed by hazard
        id; None when the tables are not built."""
        c = self.conn
        if not self._derived_built(c):
            return None
        rows = c.execute(
            f"SELECT d.hazard_id, d.remaining, d.remaining_grid, {own_geom_sql(self.GEOM_OUT)} "
            f"FROM demine_derived_hazard d JOIN {q('hazards')} h ON h.id = d.hazard_id"
        ).fetchall()
        remaining = on_grid(
            [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], self._decode
        )
        return dict(zip([str(r[0]) for r in rows], remaining, strict=True))
