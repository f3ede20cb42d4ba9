"""The fields of a reference layer: its column names and types, taken from the file.

A reference layer keeps its source's field names (case, underscores, letters of any script) and
types. What cannot be a column as it is, is renamed with a warning naming the field:

* a run of characters other than letters, digits and ``_`` (a space, ``-``, ``.``, ``(``)
  becomes one ``_`` (``"Area (km2)"`` -> ``Area_km2``);
* a name starting with a digit gets ``f_`` in front (a CQL2 name cannot start with one);
* a name that is a column every demine table has, or ``geometry`` (whatever its case), gets
  ``src_`` in front (``fid`` -> ``src_fid``, ``Geom`` -> ``src_Geom``);
* a name longer than 63 bytes in UTF-8 (PostgreSQL's limit) is cut to 63;
* a name with nothing left gets ``field_N`` (N: its position in the file).

``id`` and ``source_id`` (in any case) are the feature's source id, as for every kind. Two
source fields that differ only by case (a GeoPackage column name is case-insensitive), or that
the renaming above makes the same, are a fault naming both and the feature where the second
appears: the file is refused until one is renamed (``--map``).

Types (a new layer): the source's declared type where it has one (a GeoPackage or Shapefile
field, read by :mod:`demine.io.sources`), else from the values, nulls ignored: all booleans ->
BOOLEAN; all whole numbers (within 64 bits) -> INTEGER; numbers -> REAL; strings that are all
ISO dates (``YYYY-MM-DD``) -> DATE, all ISO date-times -> DATETIME (read as UTC when they name
no offset); anything else (mixed, nested values kept as JSON) -> TEXT. In a CSV file every value
is text: a column whose every cell is a whole number without leading zeros is INTEGER, a number
REAL, ``true``/``false`` BOOLEAN, and dates as above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from demine.errors import Fault
from demine.model.kinds import Kind
from demine.model.schema import FieldSpec, FieldType

# columns every demine table has (and ``geometry``, which names the geometry in a CQL2 filter):
# a source field of the same name, in any case, is kept as src_NAME
TABLE_COLUMNS = frozenset(
    {
        "fid",
        "geom",
        "geometry",
        "extra",
        "revision",
        "created_at",
        "updated_at",
        "updated_by",
        "record_organisation",
    }
)
IDENTITY = frozenset({"id", "source_id"})  # the feature's source id, in any case
MAX_BYTES = 63  # PostgreSQL's identifier length (NAMEDATALEN - 1)

_UNSAFE = re.compile(r"\W+")  # anything but letters, digits (any script) and _
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fullmatch
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?"
)  # fullmatch
_CSV_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")  # fullmatch: "007" stays text
_CSV_REAL = re.compile(r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")  # fullmatch
_CSV_BOOL = {"true", "false"}


def legacy_name(name: str) -> str:
    """The column name demine gave a source field before names were kept (lower case, ASCII):
    a layer made then keeps its columns, and a re-import finds them."""
    s = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    if not s or not s[0].isalpha():
        s = "f_" + s
    s = s[:63]
    return "src_" + s if s in TABLE_COLUMNS else s


def column_name(name: str, position: int = 0) -> tuple[str, str | None]:
    """The column a source field is kept in, and why it differs from ``name`` (None: it is
    ``name``). ``position`` (1-based) names a field with no usable character."""
    if name.lower() in IDENTITY:
        return name.lower(), None
    col = "_".join(p for p in _UNSAFE.split(name) if p)
    why: list[str] = []
    if col != name:
        why.append("characters other than letters, digits and _ become _")
    if not col:
        col = f"field_{position}"
        why = ["it has no letter or digit"]
    if col[0].isdigit():
        col = "f_" + col
        why.append("a name cannot start with a digit")
    if col.lower() in TABLE_COLUMNS:
        col = "src_" + col
        why.append(f"{col[4:]!r} is a column of every demine table")
    if len(col.encode()) > MAX_BYTES:
        cut = col.encode()[:MAX_BYTES].decode(errors="ignore")
        col = cut
        why.append(f"a column name is at most {MAX_BYTES} bytes")
    return col, ("; ".join(why) if why else None)


@dataclass
class LayerNames:
    """Source field -> column, for one file; the renaming warnings and the clashes."""

    columns: dict[str, str] = field(default_factory=dict)
    warnings: list[Fault] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def props(self, props: Mapping[str, Any]) -> dict[str, Any]:
        cols = self.columns
        return {cols.get(k, k): v for k, v in props.items()}


def layer_names(features: Sequence[Any], src: str, existing: Kind | None = None) -> LayerNames:
    """The columns of every source field in ``features`` (each with ``.properties`` and
    ``.index``). Importing into an ``existing`` layer, a field also finds the column a layer
    made before names were kept gave it."""
    have = set(existing.field_names) if existing is not None else set()
    out = LayerNames()
    seen: dict[str, tuple[str, int]] = {}  # casefolded column -> (source name, first index)
    for f in features:
        for name in f.properties:
            if name in out.columns:
                continue
            col, why = column_name(name, len(out.columns) + 1)
            if existing is not None and col not in have and legacy_name(name) in have:
                col, why = legacy_name(name), None
            out.columns[name] = col
            if col in IDENTITY:
                continue
            key = col.casefold()
            if key in seen:
                other, first = seen[key]
                out.faults.append(
                    Fault(
                        f"fields {other!r} (feature {first}) and {name!r} would both be column "
                        f"{col!r}: column names are the same whatever their case; rename one "
                        "(--map)",
                        f.index,
                        name,
                        src,
                    )
                )
                continue
            seen[key] = (name, f.index)
            if why is not None:
                out.warnings.append(
                    Fault(f"field {name!r} is kept as {col!r} ({why})", None, name, src)
                )
    return out


def _value_type(v: Any, csv: bool) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):  # beyond 64 bits no column holds it as a number: kept as text
        return "integer" if -(2**63) <= v < 2**63 else "text"
    if isinstance(v, float):
        return "real"
    if isinstance(v, str):
        s = v.strip()
        if _ISO_DATE.fullmatch(s):
            try:
                date.fromisoformat(s)
                return "date"
            except ValueError:
                return "text"
        if _ISO_DATETIME.fullmatch(s):
            try:
                datetime.fromisoformat(s.replace("z", "Z").replace("Z", "+00:00"))
                return "datetime"
            except ValueError:
                return "text"
        if csv:
            if _CSV_INT.fullmatch(s):
                return _value_type(int(s), False)
            if _CSV_REAL.fullmatch(s):
                return "real"
            if s.lower() in _CSV_BOOL:
                return "boolean"
    return "text"


_ONE = {
    frozenset({"boolean"}): FieldType.BOOLEAN,
    frozenset({"integer"}): FieldType.INTEGER,
    frozenset({"real"}): FieldType.REAL,
    frozenset({"integer", "real"}): FieldType.REAL,
    frozenset({"date"}): FieldType.DATE,
    frozenset({"datetime"}): FieldType.DATETIME,
}


def infer_fields(
    features: Sequence[Any],
    names: LayerNames,
    declared: Mapping[str, FieldType] | None = None,
    *,
    csv: bool = False,
) -> tuple[FieldSpec, ...]:
    """The fields of a new layer, in the order they first appear (see the module)."""
    seen: dict[str, set[str]] = {}
    source_of: dict[str, str] = {}
    for f in features:
        for k, v in f.properties.items():
            col = names.columns.get(k, k)
            if col in IDENTITY:
                continue
            types = seen.setdefault(col, set())
            source_of.setdefault(col, k)
            if v is not None:
                types.add("text" if isinstance(v, (dict, list)) else _value_type(v, csv))
    out = []
    for col, types in seen.items():
        d = (declared or {}).get(source_of[col])
        t = d if d is not None else _ONE.get(frozenset(types), FieldType.TEXT)
        out.append(FieldSpec(col, t))
    return tuple(out)
