"""Ukraine's administrative regions (oblasts), packaged with demine: OPORA via S. Matuszak's
ukrainian_geodata, CC BY 4.0 (see ``demine/data/NOTICE.md``). The map shows them as a
reference layer; the demo places its synthetic hazards in them."""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson

__all__ = ["REGIONS_CREDIT", "REGIONS_FILE", "load_regions", "read_regions"]

REGIONS_CREDIT = "Administrative boundaries: OPORA, via S. Matuszak, ukrainian_geodata, CC BY 4.0"
REGIONS_FILE = "data/ukraine_regions.geojson"


def read_regions() -> dict[str, Any]:
    """The packaged FeatureCollection, parsed."""
    raw = resources.files("demine").joinpath(REGIONS_FILE).read_bytes()
    data: dict[str, Any] = orjson.loads(raw)
    return data


def load_regions() -> list[dict[str, Any]]:
    """The 26 regions of Ukraine as GeoJSON Feature dicts (CRS84), from the packaged file.

    Each feature's ``properties`` hold ``fid`` and ``region`` (the Ukrainian name). A new list is
    returned on every call, so callers may change it.
    """
    features: list[dict[str, Any]] = read_regions()["features"]
    return features
