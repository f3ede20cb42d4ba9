"""The admin areas the statistics are split by: the polygons of a reference layer, or one
area (``all``), and how a polygon's area is split among them in whole m²."""

from __future__ import annotations

import functools
import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from demine.errors import Fault, ValidationError
from demine.model.kinds import Kind
from demine.model.schema import FieldType
from demine.store.base import Store

# numpy, shapely, pyproj (demine.geo) and .cutting are imported where polygons are handled:
# with one area (no layer) the statistics read figures and never load them (a short process)

ALL = "all"  # the one area when no layer is given
UNASSIGNED = "unassigned"  # what lies in no admin polygon
NAME_FIELDS = ("name", "name_en", "name_uk", "region", "admin_name", "adm1_en", "title")


def whole_m2(x: float) -> int:
    """A figure rounded to the nearest whole m² (halves up): as :func:`.cutting.whole_m2`."""
    return int(math.floor(x + 0.5))


class Areas:
    """The admin polygons of a reference layer, in the layer's order, or one area (``all``)."""

    def __init__(self, names: Sequence[str], geoms: Sequence[Any], layer: str | None) -> None:
        self.layer = layer
        self.names = list(names)
        h = hashlib.sha1(b"demine split 1")  # the splitting rule's version
        if not geoms:  # one area (or none): no polygon, nothing loaded
            self.geoms: list[Any] = []
            self.tree: Any = None
            self._layer_key = h.digest()
            return
        import numpy as np
        import shapely

        from demine.geo.release import GRID
        from demine.geo.release import polygonal as _polygonal

        arr = np.empty(len(geoms), dtype=object)
        arr[:] = list(geoms)
        self.geoms = [_polygonal(g) for g in shapely.set_precision(shapely.make_valid(arr), GRID)]
        self.tree = shapely.STRtree(self.geoms) if self.geoms else None
        for b in shapely.to_wkb(np.asarray(self.geoms, dtype=object)) if self.geoms else []:
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        self._layer_key = h.digest()

    @property
    def order(self) -> list[str]:
        if self.layer is None:
            return [ALL]
        seen: dict[str, None] = dict.fromkeys(self.names)
        seen[UNASSIGNED] = None
        return list(seen)

    def split(self, g: Any, centre: tuple[float, float]) -> list[tuple[str, int]]:
        """The parts of polygon ``g`` in each area, in whole m² (one rounding each)."""
        return self._named(self._parts(g, centre))

    def _parts(self, g: Any, centre: tuple[float, float]) -> list[tuple[int, int]]:
        """The parts of ``g`` in each admin polygon (its index; -1: in none, or the one area
        when there is no layer), each in whole m², in the order they are cut."""
        return self.parts_many([g], [centre])[0]

    def parts_many(
        self, geoms: Sequence[Any], centres: Sequence[tuple[float, float]]
    ) -> list[list[tuple[int, int]]]:
        """:meth:`parts_of` of each polygon with its centre, cut and measured together
        (:mod:`.cutting`: the same figures)."""
        from demine.services.stats import cutting

        return cutting.measured(cutting.parts_many(self, geoms, centres), centres)

    @functools.cached_property
    def boundary_tree(self) -> Any:
        """An STRtree of the admin polygons' boundaries, segment by segment: a polygon is
        within a distance of a boundary when it is of one of its segments, and the segments'
        boxes (unlike a whole boundary's) leave few candidates to measure."""
        import numpy as np
        import shapely

        lines = shapely.get_parts(shapely.boundary(np.asarray(self.geoms, dtype=object)))
        xy, which = shapely.get_coordinates(lines, return_index=True)
        same = np.nonzero(which[1:] == which[:-1])[0]  # a segment: a vertex and the next
        ends = np.stack([xy[same], xy[same + 1]], axis=1)
        return shapely.STRtree(shapely.linestrings(ends) if len(ends) else [])

    def _named(self, parts: Sequence[tuple[int, int]]) -> list[tuple[str, int]]:
        out: dict[str, int] = defaultdict(int)
        for i, m2 in parts:
            name = self.names[i] if i >= 0 else (ALL if self.layer is None else UNASSIGNED)
            out[name] += m2
        return [(k, v) for k, v in out.items() if v]

    def split_many(
        self, geoms: Sequence[Any], centres: Sequence[tuple[float, float]]
    ) -> list[list[tuple[str, int]]]:
        """:meth:`split` of each polygon with its centre: the same figures, measured together
        when there is one area (each area depends only on its polygon and centre)."""
        if self.layer is not None:
            return [self._named(p) for p in self.parts_many(geoms, centres)]
        import numpy as np
        import shapely

        from demine.geo.geodesy import geodesic_area
        from demine.geo.release import DENSIFY_DEG

        todo = [i for i, g in enumerate(geoms) if g is not None and not shapely.is_empty(g)]
        out: list[list[tuple[str, int]]] = [[] for _ in geoms]
        if not todo:
            return out
        areas = geodesic_area(
            shapely.segmentize(np.asarray([geoms[i] for i in todo], dtype=object), DENSIFY_DEG),
            centre=np.asarray([centres[i] for i in todo], dtype=np.float64).reshape(-1, 2),
        )
        for i, a in zip(todo, areas, strict=True):
            m2 = whole_m2(float(a))
            out[i] = [(ALL, m2)] if m2 else []
        return out

    def of_point(self, g: Any) -> str:
        if self.layer is None:
            return ALL
        return self.name_of(self.index_of(g))

    def index_of(self, g: Any) -> int:
        """The first admin polygon (its index) that ``g`` meets; -1 when none."""
        import shapely

        if g is None or shapely.is_empty(g) or self.tree is None:
            return -1
        hits = self.tree.query(g, predicate="intersects")
        return int(min(hits)) if len(hits) else -1

    def name_of(self, i: int) -> str:
        """The name of admin polygon ``i`` (-1: in none, or the one area)."""
        if self.layer is None:
            return ALL
        return self.names[i] if i >= 0 else UNASSIGNED

    def of_points(self, geoms: Sequence[Any]) -> list[str]:
        """:meth:`of_point` of each geometry, queried together."""
        if self.layer is None:
            return [ALL] * len(geoms)
        return [self.name_of(i) for i in self.indexes_of(geoms)]

    def indexes_of(self, geoms: Sequence[Any]) -> list[int]:
        """:meth:`index_of` of each geometry, queried together."""
        import numpy as np

        first = np.full(len(geoms), -1, dtype=np.int64)
        if self.tree is not None and len(geoms):
            arr = np.empty(len(geoms), dtype=object)
            arr[:] = list(geoms)
            a, b = self.tree.query(arr, predicate="intersects")
            if len(a):
                order = np.lexsort((b, a))  # by geometry, then admin polygon: the first is min
                a, b = a[order], b[order]
                keep = np.ones(len(a), bool)
                keep[1:] = a[1:] != a[:-1]
                first[a[keep]] = b[keep]
        return [int(i) for i in first]

    @property
    def layer_hash(self) -> str:
        """What every split depends on besides the polygon and its centre: the splitting rule
        and the admin polygons, in order."""
        return self._layer_key.hex()

    def parts_of(self, g: Any, centre: tuple[float, float]) -> list[tuple[int, int]]:
        """The parts of ``g`` in each admin polygon (index, whole m²), as :meth:`split` makes
        them before naming (:meth:`named`)."""
        return self._parts(g, centre)

    def named(self, parts: Sequence[tuple[int, int]]) -> list[tuple[str, int]]:
        return self._named(parts)


def layer_of(store: Store, layer: str) -> Kind:
    """The reference layer named ``layer``. One answer for every name that is not one (a record
    kind or nothing), listing only the reference layers, which every role may read: the error
    tells no one which record kinds there are."""
    layers = sorted(k.name for k in store.kinds() if k.is_layer)
    name = layer[len("layer:") :] if layer.startswith("layer:") else layer
    if name not in layers:
        raise ValidationError(
            f"no reference layer named {layer!r}",
            [
                Fault(
                    "reference layers: "
                    + (
                        ", ".join(layers)
                        or "none (import admin areas with: demine import FILE --kind layer:NAME)"
                    ),
                    field="by",
                )
            ],
        )
    return store.kind(name)


def load_areas(store: Store, layer: str | None, name_field: str | None = None) -> Areas:
    """The admin polygons of reference layer ``layer`` (None: one area, ``all``), named by
    ``name_field`` (default: the first of name, name_en, name_uk, region, ... the layer has,
    else its first text field, else the record id)."""
    if layer is None:
        return Areas([], [], None)
    kind = layer_of(store, layer)
    fields = kind.field_names
    if name_field is not None and name_field not in fields:
        raise ValidationError(
            f"layer {kind.name!r} has no field {name_field!r}",
            [Fault(f"expected one of {', '.join(fields) or '(none)'}", field="name_field")],
        )
    nf = name_field or next((f for f in NAME_FIELDS if f in fields), None)
    if nf is None:
        nf = next((f.name for f in kind.fields if f.type is FieldType.TEXT), None)
    names: list[str] = []
    geoms: list[Any] = []
    for r in store.list(kind.name):
        if r.geometry is None or r.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        v = r.properties.get(nf) if nf else None
        names.append(str(v) if v not in (None, "") else r.id)
        geoms.append(r.geometry)
    return Areas(names, geoms, kind.name)


def in_area_order(counts: Mapping[str, int], areas: Areas) -> dict[str, int]:
    order = {n: i for i, n in enumerate(areas.order)}
    return {k: counts[k] for k in sorted(counts, key=lambda n: (order.get(n, 1e9), n))}
