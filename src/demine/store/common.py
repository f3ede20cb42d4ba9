"""Backend-neutral pieces of the store contract, shared by the GeoPackage and PostGIS stores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from demine.model.schema import FieldType, Record
from demine.store.base import Revision

if TYPE_CHECKING:
    from demine.model.kinds import Kind


def missing_message(
    record_id: str, kind: str | None, last: tuple[str, int, str, str] | None
) -> str:
    """Why a record is not there. ``last``: (kind, revision, op, at) of its newest revision."""
    if last is not None and last[2] == "delete":
        return (
            f"{last[0]} record {record_id} was deleted at revision {last[1]} ({last[3]}); "
            f"'demine history {record_id}' lists its versions and 'demine restore' brings one "
            "back"
        )
    return f"no {kind + ' ' if kind else ''}record with id {record_id}"


def plan_load(
    revisions: Sequence[Revision],
) -> tuple[dict[str, list[Revision]], dict[str, list[Record]]]:
    """For copying whole histories: the revisions by record (in revision order), and by kind
    each record's last state as it becomes current (none for a record last deleted), with its
    revision, creation time (the first revision's) and last change."""
    groups: dict[str, list[Revision]] = {}
    for rev in revisions:
        groups.setdefault(rev.record_id, []).append(rev)
    current: dict[str, list[Record]] = {}
    for revs in groups.values():
        revs.sort(key=lambda r: r.revision)
        last = revs[-1]
        if last.state is not None:
            rec = last.state
            rec.revision = last.revision
            rec.created_at = revs[0].at
            rec.updated_at, rec.updated_by = last.at, last.actor
            current.setdefault(last.kind, []).append(rec)
    return groups, current


# --- API tokens -------------------------------------------------------------------------------

LAST_USED_EVERY_S = 3600  # a token's last use is written at most once an hour (reads stay reads)


def new_token_id() -> str:
    """A token's public id (``tk_`` and 12 hex digits): what ``demine token list`` shows and
    ``demine token revoke`` takes. It says nothing about the token itself."""
    import secrets

    return "tk_" + secrets.token_hex(6)


def as_utc(value: object) -> datetime | None:
    """A stored time (GeoPackage text or a PostgreSQL timestamptz) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def token_state(revoked: bool, expires_at: object, removed_at: object, now: datetime) -> str:
    """``active``, ``expired``, ``revoked`` (by hand, or because its user was removed)."""
    if revoked or removed_at is not None:
        return "revoked"
    exp = as_utc(expires_at)
    if exp is not None and exp <= now:
        return "expired"
    return "active"


def used_long_ago(last_used_at: object, now: datetime) -> bool:
    last = as_utc(last_used_at)
    return last is None or (now - last).total_seconds() >= LAST_USED_EVERY_S


def token_list_query(
    user: str | None, placeholder: str, tiebreak: str
) -> tuple[str, tuple[Any, ...]]:
    """The SQL (and its arguments) of a store's ``token_list``: every token with its user's
    role and removal, never the token nor its hash; ``placeholder`` is the dialect's (? or %s),
    ``tiebreak`` the column ordering tokens created at the same time."""
    sql = (
        "SELECT t.token_id, t.user_name, u.role, t.label, t.created_at, t.expires_at, "
        "t.last_used_at, t.revoked, u.removed_at FROM demine_tokens t "
        "LEFT JOIN demine_users u ON u.name = t.user_name"
    )
    order = f" ORDER BY t.created_at, t.{tiebreak}"
    if user is None:
        return sql + order, ()
    return sql + f" WHERE t.user_name = {placeholder}" + order, (user,)


def token_list_rows(
    rows: Sequence[Sequence[Any]], time_text: Callable[[Any], Any] = lambda v: v
) -> list[dict[str, Any]]:
    """The rows of :func:`token_list_query` as the contract's dicts: id, user, role, label,
    created_at, expires_at, last_used_at (``time_text`` turns a backend's times into text),
    state (active, expired, revoked)."""
    now = datetime.now(UTC)
    return [
        {
            "id": i,
            "user": u,
            "role": r,
            "label": lb,
            "created_at": time_text(c),
            "expires_at": time_text(e),
            "last_used_at": time_text(lu),
            "state": token_state(bool(rv), e, rm, now),
        }
        for i, u, r, lb, c, e, lu, rv, rm in rows
    ]


def is_disk_full(exc: BaseException) -> bool:
    """Whether a SQLite error is SQLITE_FULL ("database or disk is full")."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code == 13 or "database or disk is full" in str(exc)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_index_ddl(kind: Kind) -> list[str]:
    """An index on every relationship field of a kind (its UUID-typed fields: ``hazard_id``,
    ``activity_id``...), so that the records linked to one record (the releases of a hazard,
    the finds of an activity) are found without reading the table. ``IF NOT EXISTS``: run on
    every table at creation and on opening an older store (SQLite and PostgreSQL alike)."""
    return [
        f"CREATE INDEX IF NOT EXISTS {_q(kind.name + '_' + f.name)} "
        f"ON {_q(kind.name)} ({_q(f.name)})"
        for f in kind.fields
        if f.type is FieldType.UUID
    ]


def history_guard_ddl(kind: Kind, schema: str | None = None) -> list[str]:
    """Triggers that copy a record's geometry into its history rows that share it (a revision
    keeps no copy of the geometry its record's row holds: :mod:`demine.store.core.history`)
    before that geometry changes or the record goes, whoever writes it (demine, or an edit in
    QGIS). ``schema``: the PostgreSQL schema (None: SQLite). Run at every table's creation and
    on opening an older store (GeoPackage schema 10, PostGIS 9)."""
    if not kind.geometry_type:
        return []
    t = _q(kind.name)
    if schema is None:
        keep = (
            "UPDATE demine_history SET geom = OLD.geom, geom_shared = NULL "
            "WHERE record_id = OLD.id AND geom_shared = 1;"
        )
        return [
            f"CREATE TRIGGER IF NOT EXISTS {_q('demine_' + kind.name + '_keep_update')} "
            f"BEFORE UPDATE OF geom ON {t} WHEN OLD.geom IS NOT NEW.geom BEGIN {keep} END",
            f"CREATE TRIGGER IF NOT EXISTS {_q('demine_' + kind.name + '_keep_delete')} "
            f"BEFORE DELETE ON {t} BEGIN {keep} END",
        ]
    s = _q(schema)
    fn = f"{s}.demine_keep_shared_geometry"
    name = _q(f"demine_{kind.name}_keep")
    return [
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
        "IF TG_OP = 'UPDATE' AND NEW.geom IS NOT DISTINCT FROM OLD.geom THEN RETURN NEW; "
        f"END IF; UPDATE {s}.demine_history SET geom = OLD.geom, geom_shared = NULL "
        "WHERE record_id = OLD.id AND geom_shared; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $f$",
        f"DROP TRIGGER IF EXISTS {name} ON {t}",
        f"CREATE TRIGGER {name} BEFORE UPDATE OF geom OR DELETE ON {t} FOR EACH ROW "
        f"EXECUTE FUNCTION {fn}()",
    ]
