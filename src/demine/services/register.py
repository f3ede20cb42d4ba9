"""The hazard register: import, validate, export, list, show, history, restore, update.

The import is :mod:`demine.services.imports` (reading and checking a file:
:mod:`demine.services.import_check`), the writes of single records
:mod:`demine.services.records`; their public names are importable from here too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from demine.errors import PermissionDenied
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services import records
from demine.services.import_check import (
    DEFAULT_MAX_JUMP_M,
    LINKS,
    RESERVED_IMPORT,
    ImportOptions,
    ImportReport,
    group_rejects,
    read_and_check,
)
from demine.services.imports import import_file, import_files, validate_file
from demine.services.layer_fields import TABLE_COLUMNS
from demine.services.records import DEPENDENTS, LOCAL, WriteContext, current_actor
from demine.store.base import Revision, Store

__all__ = [
    "DEFAULT_MAX_JUMP_M",
    "DEPENDENTS",
    "LINKS",
    "RESERVED_IMPORT",
    "TABLE_COLUMNS",
    "ImportOptions",
    "ImportReport",
    "current_actor",
    "delete_record",
    "export_file",
    "export_rows",
    "group_rejects",
    "history",
    "import_file",
    "import_files",
    "read_and_check",
    "restore",
    "show",
    "update_record",
    "validate_file",
]


# --- export -------------------------------------------------------------------------------


def export_rows(
    store: Store, kind: str, *, role: str = "admin"
) -> tuple[Kind, list[tuple[Any, dict[str, Any], Any]]]:
    """The rows of one kind as ``role`` may see them (restricted fields and hidden records
    left out; PermissionDenied when the role may not read the kind)."""
    from demine.services.access import for_role, require_read

    k = store.kind(kind)
    require_read(k, role)
    rows = []
    for r0 in store.list(k.name):
        r = for_role(k, r0, role)
        if r is None:
            continue
        props: dict[str, Any] = {}
        if r.source_id is not None:
            props["source_id"] = r.source_id
        props.update(r.properties)
        for key, v in r.extra.items():
            props.setdefault(key, v)
        props["revision"] = r.revision
        props["updated_at"] = r.updated_at
        props["record_organisation"] = r.record_organisation
        rows.append((r.id, props, r.geometry))
    return k, rows


def export_file(store: Store, kind: str, out: Path, *, role: str = "admin") -> int:
    from demine.io.sources import write_rows

    k, rows = export_rows(store, kind, role=role)
    return write_rows(out, rows, layer=k.name, geometry_type=k.geometry_type)


# --- single records -----------------------------------------------------------------------


def show(store: Store, record_id: str, *, role: str = "admin") -> Record:
    from demine.services.access import for_role

    rec = store.locate(_id(record_id))
    out = for_role(store.kind(rec.kind), rec, role)
    if out is None:
        raise PermissionDenied(f"the {role} role cannot read {rec.kind} record {rec.id}")
    return out


def history(store: Store, record_id: str, *, role: str = "admin") -> list[Revision]:
    """Every revision of a record, each state as ``role`` may see it."""
    from demine.services.access import for_role, require_read

    revs = store.history(_id(record_id))
    if not revs:
        return revs
    kind = store.kind(revs[0].kind)
    require_read(kind, role)
    out = []
    for h in revs:
        state = h.state
        if state is not None:
            state = for_role(kind, state, role) or dataclasses.replace(
                state, properties={}, extra={}, geometry=None
            )
        out.append(dataclasses.replace(h, state=state))
    return out


def update_record(
    store: Store,
    record_id: str,
    changes: dict[str, Any],
    *,
    geometry: Any = None,
    if_revision: int | None = None,
    ctx: WriteContext = LOCAL,
) -> Record:
    """Change some properties of a record (:func:`demine.services.records.update`)."""
    return records.update(
        store, record_id, changes, geometry=geometry, if_revision=if_revision, ctx=ctx
    )


def delete_record(
    store: Store, record_id: str, *, if_revision: int | None = None, ctx: WriteContext = LOCAL
) -> Revision:
    """Delete a record nothing refers to (:func:`demine.services.records.delete`)."""
    return records.delete(store, record_id, if_revision=if_revision, ctx=ctx)


def restore(store: Store, record_id: str, revision: int, *, ctx: WriteContext = LOCAL) -> Record:
    """Bring back a revision (:func:`demine.services.records.restore`)."""
    return records.restore(store, record_id, revision, ctx=ctx)


def _id(text: str) -> str:
    return records.record_id(text)
