"""Backend-neutral pieces of the store contract, shared by the GeoPackage and PostGIS stores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from demine.model.schema import Record
from demine.store.base import Revision


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
