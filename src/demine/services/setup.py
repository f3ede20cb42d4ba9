"""Creating a store: the GeoPackage, its tables and the device-type catalogue."""

from __future__ import annotations

from typing import Any

from demine.ids import uuid7
from demine.model.devices import CATALOGUE
from demine.model.kinds import DEVICE_TYPES
from demine.model.schema import Record, validate_properties
from demine.store.base import Store
from demine.store.redact import redact_location

UKRAINE_BBOX = (22.0, 44.0, 40.5, 52.5)


def init_store(
    store: Store,
    *,
    area_of_interest: tuple[float, float, float, float] | None = None,
    actor: str = "demine",
) -> dict[str, Any]:
    """Create (or update) the store and load the generic device-type catalogue. Idempotent."""
    settings: dict[str, Any] = {}
    if area_of_interest is not None:
        settings["area_of_interest"] = list(area_of_interest)
    store.init(settings=settings)
    recs = []
    for d in CATALOGUE:
        clean, extra, faults = validate_properties(
            DEVICE_TYPES.fields, DEVICE_TYPES.rules, d.to_properties()
        )
        assert not faults and not extra, (d.code, faults)
        recs.append(Record(kind="device_types", id=uuid7(), properties=clean, source_id=None))
    res = store.upsert("device_types", recs, actor=actor, reason="device-type catalogue")
    return {
        "location": redact_location(store.location),
        "device_types_created": len(res.created),
        "device_types_updated": len(res.updated),
    }
