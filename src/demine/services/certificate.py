"""The land-release completion / hand-over certificate (IMAS 07.11): the plain data of a closed
or handed-over hazard (:func:`certificate_data`) and its printable HTML, rendered from the
Jinja2 template ``demine/templates/certificate.html.j2`` with every value escaped
(:func:`certificate_html`)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import shapely
from markupsafe import Markup

from demine.errors import Conflict, PermissionDenied
from demine.geo.release import account
from demine.model.schema import Record
from demine.model.synthetic import SYNTHETIC_NOTICE
from demine.services.access import at_least
from demine.services.release import (
    ACTIVITY_LABELS,
    on_hazard,
    release_input,
    tolerance_m2,
)
from demine.services.templating import render_template, template_text
from demine.store.base import Store

__all__ = ["CERTIFICATE_ROLE", "COLOURS", "certificate_data", "certificate_html"]

CERTIFICATE_ROLE = "analyst"  # it names who received the land and counts the devices found
COLOURS = {"cancelled": "#9ecae1", "reduced": "#fdd49e", "cleared": "#a1d99b"}
SIGNATORIES = ("Operator", "National mine action authority", "Receiving community / land user")


def _svg_map(hazard: Any, pieces: Iterable[Any], remaining: Any, finds: Sequence[Any]) -> str:
    """An inline SVG of the hazard, its release polygons (as credited) and the finds."""
    minx, miny, maxx, maxy = shapely.bounds(hazard)
    lat0 = (miny + maxy) / 2
    kx = math.cos(math.radians(lat0))
    w_deg, h_deg = max((maxx - minx) * kx, 1e-9), max(maxy - miny, 1e-9)
    width, pad = 560.0, 20.0
    scale = (width - 2 * pad) / w_deg
    height = min(h_deg * scale + 2 * pad, 520.0)
    scale = min(scale, (height - 2 * pad) / h_deg)

    def xy(x: float, y: float) -> str:
        return f"{pad + (x - minx) * kx * scale:.1f},{pad + (maxy - y) * scale:.1f}"

    def path(g: Any) -> str:
        out = []
        for poly in shapely.get_parts(g):
            if poly.geom_type != "Polygon":
                continue
            for ring in (poly.exterior, *poly.interiors):
                pts = list(ring.coords)
                out.append("M" + " L".join(xy(x, y) for x, y in pts) + " Z")
        return " ".join(out)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" '
        'aria-label="Map of the hazard and its release polygons">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    for p in pieces:
        if p.credited is None or shapely.is_empty(p.credited):
            continue
        parts.append(
            f'<path d="{path(p.credited)}" fill="{COLOURS.get(p.release_type, "#ddd")}" '
            f'fill-rule="evenodd" stroke="#555" stroke-width="0.5">'
            f"<title>{html.escape(p.release_type)} {html.escape(p.released_on)}</title></path>"
        )
    if remaining is not None and not shapely.is_empty(remaining):
        parts.append(
            f'<path d="{path(remaining)}" fill="#e34a33" fill-opacity="0.6" '
            'fill-rule="evenodd" stroke="none"><title>remaining</title></path>'
        )
    parts.append(
        f'<path d="{path(hazard)}" fill="none" stroke="#b30000" stroke-width="2" '
        'stroke-dasharray="6 3" fill-rule="evenodd"><title>hazard boundary</title></path>'
    )
    for f in finds[:2000]:
        x, y = xy(f.x, f.y).split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="1.6" fill="#222"/>')
    # scale bar: a round length near a quarter of the width
    m_per_px = 1 / scale * 111_320.0  # degrees of latitude to metres (about 0.5%)
    target = (width - 2 * pad) / 4 * m_per_px
    bar_m = 10 ** math.floor(math.log10(max(target, 1e-9)))
    for step in (5, 2):
        if bar_m * step <= target:
            bar_m *= step
            break
    bar_px = bar_m / m_per_px
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    y0 = height - 8
    parts.append(
        f'<line x1="{pad}" y1="{y0}" x2="{pad + bar_px:.1f}" y2="{y0}" stroke="#000" '
        f'stroke-width="3"/><text x="{pad + bar_px + 6:.1f}" y="{y0 + 4}" font-size="11">'
        f"{label}</text>"
        f'<text x="{width - pad:.0f}" y="{pad + 4:.0f}" font-size="13" text-anchor="end">'
        "N ↑</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _m2(x: Any) -> str:
    v = float(x or 0.0)
    return f"{v:,.1f} m² ({v / 10_000:,.4f} ha)"


def _centre(g: Any) -> str | None:
    if g is None or shapely.is_empty(g):
        return None
    c = shapely.point_on_surface(g)
    return f"{c.x:.5f}, {c.y:.5f}"


def _finds_in(store: Store, h: Record) -> list[Record]:
    """Devices found in the hazard: finds linked to it, or unlinked finds inside it."""
    if h.geometry is None:
        return []
    shapely.prepare(h.geometry)
    out = []
    for f in store.list("finds", bbox=tuple(shapely.bounds(h.geometry))):
        hid = f.properties.get("hazard_id")
        if hid == h.id or (
            not hid and f.geometry is not None and h.geometry.intersects(f.geometry)
        ):
            out.append(f)
    return out


def certificate_data(store: Store, hazard_id: str, *, role: str = "admin") -> dict[str, Any]:
    """Everything the certificate shows, as plain data (strings and numbers; ``svg`` the map).
    Conflict for an open hazard; PermissionDenied below the analyst role (it shows
    ``handed_over_to`` and the finds). No personal data of victims or reporters is read."""
    if not at_least(role, CERTIFICATE_ROLE):
        raise PermissionDenied(
            f"the {role} role cannot issue a land-release certificate ({CERTIFICATE_ROLE} "
            "and above: it names who received the land and the devices found)"
        )
    h = store.get("hazards", hazard_id)
    p = h.properties
    status = p.get("status")
    if status not in ("closed", "handed_over"):
        raise Conflict(
            f"hazard {h.id} is {status}: a certificate is issued only for a closed or "
            "handed-over hazard"
        )
    acts = sorted(
        on_hazard(store, "activities", h.id),
        key=lambda a: (str(a.properties.get("started_on")), a.id),
    )
    rels = on_hazard(store, "releases", h.id)
    acc = account(h.geometry, [release_input(r) for r in rels if r.geometry is not None])
    act_by_id = {a.id: a for a in acts}
    rel_by_id = {r.id: r for r in rels}
    finds = _finds_in(store, h)
    names = {d.properties.get("code"): d.properties.get("name") for d in store.list("device_types")}
    counts: dict[tuple[str, str], int] = {}
    for f in finds:
        key = (str(f.properties.get("device_type")), str(f.properties.get("state")))
        counts[key] = counts.get(key, 0) + 1
    try:
        synthetic = bool(store.setting("synthetic"))
    except Exception:  # a store without settings
        synthetic = False
    tol = tolerance_m2(acc.hazard_m2)
    title = f"Land release certificate — hazard {p.get('reference') or h.id}"

    def activity(a: Record) -> dict[str, Any]:
        q = a.properties
        depth = q.get("depth_cm")
        return {
            "label": ACTIVITY_LABELS.get(str(q.get("activity_type")), q.get("activity_type")),
            "organisation": q.get("organisation") or "",
            "team": q.get("team") or "",
            "status": q.get("status") or "",
            "started_on": q.get("started_on") or "",
            "completed_on": q.get("completed_on") or "",
            "methods": str(q.get("method") or "").replace("_", " ").replace(",", ", "),
            "depth": f"{float(depth):g} cm" if depth is not None else "",
            "reference": q.get("reference") or "",
        }

    def release(piece: Any) -> dict[str, Any]:
        rr = rel_by_id[piece.release_id].properties
        org = rr.get("organisation") or act_by_id.get(
            str(rr.get("activity_id")), Record("", "", {})
        ).properties.get("organisation")
        return {
            "release_type": piece.release_type,
            "released_on": piece.released_on,
            "organisation": org or "",
            "reference": rr.get("reference") or "",
            "recorded": f"{piece.recorded_m2:,.1f}",
            "counted": f"{piece.credited_m2:,.1f}",
            "overlap": f"{piece.overlap_m2:,.1f}",
            "outside": f"{piece.outside_m2:,.1f}",
        }

    svg = None
    if h.geometry is not None:
        svg = _svg_map(
            h.geometry,
            acc.pieces,
            acc.remaining if acc.remaining_m2 > tol else None,
            [f.geometry for f in finds if f.geometry is not None],
        )
    return {
        "title": title,
        "synthetic": SYNTHETIC_NOTICE if synthetic else None,
        "issued": date.today().isoformat(),
        "hazard_id": h.id,
        "revision": h.revision,
        "hazard_rows": [
            ("Reference", p.get("reference")),
            ("Name", p.get("name")),
            ("Type", p.get("hazard_type")),
            ("Administrative area", p.get("admin_area")),
            ("Location (centre, lon/lat WGS 84)", _centre(h.geometry)),
            ("Device categories", p.get("device_categories")),
            ("Reported on", p.get("reported_on")),
            ("Surveyed on", p.get("surveyed_on")),
            ("Status", str(status).replace("_", " ")),
            ("Closed on", p.get("closed_on")),
            ("Handed over to", p.get("handed_over_to")),
            ("Handed over on", p.get("handed_over_on")),
        ],
        "area_rows": [
            ("Original area", _m2(acc.hazard_m2)),
            ("Cancelled (non-technical survey)", _m2(acc.by_type.get("cancelled"))),
            ("Reduced (technical survey)", _m2(acc.by_type.get("reduced"))),
            ("Cleared", _m2(acc.by_type.get("cleared"))),
            ("Total released", _m2(acc.released_m2)),
            ("Remaining", _m2(0.0 if acc.remaining_m2 <= tol else acc.remaining_m2)),
        ],
        "tolerance": f"{tol:,.1f}",
        "remaining_computed": f"{acc.remaining_m2:,.2f}",
        "activities": [activity(a) for a in acts],
        "releases": [release(piece) for piece in acc.pieces],
        "devices": [
            {
                "label": f"{names.get(code) or code} ({code})" if names.get(code) else code,
                "state": state.replace("_", " "),
                "number": n,
            }
            for (code, state), n in sorted(counts.items())
        ],
        "svg": svg,
        "legend": list(COLOURS.items()),
        "signatories": list(SIGNATORIES),
    }


def certificate_html(store: Store, hazard_id: str, *, role: str = "admin") -> str:
    """A printable land-release completion / hand-over certificate for a closed or handed-over
    hazard: :func:`certificate_data` through the template, every value HTML-escaped (the map is
    SVG built from numbers and escaped titles)."""
    data = certificate_data(store, hazard_id, role=role)
    return render_template(
        "certificate.html.j2",
        {
            **data,
            "css": Markup(template_text("certificate.css")),
            "svg": Markup(data["svg"]) if data["svg"] else None,
        },
    )
