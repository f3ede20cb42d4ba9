"""Opening a store: from a location (a GeoPackage file or a ``postgresql://`` URL) to the
backend that serves it; and the demine error an unexpected driver failure stands for."""

from __future__ import annotations

import os
from pathlib import Path

from demine.errors import DemineError, StoreFull, StoreUnavailable
from demine.store.base import Store
from demine.store.common import is_disk_full

DEFAULT_DB = "demine.gpkg"


def default_location(db: str | os.PathLike[str] | None = None) -> str:
    if db:
        return os.fspath(db)
    return os.environ.get("DEMINE_DB") or DEFAULT_DB


def open_store(db: str | os.PathLike[str] | None = None) -> Store:
    """Open the store at ``db`` (default ``$DEMINE_DB`` or ./demine.gpkg).

    A ``postgresql://`` (or ``postgres://``) URL selects the PostGIS backend; any other
    URL-shaped location is refused (it is never taken for a file name); anything else is a
    GeoPackage file.
    """
    from demine.store.redact import is_url, redact_location

    loc = default_location(db)
    if loc.startswith(("postgresql://", "postgres://")):
        from demine.store.postgis import PostGISStore

        return PostGISStore(loc)
    if is_url(loc):
        raise DemineError(
            f"cannot open the store at {redact_location(loc)}: a store is a GeoPackage file or "
            "a postgresql:// URL"
        )
    from demine.store.gpkg import GeoPackageStore

    return GeoPackageStore(Path(loc))


def store_failure(exc: BaseException) -> DemineError | None:
    """The demine error an unexpected exception from a store's driver stands for, if any:
    a full disk (SQLite "database or disk is full", PostgreSQL SQLSTATE 53100) is
    :class:`StoreFull`; a lost or refused PostgreSQL connection is :class:`StoreUnavailable`.
    Of the driver's own text only the first line is carried, scrubbed of passwords (it may
    echo a connection string)."""
    import sqlite3

    if isinstance(exc, DemineError):
        return exc
    if isinstance(exc, sqlite3.OperationalError) and is_disk_full(exc):
        return StoreFull("the store's disk is full: nothing was written")
    try:
        import psycopg
        import psycopg.errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    if isinstance(exc, psycopg.errors.DiskFull):
        return StoreFull("the store's disk is full: nothing was written")
    if isinstance(exc, psycopg.OperationalError):
        from demine.store.redact import scrub_secrets

        first = (str(exc).strip().splitlines() or [""])[0]
        return StoreUnavailable(
            "the connection to the demine store failed: " + scrub_secrets(first)
        )
    return None
