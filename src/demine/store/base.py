"""The store contract. Every backend (GeoPackage, PostGIS) meets it and passes one test suite."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from demine.errors import DemineError, StoreFull, StoreUnavailable
from demine.model.kinds import Kind
from demine.model.schema import Record

DEFAULT_DB = "demine.gpkg"


@dataclass(frozen=True, slots=True)
class Revision:
    """One version of a record in its history: who, when, why, and the state after the change.

    ``state`` is None after a delete. The state before is the previous revision's.
    """

    record_id: str
    kind: str
    revision: int
    op: str  # create | update | delete | restore
    at: str
    actor: str
    reason: str | None
    state: Record | None


@dataclass(slots=True)
class UpsertResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@runtime_checkable
class Store(Protocol):
    location: str

    def init(self, *, settings: dict[str, Any] | None = None) -> None: ...
    def close(self) -> None: ...
    def kinds(self) -> list[Kind]: ...
    def kind(self, name: str) -> Kind: ...
    def create_layer(self, kind: Kind) -> None: ...
    def setting(self, key: str) -> Any: ...
    def set_setting(self, key: str, value: Any) -> None: ...

    def get(self, kind: str, record_id: str) -> Record: ...
    def locate(self, record_id: str) -> Record: ...
    def list(
        self,
        kind: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Record]: ...
    def count(self, kind: str) -> int: ...
    def envelopes(
        self, kind: str, bbox: tuple[float, float, float, float]
    ) -> tuple[builtins.list[str], Any]: ...
    def get_many(self, kind: str, ids: Sequence[str]) -> builtins.list[Record]: ...
    def data_version(self, kind: str) -> str: ...

    def upsert(
        self,
        kind: str,
        records: Sequence[Record],
        *,
        actor: str,
        reason: str | None = None,
        progress: Any = None,
        origin: str = "user",
    ) -> UpsertResult: ...
    def update(
        self,
        kind: str,
        record_id: str,
        *,
        properties: dict[str, Any] | None = None,
        geometry: Any = None,
        if_revision: int | None = None,
        actor: str,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
        origin: str = "user",
    ) -> Record: ...
    def delete(
        self,
        kind: str,
        record_id: str,
        *,
        if_revision: int | None = None,
        actor: str,
        reason: str | None = None,
    ) -> Revision: ...
    def restore(
        self, record_id: str, revision: int, *, actor: str, reason: str | None = None
    ) -> Record: ...
    def history(self, record_id: str) -> builtins.list[Revision]: ...

    def add_user(self, name: str, role: str) -> None: ...
    def users(self) -> builtins.list[tuple[str, str]]: ...  # not removed
    def user_rows(self) -> builtins.list[dict[str, Any]]: ...  # removed ones too
    def remove_user(self, name: str, *, at: str | None = None) -> int: ...
    def add_token(
        self,
        user: str,
        token_hash: str,
        label: str | None = None,
        *,
        expires_at: str | None = None,
    ) -> str: ...
    def token_user(self, token_hash: str) -> tuple[str, str] | None: ...
    def token_list(self, user: str | None = None) -> builtins.list[dict[str, Any]]: ...
    def revoke_token(self, token_id: str) -> bool: ...
    def revoke_tokens(self, user: str) -> int: ...

    # copying a whole store (demine copy)
    def settings(self) -> dict[str, Any]: ...
    def tokens(self) -> builtins.list[dict[str, Any]]: ...
    def load_tokens(self, tokens: Sequence[dict[str, Any]]) -> None: ...
    def revisions(self) -> Iterator[Revision]: ...
    def load_revisions(self, revisions: Sequence[Revision]) -> int: ...


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


def is_disk_full(exc: BaseException) -> bool:
    """Whether a SQLite error is SQLITE_FULL ("database or disk is full")."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code == 13 or "database or disk is full" in str(exc)
