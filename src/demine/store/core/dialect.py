"""The dialect hooks: what a SQL backend of the revisioned-store core must supply.

:class:`Dialect` declares every hook a backend (:mod:`demine.store.gpkg`,
:mod:`demine.store.postgis`) fills in, each saying what it must do; the rest of the core
(:mod:`.tables`, :mod:`.records`, :mod:`.history`, :mod:`.users`) is written over these alone,
never over a backend. Also here: the column lists and the small SQL helpers (``q``,
``to_json``) that the core and both backends share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

import orjson

from demine.model.kinds import Kind
from demine.model.schema import FieldSpec

T = TypeVar("T")
META_COLS = ("id", "source_id")
# record_organisation: the code of the organisation that made the record (issue 13): set by
# the store on create (the actor's organisation, else AUTHORITY), kept on every change
TAIL_COLS = ("extra", "revision", "created_at", "updated_at", "updated_by", "record_organisation")
ORG_COL = "record_organisation"
AUTHORITY = "AUTHORITY"  # the code of the authority organisation every store has
# geom_shared (GeoPackage schema 10, PostGIS 9): true when the row holds no copy of its
# geometry because it is the record's current one (copy on write, see core/history.py)
HISTORY_COLS = (
    "record_id, kind, revision, op, at, actor, reason, source_id, properties, extra, geom, "
    "geom_shared"
)


def q(name: str) -> str:
    """A quoted SQL identifier (the same in SQLite and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def to_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class Dialect:
    """The hooks a backend fills in: its connection and write transaction, its SQL text, how
    it encodes geometries and values, and its spatial reads. Not a store by itself."""

    location: str

    # --- SQL text ---------------------------------------------------------------------------
    P: ClassVar[str]  # the driver's placeholder: ? or %s
    JSON_IN: ClassVar[str]  # the placeholder of a JSON value
    GEOM_OUT: ClassVar[str]  # how a geometry column is selected (as the bytes _decode takes)
    NO_GEOM: ClassVar[str]  # the same for a kind without geometry
    HISTORY_INSERT: ClassVar[str]  # INSERT INTO demine_history (HISTORY_COLS) VALUES (...)
    NO_LIMIT: ClassVar[Any]  # the LIMIT argument meaning "no limit"
    LAYER_ORDER: ClassVar[str]  # the demine_layers column giving creation order
    BY_NAME: ClassVar[str]  # ORDER BY text for user names (byte order)
    TOKEN_TIEBREAK: ClassVar[str]  # orders tokens created at the same time
    TOKENS_ORDER: ClassVar[str]  # the ORDER BY of tokens() (for copying)
    DB_ERRORS: ClassVar[tuple[type[BaseException], ...]]  # constraint/data errors -> Conflict
    DRIVER_ERRORS: ClassVar[tuple[type[BaseException], ...]]  # any error of the driver

    # --- hooks ------------------------------------------------------------------------------

    @property
    def conn(self) -> Any:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def _transaction(self, lock: str, body: Callable[[Any], T]) -> T:
        """Run ``body(connection)`` in one write transaction (``lock`` names what it
        serialises; a backend may run ``body`` again after a retryable failure)."""
        raise NotImplementedError

    def _create_kind_table(self, c: Any, kind: Kind) -> None:
        raise NotImplementedError

    def _touch(self, c: Any, kind: Kind, at: str) -> None:
        """Move the kind's data version (and whatever the backend keeps with it)."""
        raise NotImplementedError

    def _encode(self, geoms: Sequence[Any]) -> list[bytes | None]:
        raise NotImplementedError

    def _decode(self, blobs: Sequence[Any]) -> Any:
        raise NotImplementedError

    def _time_text(self, value: Any) -> Any:
        """A stored time as the contract's text."""
        return value

    def _from_json(self, value: Any) -> Any:
        """A stored JSON value as Python."""
        return orjson.loads(value)

    def _props(self, kind: Kind, values: Sequence[Any]) -> dict[str, Any]:
        """The properties of a row's field columns (None left out)."""
        raise NotImplementedError

    @staticmethod
    def _field_fix(f: FieldSpec) -> Callable[[Any], Any] | None:
        """How the driver is given a value (not None) of field ``f``: a conversion, or None
        (as it is). A backend overrides it as a static method (:mod:`.rows` keeps each kind's
        conversions by it)."""
        return None

    def _placeholders(self, kind: Kind) -> tuple[list[str], list[str]]:
        """Column names written (geom first, if any) and their placeholders."""
        raise NotImplementedError

    def _in(
        self, col: str, values: Sequence[Any], sqltype: str | None = None
    ) -> tuple[str, list[Any]]:
        """``col`` is one of ``values`` (at most one chunk of them): SQL and arguments.
        ``sqltype`` is the column's field type, for dialects that cast."""
        raise NotImplementedError

    def _cql_dialect(self) -> Any:
        """A fresh :class:`demine.store.cql_sql.SqlDialect` for one CQL2 filter, ready to run
        on this store's connection."""
        raise NotImplementedError

    def _chunks(self, values: Sequence[Any]) -> Iterator[Sequence[Any]]:
        """``values`` in pieces small enough for :meth:`_in`."""
        yield values

    def _bbox_where(self, kind: Kind, bbox: tuple[float, float, float, float]) -> tuple[str, Any]:
        """SQL (and arguments) keeping the rows whose envelope meets ``bbox``."""
        raise NotImplementedError

    def _envelopes_sql(
        self, kind: Kind, bbox: tuple[float, float, float, float]
    ) -> tuple[str, list[Any]]:
        """SQL selecting (id, minx, miny, maxx, maxy) of the non-empty geometries whose
        envelope meets ``bbox``, from the spatial index where it can."""
        raise NotImplementedError

    def _version_sql(self, kind: Kind) -> tuple[str, list[Any]]:
        """SQL selecting one value that changes whenever a record of ``kind`` changes."""
        raise NotImplementedError

    def _executemany(self, c: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            c.executemany(sql, rows)

    def _db_message(self, e: BaseException) -> str:
        return str(e)

    def _before_insert(self, c: Any, kind: Kind, n: int) -> Any:
        """Called before ``n`` new rows of ``kind`` are inserted (e.g. for a bulk load)."""
        return None

    def _after_insert(self, c: Any, kind: Kind, rows: Sequence[Sequence[Any]], token: Any) -> None:
        """Called after the rows are inserted, with what :meth:`_before_insert` returned."""
