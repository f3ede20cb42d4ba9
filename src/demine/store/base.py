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
        progress: Callable[[int, int], None] | None = None,  # (hazards done, to do): derived
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
    # the field app's sync (store/core/sync.py): client ids, changes, resumable uploads
    def submission_by_client_id(self, organisation: str, client_id: str) -> str | None: ...
    def submission_changes(
        self, organisation: str, since: int, limit: int
    ) -> tuple[builtins.list[dict[str, Any]], int, bool]: ...
    def add_upload(self, meta: dict[str, Any]) -> None: ...
    def upload(self, upload_id: str) -> dict[str, Any] | None: ...
    def add_upload_part(self, upload_id: str, start: int, data: bytes) -> int: ...
    def upload_data(self, upload_id: str) -> bytes: ...
    def finish_upload(self, upload_id: str, attachment_id: str) -> None: ...
    def reset_upload(self, upload_id: str) -> None: ...
    def expire_uploads(self, now: str) -> int: ...
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
        self,
        revisions: Sequence[Revision],
        organisations: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,  # (hazards done, to do): derived
    ) -> int: ...
    def attachment_rows(self) -> Iterator[dict[str, Any]]: ...

    # derived figures kept up to date on write (store/core/derived.py)
    def derived_built(self) -> bool: ...
    def derived_accounts(
        self, hazard_ids: Sequence[str] | None = None
    ) -> dict[str, Any] | None: ...  # hazard id -> demine.geo.release.Account; None: not built
    def rebuild_derived(
        self, progress: Callable[[int, int], None] | None = None
    ) -> int: ...  # progress: (hazards done, hazards to do), after each chunk
    def stat_rows(
        self, fields: Sequence[str] = ()
    ) -> builtins.list[Any] | None: ...  # see core/derived_stats
    def stat_pieces(self) -> dict[str, builtins.list[Any]]: ...
    def stat_boxes(self) -> dict[str, tuple[float, float, float, float] | None]: ...
    def field_rows(
        self, kind: str, fields: Sequence[str], *, geometry: str = "none"
    ) -> builtins.list[tuple[Any, ...]]: ...
    def decode_geometries(self, raw: Sequence[Any]) -> builtins.list[Any]: ...
    def field_counts(
        self,
        kind: str,
        fields: Sequence[str],
        present: Sequence[str] = (),
        years: Sequence[str] = (),
    ) -> builtins.list[tuple[Any, ...]]: ...
    def derived_remaining(
        self, hazard_ids: Sequence[str], after: Sequence[int | None] | None = None
    ) -> builtins.list[Any]: ...
    def derived_credited(self, hazard_ids: Sequence[str]) -> dict[tuple[str, int], Any]: ...
    def geometries_of(
        self, kind: str, ids: Sequence[str]
    ) -> builtins.list[tuple[str, Any]]: ...  # (id, geometry), in fid order; see core/light
    def release_orphans(self) -> Sequence[Any]: ...
    def zonal_read(self, layer: str, layer_hash: str) -> dict[tuple[str, str], str]: ...
    def zonal_write(
        self, layer: str, layer_hash: str, rows: Sequence[tuple[str, str, str, str]]
    ) -> None: ...
    def memo_read(self, scope: str, key: str | None = None) -> dict[str, str]: ...
    def memo_write(
        self, scope: str, rows: Sequence[tuple[str, str]], keep: Iterable[str]
    ) -> None: ...
    def load_attachments(self, rows: Iterator[dict[str, Any]]) -> int: ...

    # a first import from rows made ahead, in other processes (store/core/prepared.py)
    def prepare_created(
        self,
        kind: str,
        records: Sequence[Record],
        *,
        at: str,
        actor: str,
        organisation: str,
        reasons: Sequence[str | None],
        derived: bool,
        areas: Sequence[float] | None = None,
    ) -> Any: ...  # core.prepared.CreatedRows; uses no connection
    def create_prepared(
        self,
        kind: str,
        parts: Sequence[Any],  # core.prepared.CreatedRows, or a function giving them
        *,
        at: str,
        expected: int,
        progress: Callable[[int, int], None] | None = None,
    ) -> builtins.list[str] | None: ...  # None: nothing written (import the usual way)
