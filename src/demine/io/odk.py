"""Submissions exported by ODK Central and KoboToolbox, read as any other source
(docs/field.md "ODK Collect and KoboToolbox", docs/import-export.md).

Recognised by their header (no option needed): ODK Central's CSV (``SubmissionDate``,
``KEY``, ``meta-instanceID``; groups joined by ``-`` or, with other tools, ``/``) and
GeoJSON; KoboToolbox's "XLS/CSV legacy" CSV (``_uuid``, ``_submission_time``,
``__version__``; ``;`` or ``,`` between fields, groups joined by ``/``) and GeoJSON. Each
row becomes one feature:

* **names**: a group prefix is dropped (``survey/found_at``, ``group_x/found_at``,
  ``survey-found_at`` are ``found_at``); Kobo's split columns of a select-multiple
  (``device_categories/at``) are left out (the question's own column has the values);
* **geometry**: the question ``geometry`` (as the XLSForm of ``demine forms xlsform`` names
  it), else the first geopoint's split columns (ODK ``X-Latitude``/``X-Longitude``, Kobo
  ``_X_latitude``/``_X_longitude``), else Kobo's ``_geolocation``. A geopoint is
  ``lat lon alt acc``, a geoshape ``lat lon alt acc;lat lon alt acc;...`` (a polygon, closed
  if its last point is not its first); a bad one is a fault naming the row and the column;
  the largest accuracy (m) is kept as ``position_accuracy_m``;
* **identity**: ``meta/instanceID`` (ODK: ``meta-instanceID``, ``KEY``; Kobo: ``_uuid``) is
  the record's source id, so importing the same export again updates, never duplicates;
* **time**: ``SubmissionDate`` / ``_submission_time`` is kept as ``submitted_at``, the
  submitter (``SubmitterName`` / ``_submitted_by``) as ``submitted_by``, the form version
  as ``form_version``;
* **attachments**: a column whose value is a file name (``1714644930123.jpg``) is kept as
  it is and listed in ``attachments`` (the photos themselves are in the export's media
  folder: attach them with ``demine attach``); Kobo's ``X_URL`` columns are kept too;
* the export's other bookkeeping columns (review state, device id, ``_id``, ``_tags``, ...)
  are dropped.

Values are kept as the export has them, except a select-multiple's space-separated values,
which the import turns into demine's comma-separated ones for the kind's multiple-choice
fields (:func:`multiple_values`).
"""

from __future__ import annotations

import csv
import math
import re
import sys
from collections.abc import Iterable, Mapping
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from demine.errors import Fault
from demine.io.csvsafe import unquote_cell
from demine.io.geojson import ParsedFeature, ParsedFile

ODK, KOBO = "odk", "kobo"
ODK_MARKERS = frozenset({"SubmissionDate", "KEY", "meta-instanceID", "meta/instanceID"})
KOBO_MARKERS = frozenset({"_uuid", "_submission_time", "__version__", "_index", "_id"})
ID_COLUMNS = ("meta/instanceID", "meta-instanceID", "instanceID", "KEY", "_uuid")
TIME_COLUMNS = ("SubmissionDate", "_submission_time", "__system/submissionDate")
KEPT = {  # bookkeeping columns kept, under demine's name
    "SubmitterName": "submitted_by",
    "_submitted_by": "submitted_by",
    "__system/submitterName": "submitted_by",
    "FormVersion": "form_version",
    "__version__": "form_version",
    "__system/formVersion": "form_version",
}
DROPPED = frozenset(
    {
        "SubmitterID",
        "AttachmentsPresent",
        "AttachmentsExpected",
        "Status",
        "ReviewState",
        "DeviceID",
        "Edits",
        "_id",
        "_validation_status",
        "_notes",
        "_status",
        "_tags",
        "_index",
        "_attachments",
        "_xform_id_string",
        "_geolocation",
        "formhub/uuid",
        "meta/rootUuid",
        "meta/deprecatedID",
        "meta/instanceName",
        "meta-instanceName",
        "start",
        "end",
        "today",
        "deviceid",
    }
)
GEOMETRY = "geometry"
ACCURACY = "position_accuracy_m"
ATTACHMENTS = "attachments"
_FILE = re.compile(
    r"[\w.\- ]{1,200}\.(jpe?g|png|heic|webp|gif|mp4|3gp|m4a|amr|ogg|wav|pdf)", re.IGNORECASE
)


def flavour(columns: Iterable[str]) -> str | None:
    """``odk`` or ``kobo`` when the columns (or flattened GeoJSON properties) are those of an
    ODK Central or KoboToolbox export, else None. ``KEY`` or ``_uuid`` alone is not enough:
    a CSV of one's own may have such a column."""
    cols = set(columns)
    if "_submission_time" in cols or ("_uuid" in cols and cols & KOBO_MARKERS - {"_uuid"}):
        return KOBO
    if cols & (ODK_MARKERS - {"KEY"}) or "__system/submissionDate" in cols:
        return ODK
    return None


def flatten(props: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested groups (GeoJSON, ODK's OData shape) as ``group/field`` names."""
    out: dict[str, Any] = {}
    for k, v in props.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, name + "/"))
        else:
            out[name] = v
    return out


def _split(name: str, kind: str) -> list[str]:
    if "/" in name:
        return name.split("/")
    if kind == ODK and "-" in name:
        return name.split("-")
    return [name]


def parse_geo(text: str) -> tuple[dict[str, Any], float | None]:
    """A geopoint or geoshape string as a GeoJSON geometry (lon, lat) and its largest
    accuracy; ValueError naming what is wrong."""
    points = [p.strip() for p in str(text).strip().strip(";").split(";") if p.strip()]
    if not points:
        raise ValueError("no coordinates")
    coords: list[list[float]] = []
    accuracy: float | None = None
    for i, p in enumerate(points):
        parts = p.split()
        if not 2 <= len(parts) <= 4:
            raise ValueError(
                f"point {i + 1} {p!r}: expected 'latitude longitude [altitude [accuracy]]'"
            )
        try:
            nums = [float(x) for x in parts]
        except ValueError:
            raise ValueError(f"point {i + 1} {p!r}: not numbers") from None
        if not all(math.isfinite(x) for x in nums):
            raise ValueError(f"point {i + 1} {p!r}: not finite numbers")
        lat, lon = nums[0], nums[1]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"point {i + 1} {p!r}: latitude or longitude out of range")
        coords.append([lon, lat])
        if len(nums) == 4:
            accuracy = nums[3] if accuracy is None else max(accuracy, nums[3])
    if len(coords) == 1:
        return {"type": "Point", "coordinates": coords[0]}, accuracy
    if coords[0] != coords[-1]:
        coords.append(list(coords[0]))
    if len(coords) < 4:
        raise ValueError(f"a shape needs at least 3 distinct points, got {len(coords) - 1}")
    return {"type": "Polygon", "coordinates": [coords]}, accuracy


def _split_point(row: Mapping[str, Any], lat_col: str, lon_col: str, acc_col: str | None) -> str:
    lat, lon = row.get(lat_col), row.get(lon_col)
    if lat in (None, "") and lon in (None, ""):
        return ""
    acc = row.get(acc_col) if acc_col else None
    return f"{lat} {lon}" + (f" 0 {acc}" if acc not in (None, "") else "")


def _geolocation(v: Any) -> str:
    if isinstance(v, list) and len(v) == 2 and None not in v:
        return f"{v[0]} {v[1]}"
    text = str(v or "").strip()
    if text.startswith("["):
        try:
            pair = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        return _geolocation(pair) if isinstance(pair, list) and None not in pair else ""
    return text.replace(",", " ")


class Shape:
    """How one export's columns become demine's: worked out once from the header."""

    def __init__(self, columns: list[str], kind: str, *, geometry: bool = True) -> None:
        self.kind = kind
        cols = set(columns)
        self.rename: dict[str, str] = {}
        self.collisions: list[str] = []
        seen: dict[str, str] = {}
        for c in columns:
            if c in DROPPED or c in ID_COLUMNS or c in TIME_COLUMNS or c in KEPT:
                continue
            parts = _split(c, kind)
            if len(parts) > 1 and ("/".join(parts[:-1]) in cols or "-".join(parts[:-1]) in cols):
                continue  # Kobo's split select-multiple column: the question's own has it
            if re.fullmatch(r"_.+_(latitude|longitude|altitude|precision)", c):
                continue  # Kobo's split geopoint
            if kind == ODK and parts[-1] in ("Latitude", "Longitude", "Altitude", "Accuracy"):
                continue  # ODK's split geopoint
            name = parts[-1]
            if name in seen:
                self.collisions.append(f"columns {seen[name]} and {c} both give {name}")
                continue
            seen[name] = c
            self.rename[c] = name
        self.id_col = next((c for c in ID_COLUMNS if c in cols), None)
        self.time_col = next((c for c in TIME_COLUMNS if c in cols), None)
        self.geo: tuple[str, ...] = ()  # the geometry: one string column, or split columns
        by_name = {v: k for k, v in self.rename.items()}
        if GEOMETRY in by_name:
            self.geo = (by_name[GEOMETRY],)
        else:
            odk = sorted(c[: -len("-Latitude")] for c in cols if c.endswith("-Latitude"))
            kobo = sorted(m.group(1) for c in cols if (m := re.fullmatch(r"_(.+)_latitude", c)))
            for base in odk:
                if f"{base}-Longitude" in cols:
                    acc = f"{base}-Accuracy" if f"{base}-Accuracy" in cols else ""
                    self.geo = (f"{base}-Latitude", f"{base}-Longitude", acc)
                    break
            for base in [] if self.geo else kobo:
                if f"_{base}_longitude" in cols:
                    acc = f"_{base}_precision" if f"_{base}_precision" in cols else ""
                    self.geo = (f"_{base}_latitude", f"_{base}_longitude", acc)
                    break
            if not self.geo and "_geolocation" in cols:
                self.geo = ("_geolocation",)
        self.geometry = geometry

    @property
    def geo_field(self) -> str | None:
        if not self.geo:
            return None
        return self.geo[0] if len(self.geo) == 1 else f"{self.geo[0]}/{self.geo[1]}"

    def feature(
        self, index: int, row: Mapping[str, Any], src: str, geometry: Any = None
    ) -> ParsedFeature:
        """One row (or GeoJSON feature's flattened properties) as a parsed feature."""
        faults: list[Fault] = []
        props: dict[str, Any] = {}
        names: list[str] = []
        for c, name in self.rename.items():
            v = row.get(c)
            if v is None or v == "":
                continue
            if len(self.geo) == 1 and c == self.geo[0]:
                continue
            props[name] = v
            if isinstance(v, str) and _FILE.fullmatch(v.strip()):
                names.append(v.strip())
        for c, name in KEPT.items():
            if row.get(c) not in (None, ""):
                props[name] = row[c]
        sid = row.get(self.id_col) if self.id_col else None
        if sid not in (None, ""):
            props["source_id"] = str(sid)
        if self.time_col and row.get(self.time_col) not in (None, ""):
            props["submitted_at"] = row[self.time_col]
        if names:
            props[ATTACHMENTS] = names
        geom = geometry
        if geom is None and self.geo:
            text = (
                _geolocation(row.get(self.geo[0]))
                if self.geo == ("_geolocation",)
                else str(row.get(self.geo[0]) or "")
                if len(self.geo) == 1
                else _split_point(row, *self.geo)
            )
            if text.strip():
                try:
                    geom, acc = parse_geo(text)
                except ValueError as e:
                    faults.append(
                        Fault(f"cannot read the location: {e}", index, self.geo_field, src)
                    )
                else:
                    if acc is not None:
                        props[ACCURACY] = acc
        return ParsedFeature(
            index=index, id=None, properties=props, geometry=geom, faults=faults, warnings=[]
        )


def sniff(path: Path) -> tuple[str | None, str]:
    """The export flavour of a CSV file (None: not an export) and its field delimiter."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        head = fh.readline()
    delimiter = ";" if head.count(";") > head.count(",") else ","
    cols = [unquote_cell(c) for c in next(csv.reader([head], delimiter=delimiter), [])]
    return flavour(cols), delimiter


def read_csv(path: Path, kind: str, delimiter: str, *, geometry: bool = True) -> ParsedFile:
    """An ODK Central or KoboToolbox CSV export."""
    src = path.name
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    features: list[ParsedFeature] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        cols = [unquote_cell(c) for c in reader.fieldnames or []]
        reader.fieldnames = cols
        shape = Shape(cols, kind, geometry=geometry)
        faults = [Fault(c, source=src) for c in shape.collisions]
        if not shape.geo and geometry:
            faults.append(
                Fault(
                    "this export has no location: expected a geopoint or geoshape question "
                    "named geometry (demine forms xlsform), split -Latitude/-Longitude "
                    "columns or _geolocation",
                    source=src,
                )
            )
        if faults:
            return ParsedFile(features=[], faults=faults, warnings=[], crs=None)
        for i, raw in enumerate(reader):
            row = {k: unquote_cell(v) for k, v in raw.items() if k is not None and v is not None}
            f = shape.feature(i, row, src)
            if None in raw:
                f.faults.append(
                    Fault(f"row has more cells than the header ({len(cols)})", i, None, src)
                )
            features.append(f)
    return ParsedFile(features=features, faults=[], warnings=[], crs=None)


_PLAIN = (str, int, float, list, type(None))  # JSON values that are never a Mapping
_JSON_PLAIN = frozenset({str, int, float, bool, list, type(None)})  # the same, exact types


def from_geojson(parsed: ParsedFile, src: str) -> ParsedFile:
    """A GeoJSON export's features with their properties read as an export's (the
    geometry is the feature's own); unchanged when the properties are not an export's."""
    # the columns, in the order first seen; only nested properties are flattened for it (a
    # file of 100,000 plain features is read as it is)
    cols: dict[str, None] = {}
    every = [f.properties or {} for f in parsed.features]
    if all(type(p) is dict for p in every) and _JSON_PLAIN.issuperset(
        map(type, chain.from_iterable(map(dict.values, every)))
    ):  # no value is a mapping (the common case): every feature's names as they are
        cols = dict.fromkeys(chain.from_iterable(every))
    else:
        for props in every:
            if any(isinstance(v, Mapping) for v in props.values() if not isinstance(v, _PLAIN)):
                cols.update(dict.fromkeys(flatten(props)))
            else:
                cols.update(dict.fromkeys(props))
    kind = flavour(cols)
    if kind is None:
        return parsed
    flat = [flatten(f.properties or {}) for f in parsed.features]
    shape = Shape(list(cols), kind)
    for f, p in zip(parsed.features, flat, strict=True):
        done = shape.feature(f.index, p, src, geometry=f.geometry)
        f.properties = done.properties
        if f.id is not None and "source_id" not in f.properties:
            f.properties["source_id"] = str(f.id)
        f.id = None
        f.faults.extend(done.faults)
    parsed.faults.extend(Fault(c, source=src) for c in shape.collisions)
    parsed.export = kind
    return parsed


def multiple_values(props: dict[str, Any], names: Iterable[str]) -> None:
    """A select-multiple's space-separated values (``at uxo``) as demine's ``at,uxo``, for
    the fields ``names`` (the kind's multiple-choice fields), in place."""
    for n in names:
        v = props.get(n)
        if isinstance(v, str) and "," not in v and " " in v.strip():
            props[n] = ",".join(v.split())
