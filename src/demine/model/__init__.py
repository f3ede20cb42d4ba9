"""Records, IMAS vocabulary and validation rules. No I/O here."""

from demine.model.devices import CATALOGUE, DeviceType, device_type
from demine.model.kinds import KINDS, Kind, get_kind, layer_kind
from demine.model.schema import Access, FieldSpec, FieldType, Record, validate_properties

__all__ = [
    "CATALOGUE",
    "KINDS",
    "Access",
    "DeviceType",
    "FieldSpec",
    "FieldType",
    "Kind",
    "Record",
    "device_type",
    "get_kind",
    "layer_kind",
    "validate_properties",
]
