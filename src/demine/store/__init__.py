"""Storage: one contract (:mod:`demine.store.base`), an embedded GeoPackage backend by default."""

from demine.store.base import Revision, Store, UpsertResult, open_store

__all__ = ["Revision", "Store", "UpsertResult", "open_store"]
