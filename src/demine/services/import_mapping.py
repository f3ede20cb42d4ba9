"""How a source's fields and values become demine's: a mapping kept per source in a TOML file
(``--mapping``) and given on the command line (``--map``, ``--set``, ``--value``,
``--date-format``), the command line adding to and overriding the file.

Applied to every feature after reading and before validation, in this order:

1. ``rename``  source field -> demine field;
2. ``values``  per (renamed) field, a source value -> demine's value; a value with no entry
   passes through unchanged, so an unknown value is still a validation fault naming it;
3. ``dates``   per field, a ``strptime`` format: the value becomes an ISO date (or date-time,
   for a date-time field); a value that does not match is a fault naming field, value, format;
4. ``set``     per field, a constant that fills a missing or null value (a value the file
   has wins).

A bad mapping (bad TOML, an unknown table, a rename to a field the kind does not have) is a
:class:`~demine.errors.ValidationError` naming the file, table and key (or the option), raised
before any source is read.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demine.errors import Fault, ValidationError
from demine.model.dates import UNKNOWN, BadPartial, parse_partial
from demine.model.kinds import KINDS
from demine.model.schema import FieldType

TABLES = ("rename", "set", "values", "dates")
# fields a mapping may name besides the kind's own: the identity and the links by source id
IDENTITY = ("id", "source_id")
_LINK_FIELDS = {
    "hazard_source_id": "hazard_id",
    "emplacement_source_id": "emplacement_id",
    "activity_source_id": "activity_id",
    "accident_source_id": "accident_id",
}
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%p", "%z", "%X", "%c", "%T", "%R")


@dataclass
class FieldMapping:
    rename: dict[str, str] = field(default_factory=dict)
    set: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    # date fields whose ISO form keeps the time of day (the kind's date-time fields)
    datetimes: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.rename or self.set or self.values or self.dates)

    def merged(self, over: FieldMapping) -> FieldMapping:
        """This mapping with ``over``'s entries added, ``over`` winning on the same key."""
        values = {k: dict(v) for k, v in self.values.items()}
        for f, table in over.values.items():
            values.setdefault(f, {}).update(table)
        return FieldMapping(
            rename={**self.rename, **over.rename},
            set={**self.set, **over.set},
            values=values,
            dates={**self.dates, **over.dates},
            datetimes=self.datetimes | over.datetimes,
        )

    def apply(
        self, props: dict[str, Any], *, index: int, source: str, feature_id: str | None
    ) -> tuple[dict[str, Any], list[Fault]]:
        """One feature's properties mapped, and the faults of its dates."""
        out = {self.rename.get(k, k): v for k, v in props.items()} if self.rename else props
        faults: list[Fault] = []
        for name, table in self.values.items():
            v = out.get(name)
            if v is not None and not isinstance(v, (bool, dict, list)) and str(v) in table:
                out[name] = table[str(v)]
        for name, fmt in self.dates.items():
            v = out.get(name)
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            try:
                parsed = dt.datetime.strptime(str(v).strip(), fmt)
            except ValueError:
                if _partial_shape(v):
                    continue  # 2019, 2019-05, unknown: the field's own rules take it or say why
                faults.append(
                    Fault(
                        f"{v!r} does not match the date format {fmt!r}",
                        index,
                        name,
                        source,
                        feature_id,
                    )
                )
                continue
            keep_time = name in self.datetimes or any(d in fmt for d in _TIME_DIRECTIVES)
            out[name] = parsed.isoformat() if keep_time else parsed.date().isoformat()
        for name, value in self.set.items():
            if out.get(name) is None:
                out[name] = value
        return out, faults


def _partial_shape(v: Any) -> bool:
    """A legacy partial or unknown date (``2019``, ``2019-05``, ``unknown``), which no date
    format reads: passed on as it is (see model.dates)."""
    text = str(v).strip()
    if text.lower() == UNKNOWN:
        return True
    try:
        return parse_partial(text) is not None
    except BadPartial:
        return True  # shaped like one: the field's validation names what is wrong


def _targets(kind: str) -> tuple[frozenset[str] | None, frozenset[str], frozenset[str]]:
    """The fields a mapping of ``kind`` may name (None: any, a reference layer or an unknown
    kind, which the import refuses itself), its date fields and its date-time fields."""
    k = KINDS.get(kind)
    if k is None:
        return None, frozenset(), frozenset()
    names = {f.name for f in k.fields if not f.derived} | set(IDENTITY)
    names |= {src for src, fname in _LINK_FIELDS.items() if fname in k.field_names}
    dates = {f.name for f in k.fields if f.type in (FieldType.DATE, FieldType.DATETIME)}
    times = {f.name for f in k.fields if f.type is FieldType.DATETIME}
    return frozenset(names), frozenset(dates), frozenset(times)


def _scalar(v: Any) -> Any:
    """A TOML value as a property value; None for a value that cannot be one."""
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, (str, int, float, bool)):
        return v
    return None


def check_fields(
    m: FieldMapping, kind: str, *, where: dict[str, str], source: str | None = None
) -> list[Fault]:
    """Faults of the fields ``m`` names that ``kind`` does not have; ``where[table]`` says how
    an entry of that table is named (``[rename] {key}`` in a file, ``--set`` on the command
    line)."""
    known, dates, _ = _targets(kind)
    if known is None:
        return []
    faults: list[Fault] = []

    def bad(table: str, key: str, reason: str) -> None:
        faults.append(Fault(reason, field=where[table].format(key=key), source=source))

    for src, dst in m.rename.items():
        if dst not in known:
            bad("rename", src, f"renames to {dst!r}, which {kind} do not have")
    for table, names in (("set", m.set), ("values", m.values), ("dates", m.dates)):
        for name in names:
            if name not in known:
                bad(table, name, f"{name!r} is not a field of {kind}")
            elif table == "dates" and name not in dates:
                bad(table, name, f"{name!r} is not a date field of {kind}")
    return faults


def load_mapping(path: Path, kind: str) -> FieldMapping:
    """Read a mapping file and check it against ``kind``; a ValidationError names the file,
    table and key of every fault."""
    src = path.name

    def fail(faults: list[Fault]) -> ValidationError:
        return ValidationError(f"{path}: bad mapping file", faults)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail([Fault("no such file", field="--mapping", source=src)]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise fail([Fault(f"cannot read it: {e}", field="--mapping", source=src)]) from None
    except tomllib.TOMLDecodeError as e:
        raise fail([Fault(f"not valid TOML: {e}", source=src)]) from None
    faults: list[Fault] = []
    m = FieldMapping()

    def bad(where: str, reason: str) -> None:
        faults.append(Fault(reason, field=where, source=src))

    for table, body in data.items():
        if table not in TABLES:
            bad(f"[{table}]", f"unknown table (expected {', '.join(TABLES)})")
            continue
        if not isinstance(body, dict):
            bad(f"[{table}]", "expected a table")
            continue
        for key, value in body.items():
            where = f"[{table}] {key}"
            if table == "rename" or table == "dates":
                if not isinstance(value, str) or not value:
                    bad(where, "expected a non-empty string")
                elif table == "rename":
                    m.rename[key] = value
                else:
                    m.dates[key] = value
            elif table == "set":
                v = _scalar(value)
                if v is None:
                    bad(where, "expected a string, number, boolean or date")
                else:
                    m.set[key] = v
            else:  # values
                if not isinstance(value, dict):
                    bad(f"[values.{key}]", 'expected a table of "source" = "target"')
                    continue
                for sv, tv in value.items():
                    t = _scalar(tv)
                    if t is None:
                        bad(f"[values.{key}] {sv}", "expected a string, number, boolean or date")
                    else:
                        m.values.setdefault(key, {})[sv] = t
    faults += check_fields(
        m,
        kind,
        source=src,
        where={
            "rename": "[rename] {key}",
            "set": "[set] {key}",
            "values": "[values.{key}]",
            "dates": "[dates] {key}",
        },
    )
    if faults:
        raise fail(faults)
    return m


CLI_WHERE = {"rename": "--map", "set": "--set", "values": "--value", "dates": "--date-format"}


def resolve_mapping(
    kind: str,
    *,
    mapping_file: Path | None = None,
    rename: dict[str, str] | None = None,
    set_values: dict[str, Any] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    dates: dict[str, str] | None = None,
) -> FieldMapping:
    """The file's mapping (if any) with the command line's entries over it. The command
    line's ``--map`` may rename to any name (an unknown one is kept in ``extra``, as before);
    its other options must name the kind's fields."""
    base = load_mapping(mapping_file, kind) if mapping_file is not None else FieldMapping()
    cli = FieldMapping(
        set=dict(set_values or {}), values=dict(values or {}), dates=dict(dates or {})
    )
    faults = check_fields(cli, kind, where=CLI_WHERE)
    if faults:
        raise ValidationError("bad mapping option", faults)
    cli.rename = dict(rename or {})
    out = base.merged(cli)
    out.datetimes = _targets(kind)[2]
    return out
