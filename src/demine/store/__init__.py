"""Storage: one contract (:mod:`demine.store.base`), one shared SQL core
(:mod:`demine.store.core`), two dialects (:mod:`demine.store.gpkg`, the embedded GeoPackage by
default, and :mod:`demine.store.postgis`); :func:`demine.store.open.open_store` picks one."""

from demine.store.base import Revision, Store, UpsertResult, Where
from demine.store.open import open_store

__all__ = ["Revision", "Store", "UpsertResult", "Where", "open_store"]
