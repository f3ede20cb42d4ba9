"""An XLSForm (https://xlsform.org) of a form specification (:mod:`demine.services.forms`),
for ODK Collect and KoboToolbox: ``demine forms xlsform KIND``.

Sheets ``survey``, ``choices`` and ``settings``. Each field of the spec is one question of
the same name (so an export of the submissions imports without a mapping): text as
``text``, integer as ``integer``, number as ``decimal``, date as ``date``, date-time as
``dateTime``, a boolean as ``select_one yes_no`` (``true``/``false``), a choice as
``select_one``/``select_multiple`` of the spec's values, a reference (a record id) as
``text`` constrained to a UUID. The geometry is the question ``geometry``: ``geoshape`` for
a polygon (walked or drawn), ``geopoint`` for a point. ``required`` and the ranges (min,
max) become ``required`` and ``constraint`` with the spec's messages; labels and hints in
English and Ukrainian as ``label::English (en)`` / ``label::Українська (uk)``.
"""

from __future__ import annotations

import io
from typing import Any

from demine.errors import Fault, ValidationError

LANGS = {"en": "English (en)", "uk": "Українська (uk)"}
LANG_CHOICES = ("en", "uk", "both")
GEOMETRY_TYPES = {"Polygon": "geoshape", "Point": "geopoint"}
SIMPLE_TYPES = {
    "text": "text",
    "integer": "integer",
    "number": "decimal",
    "date": "date",
    "datetime": "dateTime",
    "reference": "text",
}
UUID_RE = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
BOOLEAN_LIST = "yes_no"
BOOLEAN_CHOICES = (("true", {"en": "Yes", "uk": "Так"}), ("false", {"en": "No", "uk": "Ні"}))
GEOMETRY_LABEL = {
    "geoshape": {
        "en": "Area (walk or draw its boundary)",
        "uk": "Ділянка (обійдіть або накресліть межу)",
    },
    "geopoint": {"en": "Location", "uk": "Місце"},
}


def languages(lang: str) -> tuple[str, ...]:
    if lang not in LANG_CHOICES:
        raise ValidationError(
            f"unknown language {lang!r}",
            [Fault(f"expected one of {', '.join(LANG_CHOICES)}", field="lang")],
        )
    return ("en", "uk") if lang == "both" else (lang,)


def _fill(template: str, **values: Any) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _constraint(f: dict[str, Any]) -> tuple[str, str | None]:
    """The XLSForm constraint of a field and the message kind for it ("" and None: none)."""
    if f["type"] == "reference":
        return f"regex(., '{UUID_RE}')", "type"
    parts = []
    if f["min"] is not None:
        parts.append(f". >= {_num(f['min'])}")
    if f["max"] is not None:
        parts.append(f". <= {_num(f['max'])}")
    return (" and ".join(parts), "range") if parts else ("", None)


VALUE = {"en": "The value", "uk": "Значення"}


def _constraint_words(
    messages: dict[str, dict[str, str]], f: dict[str, Any], which: str, langs: tuple[str, ...]
) -> dict[str, str]:
    """The message shown when a constraint fails: the spec's words, as the server says them."""
    out = {}
    for c in langs:
        if which == "type":
            out[c] = _fill(messages["type"][c], type=f["expects"][c], value=VALUE[c].lower())
            continue
        parts = []
        if f["min"] is not None:
            parts.append(_fill(messages["range"][c], value=VALUE[c], min=_num(f["min"])))
        if f["max"] is not None:
            parts.append(_fill(messages["range_max"][c], value=VALUE[c], max=_num(f["max"])))
        out[c] = "; ".join(parts)
    return out


def rows(spec: dict[str, Any], lang: str = "both") -> dict[str, list[dict[str, str]]]:
    """The rows of each sheet (column name -> cell), in order."""
    langs = languages(lang)
    messages = spec["messages"]
    survey: list[dict[str, str]] = []
    choices: list[dict[str, str]] = []

    def labelled(row: dict[str, str], column: str, text: dict[str, str]) -> None:
        for code in langs:
            if text.get(code):
                row[f"{column}::{LANGS[code]}"] = text[code]

    geometry = spec.get("geometry")
    if geometry is not None:
        gtype = GEOMETRY_TYPES[geometry]
        row = {"type": gtype, "name": "geometry"}
        labelled(row, "label", GEOMETRY_LABEL[gtype])
        if spec["geometry_required"]:
            row["required"] = "yes"
            labelled(
                row,
                "required_message",
                {c: _fill(messages["required"][c], field="geometry") for c in langs},
            )
        survey.append(row)
    uses_boolean = False
    for f in spec["fields"]:
        t = f["type"]
        if t == "choice":
            list_name = f"{f['name']}_list"
            qtype = ("select_multiple " if f.get("multiple") else "select_one ") + list_name
            for c in f["choices"]:
                crow = {"list_name": list_name, "name": c["value"]}
                labelled(crow, "label", c["label"])
                choices.append(crow)
        elif t == "boolean":
            qtype, uses_boolean = f"select_one {BOOLEAN_LIST}", True
        else:
            qtype = SIMPLE_TYPES[t]
        row = {"type": qtype, "name": f["name"]}
        labelled(row, "label", f["label"])
        labelled(row, "hint", f["hint"])
        if f["required"]:
            row["required"] = "yes"
            labelled(
                row,
                "required_message",
                {c: _fill(messages["required"][c], field=f["label"][c]) for c in langs},
            )
        constraint, which = _constraint(f)
        if constraint and which is not None:
            row["constraint"] = constraint
            labelled(row, "constraint_message", _constraint_words(messages, f, which, langs))
        survey.append(row)
    if uses_boolean:
        for value, label in BOOLEAN_CHOICES:
            crow = {"list_name": BOOLEAN_LIST, "name": value}
            labelled(crow, "label", label)
            choices.append(crow)
    title = " / ".join(spec["title"][c] for c in langs)
    settings = {
        "form_title": title,
        "form_id": f"demine_{spec['kind']}",
        "version": spec["version"],
        "default_language": LANGS[langs[0]],
    }
    return {"survey": survey, "choices": choices, "settings": [settings]}


def workbook_bytes(spec: dict[str, Any], lang: str = "both") -> bytes:
    """The XLSForm of ``spec`` as an .xlsx file."""
    from openpyxl import Workbook

    sheets = rows(spec, lang)
    wb = Workbook()
    first = True
    for name, items in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = name
        columns: list[str] = []
        for r in items:
            for c in r:
                if c not in columns:
                    columns.append(c)
        if name == "choices" and not columns:
            columns = ["list_name", "name", *(f"label::{LANGS[c]}" for c in languages(lang))]
        ws.append(columns)
        for r in items:
            ws.append([r.get(c, "") for c in columns])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
