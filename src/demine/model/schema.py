"""Field specifications, value coercion and the generic record.

Each record kind (see :mod:`demine.model.kinds`) is a list of :class:`FieldSpec`. One table of
specs drives validation here, the GeoPackage columns in the store, import mapping and export, so
the rules live in one place.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from demine.errors import Fault
from demine.model.dates import UNKNOWN, BadPartial, parse_partial


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    ENUM_LIST = "enum_list"  # several values from `choices`, stored comma-separated
    UUID = "uuid"


class Access(StrEnum):
    """Who may read a field. Used by the web faces; the store keeps every field."""

    PUBLIC = "public"
    FIELD = "field"
    ANALYST = "analyst"
    VICTIM_ASSISTANCE = "victim_assistance"


SQL_TYPES: dict[FieldType, str] = {
    FieldType.TEXT: "TEXT",
    FieldType.INTEGER: "INTEGER",
    FieldType.REAL: "REAL",
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.DATE: "DATE",
    FieldType.DATETIME: "DATETIME",
    FieldType.ENUM: "TEXT",
    FieldType.ENUM_LIST: "TEXT",
    FieldType.UUID: "TEXT",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    description: str = ""
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    access: Access = Access.PUBLIC
    derived: bool = False  # computed by demine (e.g. area_m2): never taken from input
    unit: str | None = None
    # a date or date-time field that legacy records may know only in part: a year-month or a
    # year (``partial``), or not at all (``unknown``); see demine.model.dates
    partial: bool = False
    unknown: bool = False

    @property
    def sql_type(self) -> str:
        # a partial date is not a GeoPackage DATE/DATETIME (and SQLite would turn "2019" into
        # an integer in a column of NUMERIC affinity): TEXT, holding the same ISO text
        return "TEXT" if self.partial else SQL_TYPES[self.type]


Rule = Callable[[Mapping[str, Any]], list[tuple[str, str]]]
"""A cross-field rule: takes the coerced properties, returns (field, reason) pairs."""


@dataclass(slots=True)
class Record:
    """One stored record of any kind: an id, its validated properties and its geometry.

    ``geometry`` is a shapely geometry in CRS84 (lon, lat) or None.
    """

    kind: str
    id: str
    properties: dict[str, Any]
    geometry: Any = None
    source_id: str | None = None
    revision: int = 0
    created_at: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the code of the organisation that made the record (set by the store, never by a writer)
    record_organisation: str | None = None

    def to_dict(self, *, geometry: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "source_id": self.source_id,
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "properties": dict(self.properties),
        }
        if self.record_organisation is not None:  # a current record's (not a revision's)
            d["record_organisation"] = self.record_organisation
        if self.extra:
            d["extra"] = dict(self.extra)
        if geometry:
            import shapely

            d["geometry"] = (
                None if self.geometry is None else _geojson_mapping(shapely, self.geometry)
            )
        return d


def _geojson_mapping(shapely_mod: Any, geom: Any) -> Any:
    import orjson

    return orjson.loads(shapely_mod.to_geojson(geom))


# --- value coercion -------------------------------------------------------------------------

_TRUE = {"true", "yes", "y", "1", "t", "так"}
_FALSE = {"false", "no", "n", "0", "f", "ні"}


class _Bad(Exception):
    pass


def now_utc() -> str:
    return format_datetime(datetime.now(UTC))


def format_datetime(dt: datetime) -> str:
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    # GeoPackage DATETIME: YYYY-MM-DDTHH:MM:SS[.SSS]Z (milliseconds at most)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond // 1000 else "seconds")
    return text.replace("+00:00", "Z")


def _norm_choice(value: str) -> str:
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def coerce(spec: FieldSpec, value: Any) -> Any:
    """Coerce one input value to the field's canonical form, or raise _Bad with the reason."""
    # fast paths: values already in canonical form (most of a large import)
    if type(value) is str and value:
        if spec.type is FieldType.TEXT:
            return value
        if spec.type is FieldType.ENUM and spec.choices is not None and value in spec.choices:
            return value
    if value is None or (
        isinstance(value, str) and value.strip() == "" and spec.type is not FieldType.TEXT
    ):
        return None
    t = spec.type
    if t is FieldType.TEXT:
        if isinstance(value, (dict, list)):
            raise _Bad("expected text, got a " + type(value).__name__)
        text = str(value)
        return text if text != "" else None
    if t is FieldType.INTEGER:
        if isinstance(value, bool):
            raise _Bad(f"expected {expected(spec)}, got a boolean")
        if isinstance(value, int):
            out_i = value
        elif isinstance(value, float) and value.is_integer():
            out_i = int(value)
        elif isinstance(value, str):
            try:
                f = float(value.strip())
            except ValueError:
                raise _Bad(f"expected {expected(spec)}, got {value!r}") from None
            if not f.is_integer():
                raise _Bad(f"expected {expected(spec)}, got {value!r}")
            out_i = int(f)
        else:
            raise _Bad(f"expected {expected(spec)}, got {value!r}")
        _check_range(spec, out_i)
        return out_i
    if t is FieldType.REAL:
        if isinstance(value, bool):
            raise _Bad(f"expected {expected(spec)}, got a boolean")
        try:
            out_f = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise _Bad(f"expected {expected(spec)}, got {value!r}") from None
        if not math.isfinite(out_f):
            raise _Bad(f"expected a finite number, got {value!r}")
        _check_range(spec, out_f)
        return out_f
    if t is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _Bad(f"expected {expected(spec)}, got {value!r}")
    if spec.partial and (t is FieldType.DATE or t is FieldType.DATETIME):
        kept = _partial_date(spec, value)
        if kept is not None:
            return kept
    if t is FieldType.DATE:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        try:
            return date.fromisoformat(text[:10] if "T" in text else text).isoformat()
        except ValueError:
            raise _Bad(f"expected {expected(spec)}, got {value!r}") from None
    if t is FieldType.DATETIME:
        if isinstance(value, datetime):
            return format_datetime(value)
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _Bad(f"expected {expected(spec)}, got {value!r}") from None
        return format_datetime(dt)
    if t is FieldType.ENUM:
        assert spec.choices is not None
        if not isinstance(value, str):
            raise _Bad(f"expected one of {', '.join(spec.choices)}, got {value!r}")
        n = _norm_choice(value)
        for c in spec.choices:
            if n == c.lower():
                return c
        raise _Bad(f"expected one of {', '.join(spec.choices)}, got {value!r}")
    if t is FieldType.ENUM_LIST:
        assert spec.choices is not None
        items = value if isinstance(value, list) else str(value).split(",")
        out: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise _Bad(f"expected one of {', '.join(spec.choices)}, got {item!r}")
            n = _norm_choice(item)
            if not n:
                continue
            match = next((c for c in spec.choices if c.lower() == n), None)
            if match is None:
                raise _Bad(f"expected one of {', '.join(spec.choices)}, got {item!r}")
            if match not in out:
                out.append(match)
        return ",".join(out) if out else None
    if t is FieldType.UUID:
        try:
            return str(uuid.UUID(str(value).strip()))
        except ValueError:
            raise _Bad(f"expected {expected(spec)}, got {value!r}") from None
    raise AssertionError(t)  # pragma: no cover


def expected(spec: FieldSpec) -> str | None:
    """What a field takes, in the words of a type fault ("expected a whole number, got ...");
    None for text and choices (their faults say otherwise). The form specification
    (services/forms.py) gives these words to the field app, which says the same."""
    t = spec.type
    if t is FieldType.INTEGER:
        return "a whole number"
    if t is FieldType.REAL:
        return "a number"
    if t is FieldType.BOOLEAN:
        return "true or false"
    if t is FieldType.DATE:
        return f"a date as {_date_forms(spec)}"
    if t is FieldType.DATETIME:
        also = f" or {_date_forms(spec, time=False)}" if spec.partial else ""
        return f"a date-time in ISO 8601 (e.g. 2025-03-01T08:30:00Z){also}"
    if t is FieldType.UUID:
        return "a UUID"
    return None


def _date_forms(spec: FieldSpec, *, time: bool = True) -> str:
    forms = ["YYYY-MM-DD"] if time else []
    if spec.partial:
        forms += ["YYYY-MM", "YYYY"]
    if spec.unknown:
        forms.append("unknown")
    if not time:
        return ", ".join(forms)
    return forms[0] if len(forms) == 1 else ", ".join(forms[:-1]) + " or " + forms[-1]


def _partial_date(spec: FieldSpec, value: Any) -> str | None:
    """A year, year-month or ``unknown`` kept as such (None: not one, coerce as a full date)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.lower() == UNKNOWN:
        if spec.unknown:
            return UNKNOWN
        raise _Bad(f"{spec.name} cannot be unknown: expected {_date_forms(spec)}, got {value!r}")
    try:
        return parse_partial(text)
    except BadPartial as e:
        raise _Bad(f"expected {_date_forms(spec)}, got {value!r}: {e}") from None


def _check_range(spec: FieldSpec, v: float) -> None:
    if spec.minimum is not None and v < spec.minimum:
        raise _Bad(f"{v} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and v > spec.maximum:
        raise _Bad(f"{v} is above the maximum {spec.maximum:g}")


_INDEX: dict[int, tuple[tuple[FieldSpec, ...], dict[str, FieldSpec], tuple[str, ...]]] = {}


def _field_index(fields: tuple[FieldSpec, ...]) -> tuple[dict[str, FieldSpec], tuple[str, ...]]:
    # keyed by identity: hashing a tuple of specs on every call costs more than the check
    hit = _INDEX.get(id(fields))
    if hit is None or hit[0] is not fields:
        hit = (
            fields,
            {f.name: f for f in fields},
            tuple(f.name for f in fields if f.required and not f.derived),
        )
        if len(_INDEX) > 256:
            _INDEX.clear()
        _INDEX[id(fields)] = hit
    return hit[1], hit[2]


def validate_properties(
    fields: tuple[FieldSpec, ...],
    rules: tuple[Rule, ...],
    props: Mapping[str, Any],
    *,
    index: int | None = None,
    source: str | None = None,
    feature_id: str | None = None,
    partial: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], list[Fault]]:
    """Check and coerce ``props`` against ``fields`` and ``rules``.

    Returns ``(clean, extra, faults)``: the canonical values of known fields, the unknown input
    keys kept as they are, and every fault found (never stops at the first).
    With ``partial`` (an update), missing required fields are not faults.
    """
    clean: dict[str, Any] = {}
    faults: list[Fault] = []
    extra: dict[str, Any] = {}
    known, required = _field_index(fields)
    for name, value in props.items():
        f = known.get(name)
        if f is None:
            extra[name] = value
            continue
        if f.derived:
            continue
        try:
            v = coerce(f, value)
        except _Bad as e:
            faults.append(Fault(str(e), index, name, source, feature_id))
            continue
        if v is None:
            if f.required:
                faults.append(Fault(f"{name} is required", index, name, source, feature_id))
            continue
        clean[name] = v
    if not partial:
        for name in required:
            if name not in props:
                faults.append(Fault(f"{name} is required", index, name, source, feature_id))
    if faults:  # in the kind's field order, whatever the input's order
        order = {n: i for i, n in enumerate(known)}
        faults.sort(key=lambda x: order.get(x.field or "", -1))
    else:
        for rule in rules:
            for fname, reason in rule(clean):
                faults.append(Fault(reason, index, fname, source, feature_id))
    return clean, extra, faults


# the value types whose coercion validate_many keeps per field: equal values of one of these
# types coerce alike (a float zero or NaN is not kept: 0.0 == -0.0 and NaN != NaN)
_KEPT_TYPES = frozenset({str, int, bool, float, type(None)})
_KEPT_MAX = 50_000  # distinct values kept per field (free text is never kept)


def validate_many(
    fields: tuple[FieldSpec, ...],
    rules: tuple[Rule, ...],
    props_list: Sequence[Mapping[str, Any]],
    *,
    indexes: Sequence[int | None],
    source: str | None = None,
    feature_ids: Sequence[str | None],
    partial: bool = False,
) -> list[tuple[dict[str, Any], dict[str, Any], list[Fault]]]:
    """:func:`validate_properties` of each of ``props_list`` (the features of one import, with
    their ``indexes`` and ``feature_ids``), with the same results, faster: each field coerces a
    value it has seen once (real data repeat a status, a type, an organisation or a date over
    thousands of features), and the field table is looked up once."""
    known, required = _field_index(fields)
    # per field: (the spec or None for a derived one, its coerced values, text, required)
    table: dict[str, tuple[FieldSpec | None, dict[Any, tuple[bool, Any]], bool, bool]] = {
        n: (None if f.derived else f, {}, f.type is FieldType.TEXT, f.required)
        for n, f in known.items()
    }
    order = {n: i for i, n in enumerate(known)}
    out: list[tuple[dict[str, Any], dict[str, Any], list[Fault]]] = []
    for props, index, fid in zip(props_list, indexes, feature_ids, strict=True):
        clean: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        faults: list[Fault] = []
        for name, value in props.items():
            entry = table.get(name)
            if entry is None:
                extra[name] = value
                continue
            spec, kept, text, req = entry
            if spec is None:
                continue
            if text and type(value) is str and value:  # coerce's own first fast path
                clean[name] = value
                continue
            got: tuple[bool, Any] | None
            try:
                got = kept.get((type(value), value))
            except TypeError:  # unhashable: a list or a dict
                got = None
            if got is None:
                try:
                    got = (True, coerce(spec, value))
                except _Bad as e:
                    got = (False, str(e))
                if (
                    type(value) in _KEPT_TYPES
                    and (type(value) is not float or (value == value and value != 0))
                    and len(kept) < _KEPT_MAX
                    and not text
                ):
                    kept[(type(value), value)] = got
            ok, v = got
            if not ok:
                faults.append(Fault(v, index, name, source, fid))
            elif v is None:
                if req:
                    faults.append(Fault(f"{name} is required", index, name, source, fid))
            else:
                clean[name] = v
        if not partial:
            for name in required:
                if name not in props:
                    faults.append(Fault(f"{name} is required", index, name, source, fid))
        if faults:  # in the kind's field order, whatever the input's order
            if len(faults) > 1:
                faults.sort(key=lambda x: order.get(x.field or "", -1))
        else:
            for rule in rules:
                for fname, reason in rule(clean):
                    faults.append(Fault(reason, index, fname, source, fid))
        out.append((clean, extra, faults))
    return out
