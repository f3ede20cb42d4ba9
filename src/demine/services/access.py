"""Who may see what. One place for the rules, used by every face (API, map, exports).

Roles, from least to most: ``public`` (no token), ``field`` (records EO reports, finds, hazards,
activities, releases, accidents, EORE sessions), ``analyst`` (edits everything but victims),
``admin`` (everything, users and tokens too). The ``victim_assistance`` role sees and records
victims' personal data and otherwise reads what ``field`` reads. Who writes what: ``WRITERS``.

Intake (issue 13, docs/intake.md): ``operator`` (an operator's data manager or QA) reads what
``field`` reads and writes what ``field`` writes; both write only submissions
(``SUBMITTERS``), which ``reviewer`` (the authority's IM staff: reads and writes like
``analyst``) and ``admin`` approve (``REVIEWERS``).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from demine.errors import Fault, PermissionDenied, ValidationError
from demine.model.kinds import Kind
from demine.model.schema import Access, Record

ROLES = ("public", "field", "operator", "analyst", "reviewer", "admin", "victim_assistance")
_RANK = {
    "public": 0,
    "field": 1,
    "operator": 1,
    "victim_assistance": 1,
    "analyst": 2,
    "reviewer": 2,
    "admin": 3,
}
SUBMITTERS = ("field", "operator")  # their writes become submissions (services.submitting)
REVIEWERS = ("reviewer", "admin")  # they see every submission and decide
_FIELD_RANK = {Access.PUBLIC: 0, Access.FIELD: 1, Access.ANALYST: 2}

# the smallest role that may read each kind (layers: public)
READ_KIND = {
    "hazards": "public",
    "eo_reports": "public",  # the public sees only reports marked public, without contacts
    "finds": "field",
    "emplacements": "analyst",
    "device_types": "public",
    "risk_updates": "analyst",
    "activities": "public",
    "releases": "public",
    "accidents": "public",  # place, date, device: no personal data (victims are separate)
    "victims": "victim_assistance",
    "eore_sessions": "public",
}
# who may write each kind: the table of docs/web.md ("Access: roles and tokens"), checked by
# tests/test_role_rights.py over every write route and CLI write command. A field team records
# what it sees and does (EO reports, finds, its activities and releases, accidents, risk
# education, the hazards it surveys); victim assistance records victims only; analysts
# everything but victims (which they may not read); admins everything, users and tokens too.
_FIELD = ("field", "operator", "analyst", "reviewer", "admin")
_ANALYST = ("analyst", "reviewer", "admin")
WRITERS: dict[str, tuple[str, ...]] = {
    "eo_reports": _FIELD,
    "finds": _FIELD,
    "activities": _FIELD,
    "releases": _FIELD,
    "accidents": _FIELD,
    "eore_sessions": _FIELD,
    "hazards": _FIELD,  # NTS/TS polygons drawn or walked by a field team (issue 14)
    "emplacements": _ANALYST,
    "device_types": _ANALYST,
    "risk_updates": _ANALYST,
    "victims": ("victim_assistance", "admin"),
}
LAYER_WRITERS = _ANALYST  # reference layers
USER_ADMINS = ("admin",)  # users and tokens


def submits(role: str | None) -> bool:
    """Does a write by ``role`` become a submission rather than a record?"""
    return role in SUBMITTERS


def can_review(role: str | None) -> bool:
    """May ``role`` see every organisation's submissions and decide on them? (None: a local
    user at the command line with no ``--role``, who may do anything.)"""
    return role is None or role in REVIEWERS


def require_review(role: str | None) -> None:
    if not can_review(role):
        raise PermissionDenied(
            f"the {role} role cannot review submissions: that needs the "
            f"{' or '.join(REVIEWERS)} role"
        )


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(
            f"unknown role {role!r}", [Fault(f"expected one of {', '.join(ROLES)}", field="role")]
        )
    return role


def at_least(role: str, needed: str) -> bool:
    if needed == "victim_assistance":
        return role in ("victim_assistance", "admin")
    return _RANK[role] >= _RANK[needed]


def can_read_kind(kind: Kind, role: str) -> bool:
    return kind.is_layer or at_least(role, READ_KIND.get(kind.name, "analyst"))


def can_write(name: str, role: str, *, is_layer: bool = False) -> bool:
    """May ``role`` create, change, delete or restore records of the kind ``name``?"""
    return role in (LAYER_WRITERS if is_layer else WRITERS.get(name, USER_ADMINS))


def can_write_kind(kind: Kind, role: str) -> bool:
    return can_write(kind.name, role, is_layer=kind.is_layer)


def require_write(kind: Kind, role: str) -> None:
    require_write_name(kind.name, role, is_layer=kind.is_layer)


def require_write_name(name: str, role: str, *, is_layer: bool = False) -> None:
    if not can_write(name, role, is_layer=is_layer):
        what = f"the reference layer {name}" if is_layer else name
        allowed = LAYER_WRITERS if is_layer else WRITERS.get(name, USER_ADMINS)
        raise PermissionDenied(
            f"the {role} role cannot change {what} (needs the {' or '.join(allowed)} role)"
        )


def can_manage_users(role: str) -> bool:
    return role in USER_ADMINS


def require_user_admin(role: str) -> None:
    if not can_manage_users(role):
        raise PermissionDenied(
            f"the {role} role cannot manage users and tokens: that needs the admin role "
            "(demine --role admin ...)"
        )


def can_read_field(access: Access, role: str) -> bool:
    if access is Access.VICTIM_ASSISTANCE:
        return role in ("victim_assistance", "admin")
    return _RANK[role] >= _FIELD_RANK[access]


def visible_record(kind: Kind, rec: Record, role: str) -> bool:
    """Row-level rule: the public sees only EO reports marked public."""
    if kind.name == "eo_reports" and not at_least(role, "field"):
        return bool(rec.properties.get("public"))
    return True


def visible_properties(kind: Kind, rec: Record, role: str) -> dict[str, Any]:
    """The record's properties this role may read (restricted fields left out); the extra
    source fields are shown only to analysts."""
    out = {
        f.name: rec.properties[f.name]
        for f in kind.fields
        if f.name in rec.properties and can_read_field(f.access, role)
    }
    if rec.extra and at_least(role, "analyst"):
        for k, v in rec.extra.items():
            out.setdefault(k, v)
    return out


def restricted_fields(kind: Kind, role: str) -> list[str]:
    return [f.name for f in kind.fields if not can_read_field(f.access, role)]


def new_token() -> tuple[str, str]:
    """A new API token and its hash (only the hash is stored)."""
    token = "dm_" + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    # tokens are 256-bit random: a fast hash is enough (no dictionary to guess from)
    return hashlib.sha256(token.encode()).hexdigest()


def for_role(kind: Kind, rec: Record, role: str) -> Record | None:
    """The record as ``role`` may see it (restricted fields left out), or None when the role
    may not see it at all. Every face that prints or writes records out goes through this."""
    if not can_read_kind(kind, role) or not visible_record(kind, rec, role):
        return None
    props = visible_properties(kind, rec, role)
    known = set(kind.field_names)
    return Record(
        kind=rec.kind,
        id=rec.id,
        properties={k: v for k, v in props.items() if k in known},
        geometry=rec.geometry,
        source_id=rec.source_id,
        revision=rec.revision,
        created_at=rec.created_at,
        updated_at=rec.updated_at,
        updated_by=rec.updated_by,
        extra={k: v for k, v in props.items() if k not in known},
        record_organisation=rec.record_organisation,
    )


def require_read(kind: Kind, role: str) -> None:
    if not can_read_kind(kind, role):
        raise PermissionDenied(
            f"the {role} role cannot read {kind.name}"
            + (" (personal data: victim_assistance role only)" if kind.name == "victims" else "")
        )
