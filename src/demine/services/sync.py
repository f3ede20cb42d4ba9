"""The field app's sync (issue 14, docs/field.md "Sync" and "Conflicts").

* :func:`outbox`: a device's outbox, each item a submission made through the one write path
  (:mod:`demine.services.records`, so it is checked exactly as any write), idempotent by the
  item's ``client_id`` (unique in the organisation: the same item again answers ``already``
  with the same submission and stores nothing). Each item has its own answer: ``stored``,
  ``already``, ``conflict`` (an update or delete made on a revision that is not the record's
  current one: stored, marked, never applied) or ``invalid`` (its faults located as
  ``items[i].field``; nothing of it stored). One bad item does not refuse the others.
* :func:`pull`: what changed of the organisation's submissions since a cursor.
* :func:`area`: the records and reference layers within a box, for the device's cache.

Photos come as resumable uploads (:mod:`demine.services.uploads`) named by the item; they
become attachments of its submission in the same transaction (the checks of
:mod:`demine.services.attachments`).
"""

from __future__ import annotations

from typing import Any

from demine.errors import ContentTooLarge, DemineError, Fault, PermissionDenied, ValidationError
from demine.ids import is_uuid, uuid7
from demine.services.access import (
    SUBMITTERS,
    can_read_kind,
    for_role,
    require_write,
    submits,
    visible_record,
)
from demine.services.submitting import Submitted, geojson, organisation_of
from demine.store.base import Store

MAX_ITEMS = 200  # items of one outbox request
MAX_OUTBOX_BYTES = 8 * 2**20  # bytes of one outbox request's body
MAX_PHOTOS = 20  # photos of one item
MAX_REQUEST_PHOTOS = 50  # photos of one outbox request (each up to the attachment limit)
MAX_TEXT = 200  # characters of a device id, a kind or an upload id
ACTIONS = ("create", "update", "delete")
PULL_LIMIT = 500  # changes of one pull, by default and at most
MAX_BOX_DEG = 1.0  # the largest side of an area's box, in degrees (about 111 km north-south)
MAX_AREA_FEATURES = 5000  # features of one kind or layer in an area
MAX_AREA_TOTAL = 20000  # features of one area request


def _require_submitter(role: str | None) -> None:
    if not submits(role):
        raise PermissionDenied(
            f"the {role} role has no outbox: the field app syncs for the "
            f"{' or '.join(SUBMITTERS)} role (other roles write records directly)"
        )


def _bad(what: str, faults: list[Fault]) -> ValidationError:
    return ValidationError(what, faults)


def outbox(store: Store, body: Any, *, role: str | None, actor: str) -> dict[str, Any]:
    """Store each item of a device's outbox as a submission; see the module's text."""
    _require_submitter(role)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise _bad(
            "the outbox is not {'device': ..., 'items': [...]}",
            [Fault("expected an object with a list 'items'", field="items")],
        )
    device = body.get("device")
    if not isinstance(device, str) or not 0 < len(device) <= MAX_TEXT:
        raise _bad(
            "bad device",
            [Fault(f"the device's id: a text of 1 to {MAX_TEXT} characters", field="device")],
        )
    items = body["items"]
    if len(items) > MAX_ITEMS:
        raise ContentTooLarge(
            f"the outbox has {len(items)} items, over the limit of {MAX_ITEMS} a request: send "
            "it in parts",
            "max_items",
            MAX_ITEMS,
            "items",
        )
    photos = sum(
        len(it["photos"])
        for it in items
        if isinstance(it, dict) and isinstance(it.get("photos"), list)
    )
    if photos > MAX_REQUEST_PHOTOS:
        raise ContentTooLarge(
            f"the outbox names {photos} photos, over the limit of {MAX_REQUEST_PHOTOS} a request: "
            "send it in parts",
            "max_request_photos",
            MAX_REQUEST_PHOTOS,
            "items",
        )
    org = organisation_of(store, actor)
    return {"items": [_item(store, i, it, role, actor, org, device) for i, it in enumerate(items)]}


def _answer(cid: Any, status: str, sub: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    out = {
        "client_id": cid,
        "submission_id": None if sub is None else sub["id"],
        "status": status,
        "faults": kw.pop("faults", []),
    }
    if sub is not None and sub.get("conflict"):
        out["conflict"] = sub["conflict"]
    return {**out, **kw}


def _item(
    store: Store, i: int, it: Any, role: str | None, actor: str, org: str, device: str
) -> dict[str, Any]:
    def fault(field: str, reason: str) -> dict[str, Any]:
        return Fault(reason, index=i, field=f"items[{i}].{field}").to_dict()

    if not isinstance(it, dict):
        return _answer(None, "invalid", faults=[fault("", "an item is an object")])
    cid = it.get("client_id")
    if not is_uuid(cid):
        return _answer(cid, "invalid", faults=[fault("client_id", "a UUID made on the device")])
    cid = str(cid).lower()
    sid = store.submission_by_client_id(org, cid)
    if sid is not None:
        return _already(store, cid, sid)
    faults = _shape_faults(it, fault)
    if faults:
        return _answer(cid, "invalid", faults=faults)
    try:
        photos = _photos(store, it.get("photos") or [], actor, i)
        return _store_item(store, i, it, cid, role, actor, device, photos)
    except Exception as e:
        sid = store.submission_by_client_id(org, cid)  # the same item, sent at the same time
        if sid is not None:  # (the unique index refused the second): what the first stored
            return _already(store, cid, sid)
        if isinstance(e, ValidationError):
            located = [
                {
                    **{k: v for k, v in f.to_dict().items() if k != "feature_id"},
                    "index": i,
                    "field": f"items[{i}].{_member(f.field)}".rstrip("."),
                }
                for f in e.faults
            ] or [fault("", e.message)]
            return _answer(cid, "invalid", faults=located)
        if isinstance(e, DemineError) and e.http_status < 500:  # 403, 404, 409: this item's
            return _answer(cid, "invalid", faults=[fault("", e.message)])
        raise


def _member(field: str | None) -> str:
    """Where a fault of the write path is in an item: a field's value is in ``properties``."""
    if not field or field.startswith(("geometry", "photos", "properties", "record_id", "kind")):
        return field or ""
    return f"properties.{field}"


def _already(store: Store, cid: str, sid: str) -> dict[str, Any]:
    sub = store.submissions(sid=sid)[0]
    return _answer(cid, "already", sub, state=sub["state"])


def _shape_faults(it: dict[str, Any], fault: Any) -> list[dict[str, Any]]:
    out = []
    if not isinstance(it.get("kind"), str) or len(it["kind"]) > MAX_TEXT:
        out.append(fault("kind", "the kind of record (hazards, finds, eo_reports, ...)"))
    action = it.get("action")
    if action not in ACTIONS:
        out.append(fault("action", f"one of {', '.join(ACTIONS)}"))
    if action in ("update", "delete"):
        if not is_uuid(it.get("record_id")):
            out.append(fault("record_id", f"the id of the record to {action}"))
        base = it.get("base_revision")
        if not isinstance(base, int) or isinstance(base, bool) or base < 1:
            out.append(fault("base_revision", "the record's revision the device edited"))
    elif it.get("record_id") is not None and not is_uuid(it.get("record_id")):
        out.append(fault("record_id", "a UUID (the new record's id), or none"))
    if not isinstance(it.get("properties", {}) or {}, dict):
        out.append(fault("properties", "an object of field values"))
    geom = it.get("geometry")
    if geom is not None and not isinstance(geom, dict):
        out.append(fault("geometry", "a GeoJSON geometry, or null"))
    acc = it.get("accuracy_m")
    if acc is not None and (
        not isinstance(acc, list)
        or not all(
            a is None or (isinstance(a, int | float) and not isinstance(a, bool) and a >= 0)
            for a in acc
        )
    ):
        out.append(
            fault(
                "accuracy_m",
                "a list of metres, one a point or vertex (null for one placed by hand)",
            )
        )
    cap = it.get("captured_at")
    if cap is not None and (not isinstance(cap, str) or len(cap) > 40):
        out.append(fault("captured_at", "an ISO 8601 time"))
    photos = it.get("photos")
    if photos is not None and (
        not isinstance(photos, list)
        or len(photos) > MAX_PHOTOS
        or not all(isinstance(p, str) and len(p) <= MAX_TEXT for p in photos)
    ):
        out.append(fault("photos", f"a list of at most {MAX_PHOTOS} upload ids"))
    return out


def _photos(store: Store, ids: list[str], actor: str, i: int) -> list[dict[str, Any]]:
    from demine.services.uploads import ready

    faults, out = [], []
    for j, uid in enumerate(ids):
        try:
            out.append(ready(store, uid, actor))
        except DemineError as e:
            faults.append(Fault(e.message, index=i, field=f"photos[{j}]"))
    if faults:
        raise ValidationError("photos not ready", faults)
    return out


def _store_item(
    store: Store,
    i: int,
    it: dict[str, Any],
    cid: str,
    role: str | None,
    actor: str,
    device: str,
    photos: list[dict[str, Any]],
) -> dict[str, Any]:
    from demine.services import records
    from demine.services.uploads import attach

    kind = store.kind(it["kind"])
    if kind.is_layer:
        raise ValidationError(
            "not a kind", [Fault("a reference layer is not written from the field", field="kind")]
        )
    if not can_read_kind(kind, role or "public"):  # as in the OGC API: it does not exist
        raise ValidationError("not a kind", [Fault(f"no kind {kind.name!r}", field="kind")])
    require_write(kind, role or "public")  # before any look-up of the record it names
    props = dict(it.get("properties") or {})
    acc = it.get("accuracy_m") or []
    measured = [a for a in acc if a is not None]
    if measured:  # a shape is as good as its worst point
        props.setdefault("position_accuracy_m", max(measured))
    if len(measured) < len(acc):  # placed by hand on the map: no accuracy to give
        props.setdefault("position_points_by_hand", len(acc) - len(measured))
    action, rid, base = it["action"], it.get("record_id"), it.get("base_revision")
    conflict = None
    if action != "create":
        cur = store.get(kind.name, str(rid))
        if cur.revision != base:
            conflict = {"base_revision": base, "current_revision": cur.revision}
    sync = {
        "client_id": cid,
        "conflict": conflict,
        "device": device,
        "captured_at": it.get("captured_at"),
        "accuracy_m": acc or None,
    }
    ctx = records.WriteContext(
        role=role, actor=actor, reason=f"field app, device {device}", sync=sync
    )

    def body() -> dict[str, Any]:
        try:
            if action == "create":
                records.create(store, kind, props, it.get("geometry"), rid=rid or uuid7(), ctx=ctx)
            elif action == "update":
                geom = it.get("geometry")
                records.patch(
                    store,
                    kind,
                    str(rid),
                    props,
                    ... if geom is None else geom,
                    if_revision=base,
                    ctx=ctx,
                )
            else:
                records.delete(store, str(rid), if_revision=base, ctx=ctx)
        except Submitted as s:
            for j, p in enumerate(photos):
                try:
                    attach(store, p, s.submission["id"], actor)
                except ValidationError as e:  # the attachment checks: nothing of the item kept
                    why = [f.reason for f in e.faults] or [e.message]
                    raise ValidationError(
                        e.message,
                        [Fault(f"{p['filename']}: {w}", field=f"photos[{j}]") for w in why],
                    ) from None
            return s.submission
        raise AssertionError("a submitter's write is a submission")  # pragma: no cover

    sub = store.atomically(body)
    return _answer(cid, "conflict" if conflict else "stored", sub, state=sub["state"])


# --- pull ----------------------------------------------------------------------------------------


def pull(
    store: Store, *, role: str | None, actor: str, since: str | None, limit: int | None
) -> dict[str, Any]:
    """The organisation's submissions whose state changed after the cursor ``since`` (none:
    from the start), oldest change first: ``{"changes": [...], "cursor", "more"}``; ask
    again with ``cursor`` while ``more``."""
    _require_submitter(role)
    if since in (None, ""):
        after = 0
    elif since.isdigit() and len(since) <= 18:
        after = int(since)
    else:
        raise ValidationError(
            "bad cursor", [Fault("the cursor of an earlier pull (digits), or none", field="since")]
        )
    n = PULL_LIMIT if limit is None else limit
    if not 1 <= n <= PULL_LIMIT:
        raise ValidationError(
            "bad limit", [Fault(f"from 1 to {PULL_LIMIT} changes a request", field="limit")]
        )
    changes, cursor, more = store.submission_changes(organisation_of(store, actor), after, n)
    return {"changes": changes, "cursor": str(cursor), "more": more}


# --- area ----------------------------------------------------------------------------------------


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(abs(v) < 1e9 for v in box):
        raise ValidationError(
            "bad bbox", [Fault("minx,miny,maxx,maxy in degrees (CRS84)", field="bbox")]
        )
    minx, miny, maxx, maxy = box
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ValidationError(
            "bad bbox",
            [Fault("minx < maxx within -180..180, miny < maxy within -90..90", field="bbox")],
        )
    if maxx - minx > MAX_BOX_DEG or maxy - miny > MAX_BOX_DEG:
        raise ContentTooLarge(
            f"the box is {maxx - minx:g}° x {maxy - miny:g}°, over the limit of {MAX_BOX_DEG:g}° "
            "a side: choose a smaller work area",
            "max_box_degrees",
            MAX_BOX_DEG,
            "bbox",
        )
    return minx, miny, maxx, maxy


def area(
    store: Store, bbox: str, layers: str | None, *, role: str, budget: Any = None
) -> dict[str, Any]:
    """The approved records (of the kinds ``role`` reads, as it may read them) and the
    reference layers within the box: ``{"bbox", "layers": {name: FeatureCollection}}``."""
    tick = budget.tick if budget is not None else (lambda: None)
    box = parse_bbox(bbox)
    readable = {k.name: k for k in store.kinds() if can_read_kind(k, role)}
    names = list(readable) if not layers else [n.strip() for n in layers.split(",") if n.strip()]
    unknown = [n for n in names if n not in readable]
    if unknown or len(names) > len(readable):
        raise ValidationError(
            "bad layers",
            [Fault(f"no kind or layer {n!r} the role reads", field="layers") for n in unknown],
        )
    out, total = {}, 0
    for name in names:
        kind = readable[name]
        feats = []
        for rec in store.list(name, bbox=box, limit=MAX_AREA_FEATURES + 1):
            tick()
            if not visible_record(kind, rec, role):
                continue
            seen = for_role(kind, rec, role)
            if seen is None:
                continue
            feats.append(
                {
                    "type": "Feature",
                    "id": seen.id,
                    "properties": {**seen.properties, "revision": seen.revision},
                    "geometry": geojson(seen.geometry),
                }
            )
        total += len(feats)
        if len(feats) > MAX_AREA_FEATURES or total > MAX_AREA_TOTAL:
            over = len(feats) > MAX_AREA_FEATURES
            raise ContentTooLarge(
                f"the box holds more than {MAX_AREA_FEATURES if over else MAX_AREA_TOTAL} "
                f"{name if over else 'features'}: choose a smaller work area or fewer layers",
                "max_area_features" if over else "max_area_total",
                MAX_AREA_FEATURES if over else MAX_AREA_TOTAL,
                "bbox",
            )
        out[name] = {"type": "FeatureCollection", "features": feats}
    return {"bbox": list(box), "layers": out}
