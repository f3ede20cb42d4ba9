"""The store contract: the :class:`Store` Protocol and the types it speaks. Nothing else.

Every backend (GeoPackage, PostGIS) meets it and passes one test suite; the shared body of the
SQL backends is :mod:`demine.store.core`; :func:`demine.store.open.open_store` picks a backend
from a location."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from demine.model.kinds import Kind
from demine.model.schema import Record

Where = Mapping[str, Any]
"""A field filter: ``{field: value}`` keeps records whose field equals the value; a list, tuple
or set of values means any of them (IN); None means the field is empty. Fields are the kind's
own, plus ``id`` and ``source_id``; an unknown field is a ValidationError."""
T = TypeVar("T")


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
        where: Where | None = None,
        cql: Any = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Record]: ...
    def count(self, kind: str, *, where: Where | None = None, cql: Any = None) -> int: ...
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
        reasons: Sequence[str | None] | None = None,
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

    def add_user(self, name: str, role: str, organisation: str | None = None) -> None: ...
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

    # organisations and submissions (issue 13: store/core/intake.py)
    def add_organisation(self, code: str, name: str, type_: str) -> None: ...
    def organisations(self) -> builtins.list[dict[str, Any]]: ...
    def organisation(self, code: str) -> dict[str, Any]: ...
    def user_organisation(self, name: str) -> str | None: ...
    def add_submission(self, sub: dict[str, Any], actor: str, reason: str | None) -> None: ...
    def change_submission(
        self,
        sid: str,
        *,
        state: str,
        actor: str,
        reason: str | None,
        expect: Sequence[str],
        changes: dict[str, Any] | None = None,
    ) -> None: ...
    def submissions(
        self,
        *,
        organisation: str | None = None,
        state: str | Sequence[str] | None = None,
        sid: str | None = None,
    ) -> builtins.list[dict[str, Any]]: ...
    def submission_events(self, sid: str) -> builtins.list[dict[str, Any]]: ...
    def load_submissions(self, subs: builtins.list[dict[str, Any]]) -> int: ...
    def submission_times(
        self, organisation: str | None = None
    ) -> builtins.list[dict[str, Any]]: ...
    # attachments (store/core/attachments.py): owned by a record or a submission
    def add_attachment(
        self, meta: dict[str, Any], data: bytes, public_data: bytes | None
    ) -> dict[str, Any]: ...
    def attachments(self, owner_kind: str, owner_id: str) -> builtins.list[dict[str, Any]]: ...
    def attachment(self, attachment_id: str) -> dict[str, Any] | None: ...
    def attachment_data(self, attachment_id: str, *, public: bool) -> bytes | None: ...
    def move_attachments(
        self, owner_kind: str, owner_id: str, to_kind: str, to_id: str
    ) -> builtins.list[str]: ...

    # merges and links (issue 13: store/core/merges.py)
    def atomically(self, body: Callable[[], T]) -> T: ...  # every write in body, or none
    def add_redirect(
        self, old_id: str, new_id: str, kind: str, *, actor: str, reason: str | None
    ) -> None: ...
    def redirect(self, record_id: str) -> str | None: ...  # the survivor, chains followed
    def redirects(self) -> builtins.list[dict[str, Any]]: ...
    def load_redirects(self, rows: Iterable[dict[str, Any]]) -> int: ...
    def add_link(
        self, record_id: str, linked_id: str, kind: str, *, actor: str, reason: str | None
    ) -> None: ...
    def links(self) -> builtins.list[dict[str, Any]]: ...
    def load_links(self, rows: Iterable[dict[str, Any]]) -> int: ...

    # copying a whole store (demine copy)
    def settings(self) -> dict[str, Any]: ...
    def tokens(self) -> builtins.list[dict[str, Any]]: ...
    def load_tokens(self, tokens: Sequence[dict[str, Any]]) -> None: ...
    def revisions(self) -> Iterator[Revision]: ...
    def load_revisions(
        self, revisions: Sequence[Revision], organisations: Mapping[str, str] | None = None
    ) -> int: ...
    def attachment_rows(self) -> Iterator[dict[str, Any]]: ...
    def load_attachments(self, rows: Iterator[dict[str, Any]]) -> int: ...
