"""The demo's intake (issue 13): two SYNTHETIC operator organisations, their field teams and QA
officers, an information-management officer of the authority, and submissions in every state
(draft, submitted, returned, approved by the operator's QA, approved, rejected), made through
the same services as the faces (:mod:`demine.services.records`, :mod:`demine.services.intake`),
so the review queue, the report and the review page have something real-shaped to show. One
submission duplicates a demo hazard (its candidate), some carry a photo with EXIF position.

The organisations' names say they are synthetic; the demo's notice applies to all of it."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import shapely.geometry
from shapely.affinity import translate

from demine.services import attachments, records
from demine.services import intake as review
from demine.services.records import WriteContext
from demine.services.submitting import Submitted
from demine.store.base import Store

ORGANISATIONS = (
    ("OPA", "Operator A (synthetic demo organisation)"),
    ("OPB", "Operator B (synthetic demo organisation)"),
)
# name -> (role, organisation); the authority's users belong to AUTHORITY
USERS = {
    "field_a": ("field", "OPA"),
    "qa_a": ("operator", "OPA"),
    "field_b": ("field", "OPB"),
    "qa_b": ("operator", "OPB"),
    "im_officer": ("reviewer", None),
}
REVIEWER = "im_officer"


def _submit(
    store: Store, user: str, kind: str, props: dict[str, Any], geom: Any, why: str
) -> dict[str, Any]:
    """A write by ``user`` through the write path: it becomes a submission."""
    role = USERS[user][0]
    ctx = WriteContext(role=role, actor=user, reason=why)
    try:
        records.create(store, store.kind(kind), props, geom, ctx=ctx)
    except Submitted as s:
        return s.submission
    raise AssertionError(f"a {role}'s write was not a submission")  # pragma: no cover


def _photo(lon: float, lat: float, seed: int) -> bytes:
    """A small SYNTHETIC photo (a flat colour with a caption) with EXIF GPS position."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    shade = tuple(int(x) for x in rng.integers(90, 160, 3))
    img = Image.new("RGB", (320, 240), shade)
    ImageDraw.Draw(img).text((10, 10), "SYNTHETIC DEMO PHOTO", fill=(255, 255, 255))

    def dms(v: float) -> tuple[float, float, float]:
        v = abs(v)
        d = int(v)
        m = int((v - d) * 60)
        return (float(d), float(m), round(((v - d) * 60 - m) * 60, 2))

    exif = Image.Exif()
    gps = {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
    exif[0x8825] = gps
    exif.get_ifd(0x8769)[0x9003] = "2026:10:14 09:30:00"  # DateTimeOriginal
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=70)
    return out.getvalue()


def demo_intake(store: Store, seed: int) -> dict[str, Any]:
    """Organisations, users and submissions in every state; returns the count per state."""
    for code, name in ORGANISATIONS:
        store.add_organisation(code, name, "operator")
    for name, (role, org) in USERS.items():
        store.add_user(name, role, org)
    hazards = [h for h in store.list("hazards") if h.geometry is not None][:3]
    base = hazards[0]
    poly = translate(base.geometry, xoff=0.05, yoff=0.03)  # a new area beside a demo hazard
    new_props = {"hazard_type": "SHA", "status": "open", "name": "Synthetic field report A-1"}

    sub = {}
    # hazards come from the operators' data managers (non-technical survey reports), EO
    # reports from field teams
    # submitted: a new hazard, waiting for a decision
    sub["submitted"] = _submit(
        store, "qa_a", "hazards", new_props, poly, "non-technical survey, synthetic"
    )
    # a duplicate of a demo hazard (the reviewer is offered it as a candidate), with a photo
    dup_geom = translate(hazards[1].geometry, xoff=0.00005)
    dup = _submit(
        store,
        "qa_b",
        "hazards",
        {**hazards[1].properties, "name": "Synthetic duplicate of a recorded hazard"},
        dup_geom,
        "reported again by a second team, synthetic",
    )
    c = dup_geom.centroid
    attachments.add(store, "submission", dup["id"], "site.jpg", _photo(c.x, c.y, seed), "qa_b")
    # returned for correction
    ret = _submit(
        store,
        "qa_b",
        "hazards",
        {**new_props, "name": "Synthetic report B-2 (village missing)"},
        translate(base.geometry, xoff=-0.06, yoff=0.02),
        "synthetic",
    )
    review.return_(
        store,
        ret["id"],
        role="reviewer",
        actor=REVIEWER,
        reason="name the nearest settlement and the informant",
    )
    # rejected
    rej = _submit(
        store,
        "qa_a",
        "hazards",
        {**new_props, "name": "Synthetic report A-3 (outside the area)"},
        translate(base.geometry, xoff=0.09, yoff=-0.04),
        "synthetic",
    )
    review.reject(
        store,
        rej["id"],
        role="reviewer",
        actor=REVIEWER,
        reason="the same area was cancelled by non-technical survey last month",
    )
    # approved: written through the write path, the submitter as author
    pt = shapely.geometry.Point(c.x + 0.02, c.y + 0.01)
    eo = _submit(
        store,
        "field_a",
        "eo_reports",
        {"reported_at": "2026-10-14T09:30:00Z", "status": "new", "public": True},
        pt,
        "explosive ordnance report taken at a village meeting, synthetic",
    )
    review.approve(store, eo["id"], role="reviewer", actor=REVIEWER, reason="checked")
    # approved by the operator's QA, waiting for the authority (two-level approval)
    op = _submit(
        store,
        "field_a",
        "eo_reports",
        {"reported_at": "2026-10-20T11:00:00Z", "status": "new", "public": True},
        shapely.geometry.Point(c.x - 0.02, c.y + 0.015),
        "synthetic",
    )
    store.change_submission(
        op["id"],
        state="approved_operator",
        actor="qa_a",
        reason="operator QA: checked against the team's notes",
        expect=("submitted",),
    )
    # a draft the field team has not sent yet
    from demine.services.submitting import pending

    pending(
        store,
        actor="qa_b",
        kind="hazards",
        action="create",
        payload={
            "properties": {**new_props, "name": "Synthetic draft B-4"},
            "geometry": shapely.geometry.mapping(translate(base.geometry, yoff=-0.05)),
        },
        state="draft",
        reason="saved on the phone, synthetic",
    )
    states: dict[str, int] = {}
    for row in store.submissions():
        states[row["state"]] = states.get(row["state"], 0) + 1
    return {"organisations": [c for c, _ in ORGANISATIONS], "submissions": states}
