"""A demo-like store for the offline safety pack's tests (tests/test_publish.py,
tests/test_web_pack.py): hazards open and closed (a restricted field set on each, one with a hole,
one a MultiPolygon, one across an index block's edge, one just outside the pack's area), a
pending civilian report with a contact, and the reference layers settlements and roads."""

from __future__ import annotations

import json
import random
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BBOX = (37.55, 47.95, 37.95, 48.25)  # the pack's area (W, S, E, N)
SECRET = "SECRET-HANDOVER-7f3a"  # closed hazards' handed_over_to: analysts only
CONTACT = "+380 67 000 11 22 reporter-contact"
REPORT_PLACE = (48.1234, 37.7321)  # lat, lon of the pending civilian report


@dataclass
class PackWorld:
    location: str
    hazards: list[dict[str, Any]] = field(default_factory=list)  # GeoJSON features, with ids
    open_ids: set[str] = field(default_factory=set)
    outside_id: str = ""  # open, just east of BBOX (within the lookup margin)
    closed_ids: set[str] = field(default_factory=set)


def _box(lon: float, lat: float, w: float, h: float) -> list[list[float]]:
    return [[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]


def _wobbly(rng: random.Random, lon: float, lat: float) -> list[list[float]]:
    """A ring of 5..12 vertices around (lon, lat), 50..600 m across, at full double precision."""
    import math

    n = rng.randint(5, 12)
    r = rng.uniform(0.0005, 0.004)
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n + rng.uniform(-0.2, 0.2)
        k = r * rng.uniform(0.6, 1.0)
        pts.append([lon + k * math.cos(a) * 1.5, lat + k * math.sin(a)])
    return [*pts, pts[0]]


def build(store: Any, n: int = 60, seed: int = 15) -> PackWorld:
    """Fill ``store`` (initialised) and close it; the world's location reopens it."""
    from demine.services import civilian, pow
    from demine.services.imports import ImportOptions, import_file

    rng = random.Random(seed)
    feats: list[dict[str, Any]] = []

    def hazard(geom: dict[str, Any], status: str, name: str) -> None:
        feats.append(
            {
                "type": "Feature",
                "id": f"pack-{len(feats) + 1}",
                "properties": {
                    "name": name,
                    "reference": f"REF-{len(feats) + 1:03d}",
                    "hazard_type": rng.choice(["SHA", "CHA"]),
                    "status": status,
                    "notes": "public note",
                }
                | (
                    {
                        "closed_on": "2026-01-10",
                        "handed_over_to": SECRET,
                        "handed_over_on": "2026-01-12",
                    }
                    if status == "handed_over"
                    else {}
                ),
                "geometry": geom,
            }
        )

    w, s, e, nn = BBOX
    for i in range(n):
        lon, lat = rng.uniform(w + 0.01, e - 0.01), rng.uniform(s + 0.01, nn - 0.01)
        status = "handed_over" if i % 7 == 3 else "open"
        hazard({"type": "Polygon", "coordinates": [_wobbly(rng, lon, lat)]}, status, f"field {i}")
    # a polygon with a hole, a MultiPolygon, one across the index blocks' edge at 37.8°
    outer = _box(37.70, 48.00, 0.02, 0.012)
    hole = _box(37.705, 48.003, 0.008, 0.005)[::-1]
    hazard({"type": "Polygon", "coordinates": [outer, hole]}, "open", "orchard with a hole")
    hazard(
        {
            "type": "MultiPolygon",
            "coordinates": [
                [_box(37.60, 48.20, 0.005, 0.004)],
                [_box(37.62, 48.205, 0.004, 0.003)],
            ],
        },
        "open",
        "two plots",
    )
    hazard({"type": "Polygon", "coordinates": [_box(37.795, 48.10, 0.01, 0.006)]}, "open", "edge")
    # just outside the pack's area, to the east: within the lookup margin of its edge
    hazard(
        {"type": "Polygon", "coordinates": [_box(e + 0.004, 48.05, 0.004, 0.003)]}, "open", "out"
    )
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "hazards.geojson"
        f.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
        import_file(store, f, ImportOptions(kind="hazards", actor="test", reason="pack test"))
        layers = {
            "settlements": [
                {
                    "type": "Feature",
                    "id": f"s{i}",
                    "properties": {"name": f"Village {i}", "population": 100 * i},
                    "geometry": {
                        "type": "Point",
                        "coordinates": [rng.uniform(w, e), rng.uniform(s, nn)],
                    },
                }
                for i in range(8)
            ],
            "roads": [
                {
                    "type": "Feature",
                    "id": f"r{i}",
                    "properties": {"name": f"Road {i}"},
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[w, s + 0.05 * (i + 1)], [e, s + 0.05 * (i + 1) + 0.01]],
                    },
                }
                for i in range(3)
            ],
        }
        for name, fs in layers.items():
            p = Path(tmp) / f"{name}.geojson"
            p.write_text(json.dumps({"type": "FeatureCollection", "features": fs}))
            import_file(store, p, ImportOptions(kind=f"layer:{name}", actor="test", reason="ref"))
    ch = pow.challenge(store)
    seen = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    civilian.submit(
        store,
        {
            "challenge": ch["challenge"],
            "nonce": pow.solve(str(ch["challenge"]), int(ch["difficulty"])),  # type: ignore[call-overload]
            "lat": REPORT_PLACE[0],
            "lon": REPORT_PLACE[1],
            "accuracy_m": 10.0,
            "place_text": "by the well",
            "object_type": "shell",
            "seen_at": seen,
            "description": "a rusty shell by the well",
            "contact": CONTACT,
            "contact_consent": True,
        },
    )
    by_source = {r.source_id: r for r in store.list("hazards")}
    world = PackWorld(store.location)
    for ft in feats:
        rec = by_source[ft["id"]]
        world.hazards.append({**ft, "id": rec.id})
        if ft["properties"]["status"] == "open":
            world.open_ids.add(rec.id)
        else:
            world.closed_ids.add(rec.id)
        if ft["properties"]["name"] == "out":
            world.outside_id = rec.id
    store.close()
    return world
