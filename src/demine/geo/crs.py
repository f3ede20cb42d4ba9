"""Coordinate reference systems demine reads and writes (the OGC API, Part 2: CRS by reference).

The store keeps geometry in CRS84 (lon, lat). The API can answer and take boxes in CRS84,
EPSG:4326 (axis order latitude, longitude, as EPSG defines it) and the UTM zones that cover
Ukraine (WGS 84 / UTM 34N to 38N, EPSG:32634 to 32638, easting and northing in metres).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
EPSG4326 = EPSG_URI.format(4326)
UTM_CODES = tuple(range(32634, 32639))
SUPPORTED: tuple[str, ...] = (CRS84, EPSG4326, *(EPSG_URI.format(c) for c in UTM_CODES))


class CrsError(ValueError):
    """An unsupported or malformed CRS reference."""


def parse_crs(value: str) -> str:
    """The canonical URI of a supported CRS given as a URI or a safe CURIE ``[EPSG:32637]``."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        auth, _, code = v[1:-1].partition(":")
        if auth.upper() == "OGC" and code.upper() == "CRS84":
            v = CRS84
        elif auth.upper() == "EPSG":
            v = EPSG_URI.format(code)
    v = v.replace("https://", "http://", 1)
    if v in SUPPORTED:
        return v
    raise CrsError(f"unsupported CRS {value!r}; supported: {', '.join(SUPPORTED)}")


def epsg_code(uri: str) -> int | None:
    return None if uri == CRS84 else int(uri.rsplit("/", 1)[1])


@lru_cache(maxsize=16)
def _transformer(code: int, inverse: bool) -> Transformer:
    if inverse:
        return Transformer.from_crs(f"EPSG:{code}", "OGC:CRS84", always_xy=True)
    return Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=True)


def _swap(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return xy[:, ::-1].copy()


def from_crs84(geom: Any, uri: str) -> Any:
    """A CRS84 geometry in the CRS ``uri`` (axis order as that CRS defines it)."""
    code = epsg_code(uri)
    if geom is None or code is None:
        return geom
    if code == 4326:
        return shapely.transform(geom, _swap)
    t = _transformer(code, False)

    def fwd(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fwd)


def to_crs84(geom: Any, uri: str) -> Any:
    """A geometry in the CRS ``uri`` in CRS84 (lon, lat)."""
    code = epsg_code(uri)
    if geom is None or code is None:
        return geom
    if code == 4326:
        return shapely.transform(geom, _swap)
    t = _transformer(code, True)

    def inv(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, inv)


def bbox_to_crs84(
    box: tuple[float, float, float, float], uri: str
) -> tuple[float, float, float, float]:
    """A box given in ``uri`` (its own axis order) as a CRS84 (minlon, minlat, maxlon, maxlat)
    box that covers it (UTM boxes are densified along their edges before transforming)."""
    code = epsg_code(uri)
    if code is None:
        return box
    if code == 4326:
        return (box[1], box[0], box[3], box[2])
    x0, y0, x1, y1 = _transformer(code, True).transform_bounds(*box, densify_pts=21)
    return (float(x0), float(y0), float(x1), float(y1))
