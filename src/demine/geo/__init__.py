"""Geometry rules and geodesic figures (WGS 84). Imports no store, service or face."""

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
