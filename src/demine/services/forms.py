"""Form specifications (issue 14): one description of a kind's form, for the field app, the
XLSForm (``demine forms xlsform``) and the checks, made from the same field specifications
that validate every write (:mod:`demine.model.kinds`) and the store's minimum data
(:mod:`demine.services.quality`), so a form can never drift from the database.

:func:`form_spec` gives, for one kind and role::

    {"kind", "title": {"en", "uk"}, "geometry": "Polygon"|"Point"|null, "geometry_required",
     "fields": [{"name", "type", "label", "hint", "required", "minimum_data", "choices",
                 "multiple", "min", "max", "max_length", "restricted", "expects", "partial",
                 "unknown", "catalogue"}],
     "messages": {"required", "choice", "range", "range_max", "type", "catalogue"},
     "version"}

* ``type``: ``text``, ``integer``, ``number``, ``date``, ``datetime``, ``boolean``,
  ``choice`` or ``reference`` (the id of another record: ``hazard_id`` and the like).
  ``multiple`` (an addition to the contract): a choice of several values (the server keeps
  them comma-separated). ``device_type`` is a choice of the store's device-type catalogue
  (a write naming any other code is refused), or text while the catalogue is empty.
* Fields the role may not set (``services.access``: a field team never sets an analyst's
  field) and derived ones (``area_m2``) are left out; ``restricted`` marks a field not
  everyone may read (a reporter's contact).
* ``expects``: what a field takes, in both languages, the ``{type}`` of the ``type``
  message ("expected a whole number, got '1.5'"; None for text and choices); ``partial`` and
  ``unknown``: a date field that also takes a year-month or year, and ``unknown``;
  ``catalogue``: a choice of the store's catalogue (a code not in it is the ``catalogue``
  message, a rule checked after the fields). Every message is the server's, word for word,
  filled as the server fills it (forms_text.MESSAGES; the field app's forms.js).
* ``required``: the write refuses a record without it; ``minimum_data``: the store's minimum
  data lists it (a record without it is incomplete and scores lower, docs/quality.md).
* ``version``: a hash of the rest, which changes whenever the spec does (the ETag of
  ``GET /api/v1/forms/{kind}``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from demine.errors import NotFound, PermissionDenied
from demine.model.kinds import KINDS, Kind
from demine.model.schema import Access, FieldSpec, FieldType, expected
from demine.services import forms_text as text
from demine.services.access import can_read_field, can_write_kind
from demine.services.quality import GEOMETRY, minimum_data
from demine.store.base import Store

TYPES: dict[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.INTEGER: "integer",
    FieldType.REAL: "number",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime",
    FieldType.ENUM: "choice",
    FieldType.ENUM_LIST: "choice",
    FieldType.UUID: "reference",
}
# the GeoPackage geometry type of a kind, as the one geometry a form collects
GEOMETRIES = {"MULTIPOLYGON": "Polygon", "POINT": "Point"}
FORM_KINDS = tuple(k for k in KINDS if k != "risk_updates")  # learned, never typed in


def _en_label(name: str) -> str:
    return text.LABELS_EN.get(name) or name.replace("_", " ").capitalize()


def _choice_en(value: str) -> str:
    return text.CHOICES_EN.get(value) or value.replace("_", " ").capitalize()


def _choice_uk(kind: str, value: str) -> str:
    return text.CHOICES_UK.get(f"{kind}.{value}") or text.CHOICES_UK.get(value) or value


def _date_forms_uk(f: FieldSpec, *, time: bool = True) -> str:
    forms = (["YYYY-MM-DD"] if time else []) + (["YYYY-MM", "YYYY"] if f.partial else [])
    forms += ["unknown"] if f.unknown else []
    if not time or len(forms) == 1:
        return ", ".join(forms)
    return ", ".join(forms[:-1]) + " або " + forms[-1]


def expects(f: FieldSpec, ftype: str) -> dict[str, str] | None:
    """What a field takes, in both languages: the ``{type}`` of a type fault (None: text,
    choices)."""
    en = expected(f)
    if en is None or ftype not in text.EXPECTS_UK:
        return None
    also = f" або {_date_forms_uk(f, time=False)}" if f.partial else ""
    uk = text.EXPECTS_UK[ftype].format(forms=_date_forms_uk(f), also=also)
    return {"en": en, "uk": uk}


def form_geometry(kind: Kind) -> str | None:
    """The geometry a form collects: ``Polygon`` for an area (a multipolygon is stored from
    it), ``Point`` for a point; for a kind that takes either (emplacements), ``Point``."""
    if kind.geometry_type is None:
        return None
    return GEOMETRIES.get(kind.geometry_type, "Point")


def device_types(store: Store) -> list[tuple[str, str]]:
    """The catalogue's codes and names, by code."""
    out = [
        (str(r.properties["code"]), str(r.properties.get("name") or r.properties["code"]))
        for r in store.list("device_types")
    ]
    return sorted(out)


def _field(
    kind: Kind, f: FieldSpec, needed: set[str], catalogue: list[tuple[str, str]]
) -> dict[str, Any]:
    ftype = TYPES[f.type]
    choices: list[dict[str, Any]] | None = None
    if f.choices is not None:
        choices = [
            {"value": c, "label": {"en": _choice_en(c), "uk": _choice_uk(kind.name, c)}}
            for c in f.choices
        ]
    elif f.name == "device_type" and catalogue:
        ftype = "choice"
        choices = [{"value": c, "label": {"en": n, "uk": n}} for c, n in catalogue]
    catalogued = f.name == "device_type" and choices is not None and f.choices is None
    hint_uk = text.HINTS_UK.get(f"{kind.name}.{f.name}") or text.HINTS_UK.get(f.name, "")
    return {
        "name": f.name,
        "type": ftype,
        "label": {"en": _en_label(f.name), "uk": text.LABELS_UK.get(f.name, _en_label(f.name))},
        "hint": {"en": f.description, "uk": hint_uk},
        "required": f.required,
        "minimum_data": f.name in needed,
        "choices": choices,
        "multiple": f.type is FieldType.ENUM_LIST,
        "min": f.minimum,
        "max": f.maximum,
        "max_length": None,  # the write path sets no length on text
        "restricted": f.access is not Access.PUBLIC,
        "expects": expects(f, ftype),
        "partial": f.partial,
        "unknown": f.unknown,
        "catalogue": catalogued,
    }


def writable_kinds(role: str | None) -> list[str]:
    """The kinds ``role`` may write, in the register's order (None: every form kind)."""
    return [k for k in FORM_KINDS if role is None or can_write_kind(KINDS[k], role)]


def form_kind(name: str, role: str | None) -> Kind:
    """The kind of a form: NotFound for no such kind, PermissionDenied when ``role`` may not
    write it."""
    if name not in FORM_KINDS:
        raise NotFound(f"no form {name!r}: the forms are {', '.join(FORM_KINDS)}")
    kind = KINDS[name]
    if role is not None and not can_write_kind(kind, role):
        raise PermissionDenied(f"the {role} role does not write {name}: it has no form for it")
    return kind


def form_spec(store: Store, kind: str, role: str | None = None) -> dict[str, Any]:
    """The form of ``kind`` for ``role`` (None: a local user, every field) in ``store``."""
    k = form_kind(kind, role)
    items, _ = minimum_data(store)
    needed = {i.field for i in items.get(k.name, ())}
    catalogue = device_types(store) if "device_type" in k.field_names else []
    fields = [
        _field(k, f, needed, catalogue)
        for f in k.fields
        if not f.derived and (role is None or can_read_field(f.access, role))
    ]
    spec: dict[str, Any] = {
        "kind": k.name,
        "title": {"en": k.title, "uk": text.TITLES_UK.get(k.name, k.title)},
        "geometry": form_geometry(k),
        "geometry_required": k.geometry_required,
        "geometry_minimum_data": GEOMETRY in needed,
        "fields": fields,
        "messages": text.MESSAGES,
    }
    spec["version"] = hashlib.blake2b(orjson.dumps(spec), digest_size=12).hexdigest()
    return spec


def form_list(store: Store, role: str | None) -> list[dict[str, Any]]:
    """The forms ``role`` may fill in: kind, title and version of each."""
    out = []
    for name in writable_kinds(role):
        spec = form_spec(store, name, role)
        out.append({"kind": name, "title": spec["title"], "version": spec["version"]})
    return out
