"""Reading and writing the exchange formats: GeoJSON, GeoPackage (or any OGR vector source),
CSV with WKT or lon/lat columns. Every reader yields :class:`ParsedFeature` items with raw
GeoJSON-like geometry, so one set of checks applies to every format."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from demine.errors import Fault, ValidationError
from demine.files import open_private, private_output
from demine.io import odk
from demine.io.csvsafe import safe_cell, unquote_cell
from demine.io.geojson import ParsedFeature, ParsedFile, read_geojson, write_geojson
from demine.model.schema import FieldType

GEOJSON_SUFFIXES = {".geojson", ".json"}
CSV_SUFFIXES = {".csv"}
GPKG_SUFFIXES = {".gpkg"}
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "WKT")
LON_COLUMNS = ("lon", "longitude", "lng", "long", "x")
LAT_COLUMNS = ("lat", "latitude", "y")


def format_of(path: Path) -> str:
    s = path.suffix.lower()
    if s in GEOJSON_SUFFIXES:
        return "geojson"
    if s in CSV_SUFFIXES:
        return "csv"
    if s in GPKG_SUFFIXES:
        return "gpkg"
    return "ogr"


def read_source(
    path: Path,
    *,
    layer: str | None = None,
    wkt_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    geometry: bool = True,
    strict: bool = False,
    part: tuple[int, int, int] | None = None,
) -> ParsedFile:
    """Read any supported file into parsed features (structural faults included, not raised).
    ``geometry=False``: a CSV file may have no geometry column (its kind needs none).
    ``strict``: GeoJSON members where RFC 7946 §7.1 forbids them are faults, not warnings.
    ``part``: only that part of a GeoJSON file's features (:func:`.geojson.read_geojson`)."""
    if not path.exists():
        raise ValidationError(f"{path}: no such file", [Fault("no such file", source=str(path))])
    fmt = format_of(path)
    if part is not None and fmt != "geojson":
        raise ValueError("only a GeoJSON file is read in parts")
    if fmt == "geojson":  # an ODK Central or KoboToolbox export is read as one (io.odk)
        pf = read_geojson(path, source=path.name, strict=strict, part=part)
        return odk.from_geojson(pf, path.name)
    if fmt == "csv":
        export, delimiter = odk.sniff(path)
        if export is not None:
            parsed = odk.read_csv(path, export, delimiter, geometry=geometry)
            parsed.export = export
            return parsed
        return read_csv(
            path,
            wkt_column=wkt_column,
            lon_column=lon_column,
            lat_column=lat_column,
            geometry=geometry,
        )
    return read_ogr(path, layer=layer)


def _parsed_file(features: list[ParsedFeature], faults: list[Fault] | None = None) -> ParsedFile:
    return ParsedFile(features=features, faults=faults or [], warnings=[], crs=None)


def _feature(
    index: int,
    fid: Any,
    props: dict[str, Any],
    geom: dict[str, Any] | None,
    faults: list[Fault] | None = None,
) -> ParsedFeature:
    return ParsedFeature(
        index=index, id=fid, properties=props, geometry=geom, faults=faults or [], warnings=[]
    )


def _find(columns: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for w in wanted:
        if w.lower() in lower:
            return lower[w.lower()]
    return None


def read_csv(
    path: Path,
    *,
    wkt_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    geometry: bool = True,
) -> ParsedFile:
    """CSV with a header row; geometry from a WKT column, or from lon/lat columns (points).
    With ``geometry=False`` (a kind without geometry) a file without geometry columns is read
    with null geometries.

    The id of a row is its ``id`` column if there is one. Empty cells are missing values.
    """
    src = path.name
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if not cols:
            return _parsed_file([], [Fault("the CSV file has no header row", source=src)])
        wkt = wkt_column or _find(cols, WKT_COLUMNS)
        lon = lon_column or _find(cols, LON_COLUMNS)
        lat = lat_column or _find(cols, LAT_COLUMNS)
        for given, name in (
            (wkt_column, "WKT"),
            (lon_column, "longitude"),
            (lat_column, "latitude"),
        ):
            if given and given not in cols:
                return _parsed_file(
                    [],
                    [
                        Fault(
                            f"no {name} column {given!r}; columns are {', '.join(cols)}", source=src
                        )
                    ],
                )
        if not wkt and not (lon and lat) and geometry:
            return _parsed_file(
                [],
                [
                    Fault(
                        "the CSV file has no geometry: expected a WKT column (wkt, geometry) or "
                        "lon/lat "
                        f"columns (lon, lat); columns are {', '.join(cols)}",
                        source=src,
                    )
                ],
            )
        geom_cols = {c for c in (wkt, lon, lat) if c}
        id_col = _find(cols, ("id",))
        features: list[ParsedFeature] = []
        for i, row in enumerate(reader):
            faults: list[Fault] = []
            fid: Any = unquote_cell(row.get(id_col) or "") if id_col else None
            fid = fid or None
            props = {  # a cell an export quoted against formula injection loses that quote
                unquote_cell(k): unquote_cell(v)
                for k, v in row.items()
                if k is not None and k not in geom_cols and v not in (None, "")
            }
            if None in row:
                faults.append(
                    Fault(
                        f"row has {len(cols) + len(row[None])} cells, header has {len(cols)}",
                        i,
                        None,
                        src,
                        fid,
                    )
                )
            geom: dict[str, Any] | None = None
            if wkt and row.get(wkt):
                try:
                    g = shapely.from_wkt(row[wkt])
                    geom = orjson.loads(shapely.to_geojson(g))
                except Exception as e:  # shapely raises GEOSException subclasses
                    faults.append(Fault(f"cannot read WKT: {e}", i, wkt, src, fid))
            elif lon and lat and (row.get(lon) or row.get(lat)):
                try:
                    x, y = float(row[lon]), float(row[lat])
                    if not (math.isfinite(x) and math.isfinite(y)):
                        raise ValueError
                    geom = {"type": "Point", "coordinates": [x, y]}
                except (TypeError, ValueError):
                    faults.append(
                        Fault(
                            f"longitude {row.get(lon)!r} / latitude {row.get(lat)!r}"
                            " are not numbers",
                            i,
                            f"{lon}/{lat}",
                            src,
                            fid,
                        )
                    )
            features.append(_feature(i, fid, props, geom, faults))
    return _parsed_file(features)


def read_ogr(path: Path, *, layer: str | None = None) -> ParsedFile:
    """A GeoPackage (or any vector source GDAL reads) through pyogrio, reprojected to CRS84."""
    import pyogrio
    from pyogrio.raw import read

    src = path.name
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as e:
        return _parsed_file([], [Fault(f"cannot open: {e}", source=src)])
    if layer is None:
        skip = ("demine_", "gpkg_", "rtree_")
        data = [n for n in layers if not n.startswith(skip)]
        if len(data) == 1:
            layer = data[0]
        else:
            return _parsed_file(
                [],
                [
                    Fault(
                        f"the file has {len(data)} layers ({', '.join(data)}): "
                        "choose one with --layer",
                        source=src,
                    )
                ],
            )
    elif layer not in layers:
        return _parsed_file(
            [], [Fault(f"no layer {layer!r}; layers are {', '.join(layers)}", source=src)]
        )
    try:
        info = pyogrio.read_info(path, layer=layer)
        # date-times as ISO text keep their offset (a numpy datetime64 would drop it)
        meta, fids, wkb, field_data = read(
            path, layer=layer, return_fids=True, datetime_as_string=True
        )[:4]
    except Exception as e:
        return _parsed_file([], [Fault(f"cannot read layer {layer!r}: {e}", source=src)])
    crs = meta.get("crs")
    geoms = shapely.from_wkb(wkb) if wkb is not None else np.full(len(fids), None)
    if crs and crs not in ("EPSG:4326", "OGC:CRS84"):
        from pyproj import CRS, Transformer

        t = Transformer.from_crs(CRS.from_user_input(crs), "OGC:CRS84", always_xy=True)
        geoms = shapely.transform(
            geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
        )
    names = list(meta["fields"])
    declared = _declared(names, meta.get("ogr_types"), meta.get("ogr_subtypes"))
    # a boolean or whole-number column with nulls comes back as floats (1.0, nan)
    cast = [_CASTS.get(declared.get(n)) for n in names]
    features: list[ParsedFeature] = []
    for i in range(len(fids)):
        props: dict[str, Any] = {}
        for n, arr, c in zip(names, field_data, cast, strict=True):
            v = _py(arr[i])
            props[n] = v if c is None or v is None else c(v)
        props = {k: v for k, v in props.items() if v is not None}
        g = geoms[i]
        geom = None if g is None else orjson.loads(shapely.to_geojson(g))
        fid = props.get("id")
        features.append(_feature(i, fid, props, geom))
    _ = info
    parsed = _parsed_file(features)
    parsed.field_types = declared
    return parsed


# GDAL's field types (and subtypes) -> demine's; others (lists, binary, time) are read as text
_OGR_TYPES = {
    "OFTInteger": FieldType.INTEGER,
    "OFTInteger64": FieldType.INTEGER,
    "OFTReal": FieldType.REAL,
    "OFTString": FieldType.TEXT,
    "OFTDate": FieldType.DATE,
    "OFTDateTime": FieldType.DATETIME,
}
_CASTS: dict[FieldType | None, Any] = {
    FieldType.BOOLEAN: bool,
    FieldType.INTEGER: lambda v: int(v) if isinstance(v, float) and v.is_integer() else v,
}


def _declared(names: list[str], types: Any, subtypes: Any) -> dict[str, FieldType]:
    """The demine type of each field of an OGR layer, from its declared GDAL type."""
    if types is None:
        return {}
    subs = list(subtypes) if subtypes is not None else [None] * len(names)
    out: dict[str, FieldType] = {}
    for n, t, st in zip(names, types, subs, strict=True):
        if st == "OFSTBoolean":
            out[n] = FieldType.BOOLEAN
        else:
            out[n] = _OGR_TYPES.get(str(t), FieldType.TEXT)
    return out


def _py(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (np.datetime64,)):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return v


# --- writing ------------------------------------------------------------------------------

ExportRow = tuple[Any, dict[str, Any], Any]  # (id, properties, shapely geometry or None)


def write_rows(path: Path, rows: list[ExportRow], *, layer: str, geometry_type: str | None) -> int:
    """Write (id, properties, geometry) rows in the format the suffix names."""
    fmt = format_of(path)
    if fmt == "geojson":
        return write_geojson(path, rows, name=layer)
    if fmt == "csv":
        return _write_csv(path, rows)
    if fmt == "gpkg":
        return _write_gpkg(path, rows, layer=layer, geometry_type=geometry_type)
    raise ValidationError(
        f"cannot export to {path.suffix!r}: use .geojson, .gpkg or .csv",
        [Fault("unknown export format", source=str(path))],
    )


def _columns(rows: list[ExportRow]) -> list[str]:
    cols: dict[str, None] = {}
    for _, props, _ in rows:
        for k in props:
            cols.setdefault(k, None)
    return list(cols)


def _write_csv(path: Path, rows: list[ExportRow]) -> int:
    cols = _columns(rows)
    with open_private(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *(safe_cell(c) for c in cols), "wkt"])
        for rid, props, geom in rows:
            w.writerow(
                [
                    safe_cell(rid),
                    *(_cell(safe_cell(props.get(c))) for c in cols),
                    "" if geom is None else shapely.to_wkt(geom, rounding_precision=-1),
                ]
            )
    return len(rows)


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return v


def _write_gpkg(path: Path, rows: list[ExportRow], *, layer: str, geometry_type: str | None) -> int:
    from pyogrio.raw import write

    cols = ["id", *_columns(rows)]
    data = []
    for c in cols:
        vals = [rid if c == "id" else props.get(c) for rid, props, _ in rows]
        data.append(_column_array(vals))
    geoms = np.array([g for _, _, g in rows], dtype=object)
    wkb = shapely.to_wkb(geoms, flavor="iso", output_dimension=2) if len(rows) else None
    gtype = {
        "MULTIPOLYGON": "MultiPolygon",
        "POINT": "Point",
        "GEOMETRY": "Unknown",
        None: None,
    }.get(geometry_type, "Unknown")
    with private_output(path) as tmp:  # GDAL writes it in a 0700 directory; then 0600
        write(
            tmp,
            geometry=wkb if gtype else None,
            field_data=data,
            fields=cols,
            layer=layer,
            driver="GPKG",
            geometry_type=gtype,
            crs="EPSG:4326" if gtype else None,
        )
    return len(rows)


def _column_array(vals: list[Any]) -> np.ndarray:
    present = [v for v in vals if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return np.array([None if v is None else v for v in vals], dtype=object)
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if len(present) == len(vals):
            return np.array(vals, dtype=np.int64)
        return np.array([np.nan if v is None else float(v) for v in vals])
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in vals])
    return np.array(
        [
            None
            if v is None
            else (
                v
                if isinstance(v, str)
                else orjson.dumps(v).decode()
                if isinstance(v, (dict, list))
                else str(v)
            )
            for v in vals
        ],
        dtype=object,
    )
