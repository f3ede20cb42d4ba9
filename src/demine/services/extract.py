"""Land-status extracts (issue 15, docs/extract.md): which recorded hazards, releases, public EO
reports and activities touch a point or a parcel as of a date, as a payload signed with the
authority's Ed25519 key; and the check of a signed payload (its signature, its key, and whether
the records touching the place have changed since).

An extract holds public data only, whoever asks for it: the records and fields the ``public``
role may read (EO reports marked public, no reporter contact; submissions are not records). It
never says that land is safe: it says what is recorded. The private key never enters the store:
the store holds the public keys (setting ``extract_keys``) to check signatures with.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import Point, mapping, shape

from demine.errors import Conflict, Fault, NotFound, PermissionDenied, ValidationError
from demine.model.kinds import KINDS
from demine.model.schema import Record
from demine.services.access import for_role
from demine.store.base import Store

__all__ = [
    "EXTRACT_KINDS",
    "Area",
    "Checked",
    "KeyError_",
    "area_of",
    "canonical",
    "generate_key",
    "issue",
    "load_private_key",
    "records_touching",
    "register_key",
    "revoke_key",
    "verify_document",
]

FORMAT = "demine-extract/1"
KEYS_SETTING = "extract_keys"
EXTRACT_KINDS = ("hazards", "releases", "eo_reports", "activities")
# what each record says in an extract: public fields only (services.access decides, too)
SUMMARY_FIELDS = {
    "hazards": ("reference", "name", "hazard_type", "status", "reported_on", "closed_on"),
    "releases": ("reference", "release_type", "released_on", "organisation", "hazard_id"),
    "eo_reports": ("reported_at", "status", "hazard_id"),
    "activities": (
        "reference",
        "activity_type",
        "status",
        "organisation",
        "started_on",
        "completed_on",
        "hazard_id",
    ),
}
# bounded work per request (docs/extract.md "Limits")
MAX_PARCEL_M2 = 10_000_000.0  # 10 km²
MAX_VERTICES = 1_000
MAX_RADIUS_M = 5_000.0
MAX_RECORDS = 1_000
SCOPE = "public"  # whose view an extract shows, whoever asks


class KeyError_(ValidationError):  # noqa: N801 - a bad or unusable key file
    title = "Bad signing key"


class NoSigningKey(Conflict):
    """No key to sign with: HTTP 503 (a server set up without one), CLI exit 2."""

    exit_code = 2
    http_status = 503
    title = "Service Unavailable"
    client_safe = True


def canonical(obj: Any) -> bytes:
    """The one byte form of a JSON value that is signed and written: sorted keys, no spaces,
    ``<``, ``>`` and ``&`` escaped (so it may sit in an HTML ``<script>`` block as it is)."""
    raw = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- keys -----------------------------------------------------------------------------------------


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def _raw_public(private: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    )


def generate_key() -> tuple[bytes, dict[str, Any]]:
    """A new Ed25519 key: its private PEM (unencrypted PKCS#8, to be written at mode 0600) and
    the entry to register in the store (no private part)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    raw = _raw_public(private)
    entry = {
        "key_id": key_id(raw),
        "public_key": b64(raw),
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revoked_at": None,
    }
    return pem, entry


def keys(store: Store) -> list[dict[str, Any]]:
    value = store.setting(KEYS_SETTING)
    return [dict(k) for k in value] if isinstance(value, list) else []


def register_key(store: Store, entry: dict[str, Any]) -> None:
    have = keys(store)
    if any(k["key_id"] == entry["key_id"] for k in have):
        raise Conflict(f"key {entry['key_id']} is already registered")
    store.set_setting(KEYS_SETTING, [*have, entry])


def revoke_key(store: Store, kid: str) -> dict[str, Any]:
    have = keys(store)
    for k in have:
        if k["key_id"] == kid:
            if k.get("revoked_at"):
                raise Conflict(f"key {kid} was already revoked on {k['revoked_at']}")
            k["revoked_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            store.set_setting(KEYS_SETTING, have)
            return k
    raise NotFound(f"no extract key {kid!r} in this store (demine extract keys lists them)")


def load_private_key(path: str | os.PathLike[str], *, label: str = "--key") -> Any:
    """The Ed25519 private key in the PEM file ``path``. Errors name the option, never the
    path (a server's message must not show where its key is)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError:
        raise KeyError_(
            "cannot read the signing key", [Fault("no readable key file there", field=label)]
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyError_(
            "the signing key is not an unencrypted PEM private key",
            [Fault("expected the file demine extract keygen wrote", field=label)],
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_("the signing key is not Ed25519", [Fault("not Ed25519", field=label)])
    return key


# --- the place --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Area:
    geometry: dict[str, Any]  # GeoJSON (CRS84) as given: a Point or a (Multi)Polygon
    radius_m: float
    shape: Any  # the geometry grown by the radius (shapely, CRS84)


def _vertices(g: Any) -> int:
    return int(shapely.get_num_coordinates(g))


def area_of(geometry: dict[str, Any], radius_m: float = 0.0, *, where: str = "geometry") -> Area:
    """Check a place (a GeoJSON Point, Polygon or MultiPolygon, CRS84) and a radius against the
    limits, and grow it by the radius. Every fault names where it is."""
    from demine.geo.geodesy import geodesic_area
    from demine.geo.proximity import buffer_m
    from demine.services.safety import place_faults

    faults: list[Fault] = []
    if not (isinstance(radius_m, int | float) and math.isfinite(radius_m)) or not (
        0 <= radius_m <= MAX_RADIUS_M
    ):
        faults.append(Fault(f"the radius must be 0 to {MAX_RADIUS_M:g} m", field="radius_m"))
        radius_m = 0.0
    if not isinstance(geometry, dict) or geometry.get("type") not in (
        "Point",
        "Polygon",
        "MultiPolygon",
    ):
        faults.append(Fault("expected a GeoJSON Point, Polygon or MultiPolygon", field=where))
        raise ValidationError("cannot make an extract for this place", faults)
    try:
        g = shape(geometry)
    except Exception:  # shapely's errors for bad coordinates vary
        raise ValidationError(
            "cannot make an extract for this place",
            [*faults, Fault("the coordinates are not a valid geometry", field=where)],
        ) from None
    if g.is_empty:
        faults.append(Fault("the geometry is empty", field=where))
    elif isinstance(g, Point):
        faults.extend(place_faults(g.y, g.x, f"{where}.lat", f"{where}.lon"))
    else:
        n = _vertices(g)
        minx, miny, maxx, maxy = g.bounds
        if n > MAX_VERTICES:
            faults.append(
                Fault(f"the parcel has {n} vertices; at most {MAX_VERTICES}", field=where)
            )
        elif not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            faults.append(Fault("coordinates outside lon -180..180, lat -90..90", field=where))
        elif not g.is_valid:
            faults.append(
                Fault(
                    f"the parcel is not a valid polygon: {shapely.is_valid_reason(g)}",
                    field=where,
                )
            )
        else:
            m2 = float(geodesic_area([g])[0])
            if m2 > MAX_PARCEL_M2:
                faults.append(
                    Fault(
                        f"the parcel is {m2 / 1e6:,.2f} km²; at most {MAX_PARCEL_M2 / 1e6:g} km²",
                        field=where,
                    )
                )
    if faults:
        raise ValidationError("cannot make an extract for this place", faults)
    grown = buffer_m([g], float(radius_m))[0] if radius_m else g
    return Area(geometry=mapping(g) | {}, radius_m=float(radius_m), shape=grown)


def _geojson(area: Area) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(area.geometry))  # tuples to lists
    return out


# --- the records ------------------------------------------------------------------------------


def _summary(rec: Record) -> dict[str, Any]:
    p = rec.properties
    return {f: p[f] for f in SUMMARY_FIELDS[rec.kind] if p.get(f) not in (None, "")}


def _public(rec: Record) -> Record | None:
    return for_role(KINDS[rec.kind], rec, SCOPE)


def _entry(rec: Record) -> dict[str, Any]:
    return {"kind": rec.kind, "id": rec.id, "revision": rec.revision, "summary": _summary(rec)}


def records_touching(store: Store, area: Area, as_of: str | None = None) -> list[dict[str, Any]]:
    """The public records touching ``area`` as they stood at the end of ``as_of`` (a date,
    UTC; None: now), sorted by kind and id. Now: the current records in the area's box. A
    past date: the store's history, read through once (its last revision of each record on or
    before that day)."""
    shp = area.shape
    shapely.prepare(shp)
    found: list[Record] = []
    if as_of is None:
        box = tuple(shapely.bounds(shp))
        for kind in EXTRACT_KINDS:
            for rec in store.list(kind, bbox=box):
                if rec.geometry is not None and shp.intersects(rec.geometry):
                    found.append(rec)
    else:
        last: dict[str, Any] = {}
        for rev in store.revisions():
            if rev.kind in EXTRACT_KINDS and rev.at[:10] <= as_of:
                last[rev.record_id] = rev
        for rev in last.values():
            st = rev.state
            if st is not None and st.geometry is not None and shp.intersects(st.geometry):
                st.revision = rev.revision
                found.append(st)
    out = []
    for rec in found:
        pub = _public(rec)
        if pub is not None:
            out.append(_entry(pub))
    out.sort(key=lambda e: (EXTRACT_KINDS.index(e["kind"]), e["id"]))
    if len(out) > MAX_RECORDS:
        raise ValidationError(
            f"{len(out)} records touch this place; an extract lists at most {MAX_RECORDS}",
            [Fault("ask for a smaller parcel or a smaller radius", field="geometry")],
        )
    return out


def store_digest(records: list[dict[str, Any]]) -> str:
    keys_ = sorted((r["kind"], r["id"], int(r["revision"])) for r in records)
    return hashlib.sha256(canonical(keys_)).hexdigest()


def check_as_of(text: str | None, *, field_name: str = "as_of") -> str | None:
    """A past date (YYYY-MM-DD) to read the history at; today or None: now (None)."""
    if text is None or text == "":
        return None
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"bad date {text!r}", [Fault("expected a date YYYY-MM-DD", field=field_name)]
        ) from None
    today = datetime.now(UTC).date()
    if d > today:
        raise ValidationError(
            f"{text} is in the future",
            [Fault("an extract is as of today or a past date", field=field_name)],
        )
    return None if d == today else d.isoformat()


# --- issue and verify -------------------------------------------------------------------------


def issue(
    store: Store,
    area: Area,
    private_key: Any,
    *,
    as_of: str | None = None,
    authority: str | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """The signed document {payload, signature} of an extract for ``area`` as of ``as_of``
    (None: now). Refused (503 over HTTP) with a key the store does not know or has revoked."""
    kid = key_id(_raw_public(private_key))
    entry = next((k for k in keys(store) if k["key_id"] == kid), None)
    if entry is None or entry.get("revoked_at"):
        why = "is not registered in this store" if entry is None else "was revoked"
        raise NoSigningKey(
            f"the configured signing key {why}: make one with demine extract keygen "
            "(--extract-key / DEMINE_EXTRACT_KEY names it)"
        )
    now = datetime.now(UTC)
    records = records_touching(store, area, as_of)
    payload = {
        "format": FORMAT,
        "extract_id": str(uuid.uuid4()),
        "issued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "as_of": as_of or now.date().isoformat(),
        "geometry": _geojson(area),
        "radius_m": area.radius_m,
        "records": records,
        "store_digest": store_digest(records),
        "authority": authority or store.setting("authority") or "demine",
        "synthetic": bool(store.setting("synthetic")),
        "lang": lang,
        "key_id": kid,
    }
    return {"payload": payload, "signature": b64(private_key.sign(canonical(payload)))}


@dataclass
class Checked:
    """What a verification found. ``valid``: the signature holds with a known, unrevoked key;
    ``changed``: the records touching the place differ now from those signed."""

    valid: bool
    key_id: str | None
    message: str
    changed: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    payload: dict[str, Any] | None = None
    reason: str = "ok"  # not_extract | unknown_key | bad_signature | revoked | changed_file

    def to_dict(self) -> dict[str, Any]:
        p = self.payload or {}
        return {
            "valid": self.valid,
            "reason": self.reason,
            "key_id": self.key_id,
            "changed": self.changed,
            "changes": self.changes,
            "message": self.message,
            "extract_id": p.get("extract_id"),
            "issued_at": p.get("issued_at"),
            "as_of": p.get("as_of"),
            "authority": p.get("authority"),
            # what the QR code's verify address names (its first 32 hex digits)
            "digest": hashlib.sha256(canonical(p)).hexdigest() if p else None,
        }


def _public_key(entry: dict[str, Any]) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"]))


def check_signature(store: Store, document: Any) -> Checked:
    """The signature of a signed document, with the store's registered keys."""
    from cryptography.exceptions import InvalidSignature

    if not (
        isinstance(document, dict)
        and isinstance(document.get("payload"), dict)
        and isinstance(document.get("signature"), str)
    ):
        return Checked(False, None, "not a demine extract: no signed payload", reason="not_extract")
    payload = document["payload"]
    kid = payload.get("key_id")
    entry = next((k for k in keys(store) if k["key_id"] == kid), None)
    if entry is None:
        return Checked(
            False,
            str(kid),
            f"unknown key {str(kid)[:40]!r}: not this authority's",
            reason="unknown_key",
        )
    try:
        sig = base64.b64decode(document["signature"], validate=True)
        _public_key(entry).verify(sig, canonical(payload))
    except (InvalidSignature, ValueError):
        return Checked(
            False,
            kid,
            "signature NOT valid: the extract was changed or forged",
            reason="bad_signature",
        )
    if entry.get("revoked_at"):
        return Checked(
            False,
            kid,
            f"key {kid} was revoked on {entry['revoked_at']}: not valid",
            reason="revoked",
        )
    return Checked(True, kid, f"signature valid (key {kid})", payload=payload)


def seal_message(extract_id: str, digest: str) -> bytes:
    return f"demine-extract-file\n{extract_id}\n{digest}".encode()


def check_seal(store: Store, checked: Checked, seal: dict[str, Any], body: bytes) -> Checked:
    """A document file's seal: the signature over the sha256 of its bytes (HTML, PDF)."""
    from cryptography.exceptions import InvalidSignature

    p = checked.payload or {}
    digest = hashlib.sha256(body).hexdigest()
    entry = next(k for k in keys(store) if k["key_id"] == checked.key_id)
    try:
        if seal.get("sha256") != digest:
            raise InvalidSignature
        sig = base64.b64decode(str(seal.get("signature")), validate=True)
        _public_key(entry).verify(sig, seal_message(str(p.get("extract_id")), digest))
    except (InvalidSignature, ValueError):
        return Checked(
            False,
            checked.key_id,
            "signature NOT valid: the document's content was changed",
            reason="changed_file",
        )
    return checked


def changes_since(store: Store, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The records touching the signed place now that were not signed (added), were signed
    at another revision (changed), or are gone or no longer public (removed)."""
    area = area_of(payload["geometry"], float(payload.get("radius_m") or 0.0))
    now = {(r["kind"], r["id"]): r for r in records_touching(store, area, None)}
    then = {(r["kind"], r["id"]): r for r in payload.get("records") or []}
    out = []
    for key in sorted(set(now) | set(then)):
        a, b = then.get(key), now.get(key)
        if a is None and b is not None:
            out.append({"change": "added", **b})
        elif b is None and a is not None:
            out.append({"change": "removed", **a})
        elif a is not None and b is not None and int(a["revision"]) != int(b["revision"]):
            out.append({"change": "changed", "was_revision": a["revision"], **b})
    return out


def verify_document(
    store: Store, document: Any, seal: dict[str, Any] | None = None, body: bytes | None = None
) -> Checked:
    """The whole check: the signature (and the file's seal), then the changes since."""
    c = check_signature(store, document)
    if c.valid and seal is not None and body is not None:
        c = check_seal(store, c, seal, body)
    if not c.valid or c.payload is None:
        return c
    try:
        c.changes = changes_since(store, c.payload)
    except ValidationError:
        return Checked(
            False, c.key_id, "the signed place is not a valid extract place", reason="not_extract"
        )
    c.changed = bool(c.changes)
    since = c.payload.get("as_of")
    if c.changed:
        n = len(c.changes)
        c.message = (
            f"signature valid (key {c.key_id}), but the record has changed since {since}: "
            f"{n} record{'s' if n != 1 else ''} added/changed/removed: "
            + "; ".join(f"{x['change']} {x['kind']} {x['id']}" for x in c.changes[:20])
        )
    else:
        c.message = (
            f"signature valid (key {c.key_id}); the store has not changed for this place "
            f"since {since}"
        )
    return c


def require_key_admin(role: str | None) -> None:
    if role not in (None, "admin"):
        raise PermissionDenied(
            f"the {role} role cannot manage extract keys: that needs the admin role "
            "(demine --role admin ...)"
        )
