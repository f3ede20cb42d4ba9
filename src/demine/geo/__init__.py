"""Geometry rules and geodesic figures (WGS 84). Imports no store, service or face.

The names below are loaded on first use, so that a module of this package that needs no numpy,
shapely or pyproj (:mod:`demine.geo.plain`, on ``demine check``'s quick path) loads without
them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demine.geo.checks import POLYGONAL, GeometryCheck, check_geometries, check_geometry
    from demine.geo.geodesy import (
        GeometryIndex,
        batch_within,
        distance_to_geometries,
        geodesic_area,
        geodesic_distance,
    )

__all__ = [
    "POLYGONAL",
    "GeometryCheck",
    "GeometryIndex",
    "batch_within",
    "check_geometries",
    "check_geometry",
    "distance_to_geometries",
    "geodesic_area",
    "geodesic_distance",
]

_FROM = {
    "POLYGONAL": "checks",
    "GeometryCheck": "checks",
    "check_geometries": "checks",
    "check_geometry": "checks",
    "GeometryIndex": "geodesy",
    "batch_within": "geodesy",
    "distance_to_geometries": "geodesy",
    "geodesic_area": "geodesy",
    "geodesic_distance": "geodesy",
}


def __getattr__(name: str) -> Any:
    if name in _FROM:
        return getattr(importlib.import_module(f"demine.geo.{_FROM[name]}"), name)
    raise AttributeError(f"module 'demine.geo' has no attribute {name!r}")
